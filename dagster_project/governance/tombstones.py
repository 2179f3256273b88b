"""Tombstones: hashed identifiers of erased people, so they never come back.

An erasure writes the SHA-256 of each erased identifier (email, phone,
loyalty id, device id) and of each erased record ("source:id") to
governance.erasure_tombstones. Ingestion drops incoming rows that match a
tombstone (counted as erased in raw.load_log), so re-loading the same or a
changed landing file cannot bring an erased person back. The keys are
computed from each source's own mapping expressions, so they work for any
configured source.
"""

from __future__ import annotations

import duckdb

from dagster_project.config import SourceConfig

TOMBSTONE_DDL = """
create schema if not exists governance;
create table if not exists governance.erasure_tombstones (
    kind varchar not null,            -- email | phone | loyalty_id | device_id | record
    value_sha256 varchar not null,
    request_id varchar not null,
    created_at timestamp not null
);
"""

# How an identifier is normalised before hashing, as DuckDB SQL over a value.
KEY_SQL = {
    "email": "sha256(lower(trim({value})))",
    "phone": "sha256(right(regexp_replace({value}, '[^0-9]', '', 'g'), 9))",
    "loyalty_id": "sha256(upper(regexp_replace({value}, '[^A-Za-z0-9]', '', 'g')))",
    "device_id": "sha256(lower(trim({value})))",
}


def ensure_tombstones(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(TOMBSTONE_DDL)


def key_sql(kind: str, value_sql: str) -> str:
    return KEY_SQL[kind].format(value=f"cast({value_sql} as varchar)")


def record_key_sql(source: SourceConfig) -> str:
    """The hashed "source:id" of the identity record a row belongs to."""
    owner = source.identity_source or source.name
    return f"sha256('{owner}:' || cast({source.mapping['source_record_id']} as varchar))"


def erased_condition(source: SourceConfig, tolerant: bool = False) -> str:
    """SQL boolean over a row of `source` (raw column names): does it match a tombstone?

    `tolerant` wraps expressions in try(), for rows whose columns are still
    text (quarantined rows) where a typed mapping expression could fail.
    """
    def guard(sql: str) -> str:
        return f"try({sql})" if tolerant else sql

    def matches(kind: str, hashed: str) -> str:
        return f"{guard(hashed)} in (select value_sha256 from governance.erasure_tombstones where kind = '{kind}')"

    conditions = [matches("record", record_key_sql(source))]
    for kind in KEY_SQL:
        if kind in source.mapping:
            conditions.append(matches(kind, key_sql(kind, source.mapping[kind])))
    return "(" + " or ".join(f"coalesce({c}, false)" for c in conditions) + ")"


def erased_row_numbers(con: duckdb.DuckDBPyConnection, source: SourceConfig, relation: str) -> set[int]:
    """Row numbers (_row_number) of `relation` that belong to erased people."""
    ensure_tombstones(con)
    if not con.execute("select count(*) from governance.erasure_tombstones").fetchall()[0][0]:
        return set()
    rows = con.execute(f"select _row_number from {relation} where {erased_condition(source)}").fetchall()
    return {row[0] for row in rows}
