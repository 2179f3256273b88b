"""Tombstones: one normalisation (staging's dbt macros), keyed hashes, matched
before the contract. Unit tests without a pipeline run; the end-to-end case
(variants landed after `cdp erase`, traced to the marts) is in test_erasure.py."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import duckdb
import pytest

from dagster_project import identifiers
from dagster_project.config import ColumnContract, SourceConfig
from dagster_project.ingest.tombstones import (
    TombstoneKeyError, TombstoneKeys, ensure_tombstones, erased_row_numbers, tombstone_secret, use_tombstone_key,
)
from dagster_project.ingest.load import load_source
from dagster_project.warehouse import connect

KEYS = TombstoneKeys(b"test secret", "44")


def normalise(sql: str, *values) -> str | None:
    columns = ", ".join(f"?::varchar as v{n}" for n in range(len(values)))
    return duckdb.connect().execute(f"select {sql} from (select {columns})", list(values)).fetchall()[0][0]


@pytest.mark.parametrize("given, expected", [
    ("Ann.Smith@Example.COM", "ann.smith@example.com"),
    ("  ann.smith@example.com ", "ann.smith@example.com"),
    ("ann.smith @example.com", "ann.smith@example.com"),   # inner space: the case the old ingest rule missed
    ("ANN .SMITH@ EXAMPLE.COM", "ann.smith@example.com"),
    ("annsmith@example.com", "annsmith@example.com"),     # dots are kept: not folded anywhere
    ("ann.smith(at)example.com", None),
])
def test_emails_normalise_as_staging_does(given, expected):
    assert normalise(identifiers.email_sql("v0"), given) == expected


@pytest.mark.parametrize("given, country, expected", [
    ("+44 7700 900123", None, "+447700900123"),
    ("0044 7700-900123", None, "+447700900123"),
    ("07700 900123", "GB", "+447700900123"),
    ("07700 900123", None, "+447700900123"),             # the configured default code
    ("(0)7700.900.123", "United Kingdom", "+447700900123"),
    ("447700900123", None, "+447700900123"),
    ("07700 900123", "Ireland", "+3537700900123"),       # a national number takes its country's code
    ("+33 700 900 123", "FR", "+33700900123"),           # same last 9 digits as above, another number
    ("700900123", None, None),                           # no country code and too short to be international
])
def test_phones_normalise_to_e164_as_staging_does(given, country, expected):
    assert normalise(identifiers.phone_sql("v0", "v1", "44"), given, country) == expected


def test_the_key_file_is_created_once_owner_only_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_TOMBSTONE_KEY", raising=False)
    monkeypatch.delenv("CDP_TOMBSTONE_KEY_FILE", raising=False)
    secret = tombstone_secret(tmp_path / ".cdp")
    assert len(secret) == 64 and tombstone_secret(tmp_path / ".cdp") == secret
    assert stat.S_IMODE(os.stat(tmp_path / ".cdp" / "tombstone.key").st_mode) == 0o600
    monkeypatch.setenv("CDP_TOMBSTONE_KEY", "from the environment")
    assert tombstone_secret(tmp_path / ".cdp") == b"from the environment"


def crm_source() -> SourceConfig:
    contract = {name: ColumnContract(name) for name in ("email", "phone", "country", "name")}
    contract["id"] = ColumnContract("id", "string", required=True)
    contract["seen"] = ColumnContract("seen", "date", formats=("%Y-%m-%d",), required=True)
    return SourceConfig(name="crm", kind="identity", glob="crm/*.csv", format="csv", contract=contract, entity="contacts",
                        mapping={"source_record_id": "id", "email": "email", "phone": "phone", "country": "country"})


def tombstone(con, kind: str, normalised: str, keys: TombstoneKeys = KEYS) -> None:
    use_tombstone_key(con, keys)
    con.execute("insert into governance.erasure_tombstones (kind, value_hmac, request_id, created_at) values (?, ?, 'r', now())",
                [kind, hmac.new(keys.secret, normalised.encode(), hashlib.sha256).hexdigest()])


VARIANTS = (
    "id,name,email,phone,country,seen\n"
    "1,Erased,Ann.Smith @Example.com,,GB,2024-01-01\n"     # inner space
    "2,Erased,ANN.SMITH@EXAMPLE.COM,,GB,not a date\n"      # the contract would quarantine this row
    "3,Erased,,+44 7700 900123,GB,2024-01-01\n"
    "4,Erased,,0044 7700-900123,,2024-01-01\n"
    "5,Erased,,(0)7700.900.123,United Kingdom,not a date\n"
    "6,Other,other@example.com,+33 700 900 123,FR,2024-01-01\n"   # same last 9 digits, another person
    "7,Other,annsmith@example.com,07700 900124,GB,not a date\n"   # close, but not the same address or number
)


def test_rows_of_an_erased_person_are_dropped_before_the_contract_and_nobody_else_is(tmp_path):
    (tmp_path / "landing" / "crm").mkdir(parents=True)
    (tmp_path / "landing" / "crm" / "contacts_1.csv").write_text(VARIANTS)
    with connect(tmp_path / "w.duckdb") as con:
        ensure_tombstones(con)
        tombstone(con, "email", "ann.smith@example.com")
        tombstone(con, "phone", "+447700900123")
        report = load_source(con, crm_source(), tmp_path / "landing", "run-1", KEYS)
        loaded = con.execute("select id from raw.crm order by id").fetchall()
        quarantined = con.execute("select distinct row_number from raw.quarantine").fetchall()
        text = con.sql("select * from raw.quarantine").pl().write_csv()
    file = report.files[0]
    assert (file.rows_read, file.rows_loaded, file.rows_quarantined, file.rows_erased) == (7, 1, 1, 5)
    assert loaded == [("6",)] and quarantined == [(7,)]
    assert "Erased" not in text


def test_a_different_key_is_refused_once_tombstones_exist(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        ensure_tombstones(con)
        tombstone(con, "email", "ann.smith@example.com")
        with pytest.raises(TombstoneKeyError):
            use_tombstone_key(con, TombstoneKeys(b"another secret", "44"))


def test_plain_hash_tombstones_of_an_older_warehouse_still_match(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("create schema governance")
        con.execute("""create table governance.erasure_tombstones (kind varchar not null, value_sha256 varchar not null,
                       request_id varchar not null, created_at timestamp not null)""")
        con.execute("insert into governance.erasure_tombstones values ('email', sha256('ann.smith@example.com'), 'old', now())")
        ensure_tombstones(con)
        con.execute("create table incoming as select * from (values (1, ' ANN.SMITH@example.com'), (2, 'bob@example.com')) t(_row_number, email)")
        con.execute("alter table incoming add column id varchar default 'x'")
        con.execute("alter table incoming add column phone varchar")
        con.execute("alter table incoming add column country varchar")
        assert erased_row_numbers(con, crm_source(), "incoming", KEYS) == {1}
