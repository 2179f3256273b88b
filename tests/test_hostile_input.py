"""Hostile and malformed input never harms the warehouse.

Unit tests on load_source with planted files: header names, values and file
names built to inject SQL, in CSV, JSON lines and Parquet; declared
encodings; broken erasure-request files. The whole pipeline with rejected
files and held exports is tested in test_pipeline_e2e.py (no extra run).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest

from dagster_project.config import ColumnContract, ConfigError, SourceConfig, load_config
from dagster_project.governance.requests import process_erasure_requests
from dagster_project.ingest.holds import export_hold_reasons
from dagster_project.ingest.load import load_source
from dagster_project.run_summary import RunSummary
from dagster_project.warehouse import connect
from tests.conftest import make_workspace

INJECTION = 'note" varchar; commit; create table raw.pwned as select 42 as marker; begin transaction; --'
HOSTILE_NAMES = [INJECTION, "a;b", "x -- y", "it's", "naïve", "nul\x00byte", "9lives", ""]
HOSTILE_VALUES = ["'); drop table raw.people; --", '"quoted", and; more', "/* comment */ --", "Zoë 日本語", "a\x00b"]
CONTRACT = {"id": ColumnContract("id", "string", required=True), "name": ColumnContract("name")}


def people_source(fmt: str, encoding: str = "utf-8") -> SourceConfig:
    return SourceConfig(name="people", kind="identity", glob=f"people/*.{fmt}", format=fmt, contract=CONTRACT,
                        mapping={"source_record_id": "id"}, entity="records", encoding=encoding)


def write_file(folder: Path, name: str, fmt: str, columns: list[str], rows: list[list[str]]) -> Path:
    path = folder / "people" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([columns, *rows])
        path.write_text(text.getvalue(), encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    else:
        pl.DataFrame([list(col) for col in zip(*rows)], schema=columns, orient="col").write_parquet(path)
    return path


def tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()}


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as connection:
        yield connection


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_header_that_is_not_a_plain_name_rejects_the_file_and_never_reaches_sql(tmp_path, con, fmt):
    landing = tmp_path / "landing"
    write_file(landing, f"0_good.{fmt}", fmt, ["id", "name"], [["1", "Ann"]])
    for number, name in enumerate(HOSTILE_NAMES, start=1):
        if fmt == "parquet" and name == "":
            continue  # polars cannot write an empty column name
        write_file(landing, f"hostile_{number}.{fmt}", fmt, ["id", name], [[str(number), "x"]])
    report = load_source(con, people_source(fmt), landing, "run-1")
    assert tables(con) == {"raw.people", "raw.load_log", "raw.quarantine", "governance.erasure_tombstones"}
    assert [c for c, in con.execute("select column_name from information_schema.columns where table_name = 'people'").fetchall()
            if not c.startswith("_")] == ["id", "name"]
    assert con.execute("select id from raw.people").fetchall() == [("1",)]
    rejected = {f.file: f.error for f in report.files if f.status == "rejected"}
    assert len(rejected) == len(report.files) - 1
    logged = dict(con.execute("select file, error from raw.load_log where status = 'rejected'").fetchall())
    assert logged == rejected
    injected = rejected[f"people/hostile_1.{fmt}"]
    assert "is not a plain name" in injected and repr(INJECTION) in injected


def test_nested_json_keys_flatten_to_names_that_must_be_plain_too(tmp_path, con):
    landing = tmp_path / "landing"
    (landing / "people").mkdir(parents=True)
    (landing / "people" / "nested.jsonl").write_text('{"id": "1", "address": {"city; drop table raw.people": "Cork"}}\n')
    report = load_source(con, people_source("jsonl"), landing, "run-1")
    assert report.files[0].status == "rejected"
    assert "'address_city; drop table raw.people' is not a plain name" in report.files[0].error


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_hostile_values_and_file_names_are_stored_verbatim(tmp_path, con, fmt):
    landing = tmp_path / "landing"
    name = f"it's; drop table raw.load_log; -- naïve.{fmt}"
    write_file(landing, name, fmt, ["id", "name", "note"], [[str(n), value, value] for n, value in enumerate(HOSTILE_VALUES)])
    report = load_source(con, people_source(fmt), landing, "run-1")
    assert report.files[0].status == "loaded", report.files[0].error
    stored = con.execute("select name, note, _file from raw.people order by id::int").fetchall()
    printable = [value for value in HOSTILE_VALUES if "\x00" not in value]
    assert stored == [(value, value, f"people/{name}") for value in printable]
    # A NUL byte is no SQL, but an impossible value: quarantined with its reason (the field limits).
    assert con.execute("select row_number, reason from raw.quarantine").fetchall() == [(5, "contains a control character")]
    assert con.execute("select file, status, rows_loaded, rows_quarantined from raw.load_log").fetchall() == [
        (f"people/{name}", "loaded", 4, 1)]
    assert tables(con) == {"raw.people", "raw.load_log", "raw.quarantine", "governance.erasure_tombstones"}


def test_a_declared_encoding_is_read_and_an_undeclared_one_rejected_naming_line_and_byte(tmp_path):
    landing = tmp_path / "landing"
    (landing / "people").mkdir(parents=True)
    (landing / "people" / "cp1252.csv").write_bytes("id,name\n1,Ann\n2,José – Ñuñez\n".encode("cp1252"))
    with connect(tmp_path / "declared.duckdb") as con:
        assert load_source(con, people_source("csv", "cp1252"), landing).files[0].status == "loaded"
        assert con.execute("select name from raw.people where id = '2'").fetchall() == [("José – Ñuñez",)]
    with connect(tmp_path / "undeclared.duckdb") as con:
        error = load_source(con, people_source("csv"), landing).files[0].error
    assert error.startswith("not valid UTF-8: byte 0xe9 at offset 19 (line 3)")


def test_an_unknown_encoding_is_a_config_error_naming_the_key(tmp_path):
    def mutate(raw):
        raw["sources"][0]["encoding"] = "klingon"
    with pytest.raises(ConfigError, match=r"sources\.crm\.encoding: unknown encoding 'klingon'"):
        load_config(make_workspace(tmp_path, mutate))

    def declare(raw):
        raw["sources"][0]["encoding"] = "CP1252"
    assert load_config(make_workspace(tmp_path, declare)).sources[0].encoding == "cp1252"


def test_a_broken_erasure_request_file_is_recorded_retried_and_holds_the_exports(tmp_path):
    config = load_config(make_workspace(tmp_path))
    broken = config.landing / "privacy" / "erasure_requests_0001.csv"
    broken.parent.mkdir(parents=True)
    broken.write_bytes("request_id,email\nR-1,jos\xe9@example.com\n".encode("latin-1"))
    first = process_erasure_requests(config, "run-1")
    assert list(first.rejected_files) == [str(broken)]
    assert "not valid UTF-8" in first.rejected_files[str(broken)]
    again = process_erasure_requests(config, "run-2")  # still there: tried again, holds again
    assert (again.files_skipped, list(again.rejected_files)) == (0, [str(broken)])
    with connect(config.warehouse) as con:
        held = export_hold_reasons(con, config, "run-2")
        assert export_hold_reasons(con, config, "run-3") == []
    assert held == [f"erasure request file {broken} could not be read: {again.rejected_files[str(broken)]}"]


def test_exit_status_a_failed_step_over_held_exports_over_rejected_files():
    assert RunSummary("r").exit_status == 0
    assert RunSummary("r", rejected_files=["a.csv: file is empty"]).exit_status == 3
    assert RunSummary("r", rejected_files=["x"], exports_held=["consent file x was rejected"]).exit_status == 4
    assert RunSummary("r", rejected_files=["x"], exports_held=["y"], failures=["dbt_marts: boom"]).exit_status == 1
