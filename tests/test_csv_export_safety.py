"""CSV exports are safe to open in a spreadsheet (OWASP CSV injection).

The end-to-end check, a CRM first name planted as a formula, is in
test_pipeline_e2e.py (it reuses that workspace's runs)."""

from __future__ import annotations

import csv
import json

import duckdb
import polars as pl
import pytest

from dagster_project.export import writer

HYPERLINK = '=HYPERLINK("http://evil.example/","click")'


def guard_one(con, value: str | None) -> str | None:
    """The CSV cell the export writer writes for one text value."""
    con.execute("create or replace temp table cells as select ?::varchar as cell", [value])
    csv_query, _ = writer.csv_safe_query(con, "select cell from cells")
    return con.execute(csv_query).fetchall()[0][0]


@pytest.mark.parametrize("value, expected", [
    (HYPERLINK, "'" + HYPERLINK),
    ("+SUM(1,2)", "'+SUM(1,2)"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+44 7700 900123", "'+44 7700 900123"),  # not a plain number: a spreadsheet would evaluate it
    ("-1-1", "'-1-1"),
    ("+447700900123", "+447700900123"),  # E.164 phone: only ever read as a number, kept for the import
    ("-12.50", "-12.50"),
    ("'=already guarded", "'=already guarded"),  # a rewrite of a guarded file adds nothing
    ("Mary-Jane", "Mary-Jane"),
    ("a=b", "a=b"),
    ("", ""),
    (None, None),
])
def test_cell_rule(value, expected):
    assert guard_one(duckdb.connect(), value) == expected


def test_csv_export_quotes_formula_text_keeps_numbers_and_parquet_unchanged(tmp_path):
    con = duckdb.connect()
    con.execute("""create table people as select * from (values
        ('P1', '=HYPERLINK("http://evil.example/","click")', '+447700900123', -12.50::decimal(10, 2)),
        ('P2', 'Ann', '@home', 3.00::decimal(10, 2)),
        ('P3', 'Bob', null, null)) as t(person_id, first_name, phone, amount)""")
    result = writer.export_audience(
        con, query="select * from people", folder=tmp_path, destination="d", audience="a", purpose="p",
        channel="email", formats=("parquet", "csv"), run_id="r1", gate={},
    )
    with open(tmp_path / "a.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["first_name"], r["phone"], r["amount"]) for r in rows] == [
        ("'" + HYPERLINK, "+447700900123", "-12.50"), ("Ann", "'@home", "3.00"), ("Bob", "", ""),
    ]
    parquet = pl.read_parquet(tmp_path / "a.parquet")
    assert parquet["first_name"].to_list() == [HYPERLINK, "Ann", "Bob"]
    assert parquet["phone"].to_list() == ["+447700900123", "@home", None]
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["csv_formula_guard"]["cells_prefixed"] == 2
    assert "Parquet values are unchanged" in manifest["csv_formula_guard"]["rule"]
    # The delta is computed from the Parquet file: the same person ids, unquoted.
    assert pl.read_parquet(tmp_path / "a.delta.parquet")["person_id"].sort().to_list() == ["P1", "P2", "P3"]


def test_parquet_only_export_has_no_csv_note(tmp_path):
    con = duckdb.connect()
    result = writer.export_audience(
        con, query="select 'P1' as person_id, '=1+1' as first_name", folder=tmp_path, destination="d", audience="a",
        purpose="p", channel="email", formats=("parquet",), run_id="r1", gate={},
    )
    assert "csv_formula_guard" not in json.loads(result.manifest_path.read_text())
    assert pl.read_parquet(tmp_path / "a.parquet")["first_name"].to_list() == ["=1+1"]
