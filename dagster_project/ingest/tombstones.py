"""Tombstones: keyed hashes of erased people's identifiers, so they never come back.

An erasure writes, per erased identifier (email, phone, loyalty id, device
id) and per erased record ("source:id"), HMAC-SHA256(secret, normalised
value) to governance.erasure_tombstones. Ingestion drops incoming rows that
match a tombstone before the contract runs (counted as erased in
raw.load_log), so neither raw tables nor raw.quarantine receive an erased
person again. Values are normalised by the same dbt macros as staging
(dagster_project/identifiers.py), so any spelling staging would fold into
the erased value is caught, and nothing else is.

The hash is keyed so the list cannot be reversed by hashing guessed
addresses (ad exports keep plain SHA-256, which platforms require). The
secret comes from CDP_TOMBSTONE_KEY, else the file named by
CDP_TOMBSTONE_KEY_FILE, else `<workspace>/.cdp/tombstone.key`, created on
first use (owner-only). A fingerprint of the key is kept with the
tombstones: a different key is refused rather than silently letting erased
people back.

Warehouses from before keyed tombstones hold plain SHA-256 values
(column value_sha256): they cannot be re-keyed without the values, so they
keep matching by their old rule until deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project import identifiers
from dagster_project.config import SourceConfig

KINDS = ("email", "phone", "loyalty_id", "device_id")
KEY_FUNCTION = "cdp_tombstone_key"  # the HMAC, registered on the connection as a DuckDB function
KEY_CHECK = b"cdp tombstone key check"

TOMBSTONE_DDL = """
create schema if not exists governance;
create table if not exists governance.erasure_tombstones (
    kind varchar not null,            -- email | phone | loyalty_id | device_id | record
    value_hmac varchar,               -- HMAC-SHA256(secret, normalised value)
    request_id varchar not null,
    created_at timestamp not null
);
"""
KEY_FINGERPRINT_DDL = "create table if not exists governance.tombstone_key (fingerprint varchar not null)"


class TombstoneKeyError(RuntimeError):
    pass


@dataclass(frozen=True)
class TombstoneKeys:
    """What matching needs beyond the warehouse: the secret and the default calling code."""

    secret: bytes
    default_calling_code: str


def tombstone_keys(config) -> TombstoneKeys:
    return TombstoneKeys(tombstone_secret(config.state_dir), config.default_phone_country_code)


def tombstone_secret(state_dir: Path) -> bytes:
    if os.environ.get("CDP_TOMBSTONE_KEY"):
        return os.environ["CDP_TOMBSTONE_KEY"].encode()
    path = Path(os.environ.get("CDP_TOMBSTONE_KEY_FILE") or Path(state_dir) / "tombstone.key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        except FileExistsError:  # another process created it first
            pass
    return path.read_text().strip().encode()


def ensure_tombstones(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(TOMBSTONE_DDL)
    if _has_legacy_column(con):  # plain-hash table of an older version: new rows carry value_hmac only
        con.execute("alter table governance.erasure_tombstones add column if not exists value_hmac varchar")
        con.execute("alter table governance.erasure_tombstones alter column value_sha256 drop not null")


def use_tombstone_key(con: duckdb.DuckDBPyConnection, keys: TombstoneKeys) -> None:
    """Register the keyed hash on `con`, after checking the key is the one the tombstones were written with."""
    ensure_tombstones(con)
    con.execute(KEY_FINGERPRINT_DDL)
    fingerprint = hmac.new(keys.secret, KEY_CHECK, hashlib.sha256).hexdigest()
    stored = [r[0] for r in con.execute("select fingerprint from governance.tombstone_key").fetchall()]
    if stored and stored != [fingerprint]:
        if _count(con, "value_hmac is not null"):
            raise TombstoneKeyError(
                "the tombstone key differs from the one the tombstones were written with: restore it "
                "(.cdp/tombstone.key, CDP_TOMBSTONE_KEY or CDP_TOMBSTONE_KEY_FILE), or erased people would come back")
        con.execute("delete from governance.tombstone_key")
        stored = []
    if not stored:
        con.execute("insert into governance.tombstone_key values (?)", [fingerprint])

    def keyed(value: str) -> str:
        return hmac.new(keys.secret, value.encode(), hashlib.sha256).hexdigest()

    try:
        con.remove_function(KEY_FUNCTION)
    except duckdb.Error:
        pass  # not registered on this connection yet
    con.create_function(KEY_FUNCTION, keyed, ["VARCHAR"], "VARCHAR")


def normalised_sql(kind: str, value_sql: str, country_sql: str, default_calling_code: str) -> str:
    """The value as staging normalises it (dbt macros), as DuckDB SQL."""
    if kind == "email":
        return identifiers.email_sql(value_sql)
    if kind == "phone":
        return identifiers.phone_sql(value_sql, country_sql, default_calling_code)
    if kind == "loyalty_id":
        return identifiers.code_sql(value_sql)
    if kind == "device_id":
        return identifiers.device_id_sql(value_sql)
    raise KeyError(kind)


def key_sql(normalised: str) -> str:
    return f"{KEY_FUNCTION}({normalised})"


def record_value_sql(source: SourceConfig) -> str:
    """The "source:id" of the identity record a row belongs to."""
    owner = source.identity_source or source.name
    return f"'{owner}:' || cast({source.mapping['source_record_id']} as varchar)"


def _legacy_sql(kind: str, normalised: str) -> str:
    """Plain SHA-256 as older versions wrote it (phones by their last 9 digits)."""
    if kind == "phone":
        return f"sha256(right(regexp_replace({normalised}, '[^0-9]', '', 'g'), 9))"
    return f"sha256({normalised})"


def erased_condition(con: duckdb.DuckDBPyConnection, source: SourceConfig, keys: TombstoneKeys, tolerant: bool = False) -> str:
    """SQL boolean over a row of `source` (raw column names): does it match a tombstone?

    `tolerant` wraps expressions in try(), for rows whose columns are still
    text (quarantined rows) where a typed mapping expression could fail.
    """
    legacy = _has_legacy_column(con) and _count(con, "value_hmac is null") > 0

    def guard(sql: str) -> str:
        return f"try({sql})" if tolerant else sql

    def matches(kind: str, normalised: str) -> str:
        keyed = f"{guard(key_sql(normalised))} in (select value_hmac from governance.erasure_tombstones where kind = '{kind}')"
        if legacy:
            keyed += (f" or {guard(_legacy_sql(kind, normalised))} in "
                      f"(select value_sha256 from governance.erasure_tombstones where kind = '{kind}' and value_hmac is null)")
        return keyed

    country = source.mapping.get("country", "null")
    conditions = [matches("record", record_value_sql(source))]
    for kind in KINDS:
        if kind in source.mapping:
            conditions.append(matches(kind, normalised_sql(kind, source.mapping[kind], country, keys.default_calling_code)))
    return "(" + " or ".join(f"coalesce({c}, false)" for c in conditions) + ")"


def erased_row_numbers(
    con: duckdb.DuckDBPyConnection, source: SourceConfig, relation: str, keys: TombstoneKeys | None,
    tolerant: bool = False,
) -> set[int]:
    """Row numbers (_row_number) of `relation` that belong to erased people."""
    ensure_tombstones(con)
    if not _count(con, "true"):
        return set()
    if keys is None:
        raise TombstoneKeyError("tombstones exist: loading needs the tombstone key (tombstone_keys(config))")
    use_tombstone_key(con, keys)
    rows = con.execute(f"select _row_number from {relation} where {erased_condition(con, source, keys, tolerant)}").fetchall()
    return {row[0] for row in rows}


def _count(con: duckdb.DuckDBPyConnection, where: str) -> int:
    return con.execute(f"select count(*) from governance.erasure_tombstones where {where}").fetchall()[0][0]


def _has_legacy_column(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.columns where table_schema = 'governance' "
        "and table_name = 'erasure_tombstones' and column_name = 'value_sha256'").fetchall()[0][0])
