"""Hostile values: exact money (DECIMAL end to end) and per-field limits that
send impossible values to raw.quarantine with a reason."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import yaml

from dagster_project.config import DEFAULT_CONFIG, SourceSpec
from dagster_project.ingest.contract import check_contract
from dagster_project.ingest.load import load_source
from dagster_project.ingest.readers import ROW_NUMBER
from dagster_project.warehouse import connect

SOURCES = {s["name"]: s for s in yaml.safe_load(DEFAULT_CONFIG.read_text())["sources"]}


def parse_source(raw: dict):
    return SourceSpec.model_validate(raw).build()


def source(name: str, **options):
    return parse_source({**SOURCES[name], **options})


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}).with_row_index(ROW_NUMBER, offset=1).with_columns(
        pl.col(ROW_NUMBER).cast(pl.Int64)
    )


def crm_row(**values) -> dict:
    row = {"contact_id": "C1", "first_name": "Ann", "birth_date": "1980-04-01", "updated_at": "2024-01-01 10:00:00"}
    return {**row, **values}


def pos_row(**values) -> dict:
    row = {"receipt_id": "R1", "line_no": "1", "store_id": "S1", "purchased_at": "01.02.2024 10:00", "sku": "P1", "qty": "1", "price": "28.99"}
    return {**row, **values}


def entries(result) -> list[tuple]:
    return sorted(result.violations.select(ROW_NUMBER, "column_name", "reason", "action").iter_rows())


def test_a_huge_or_binary_first_name_is_nulled_and_logged_the_row_still_loads():
    rows = [crm_row(contact_id="C1", first_name="x" * (1 << 20)), crm_row(contact_id="C2", first_name="An\x00n"),
            crm_row(contact_id="C3", first_name="Tab\tis fine")]
    result = check_contract(frame(rows), source("crm").contract, Path("crm.csv"))
    assert entries(result) == [
        (1, "first_name", "longer than 200 characters", "field"),
        (2, "first_name", "contains a control character", "field"),
    ]
    assert result.valid.get_column("first_name").to_list() == [None, None, "Tab\tis fine"]
    assert result.invalid_rows.height == 0 and result.flagged_rows.height == 2


def test_dates_of_birth_in_the_future_or_year_one_are_quarantined_not_silently_nulled():
    rows = [crm_row(birth_date="2090-05-01"), crm_row(birth_date="01/01/0001"), crm_row(birth_date="1899-12-31"),
            crm_row(birth_date="1900-01-01")]
    result = check_contract(frame(rows), source("crm").contract, Path("crm.csv"))
    reasons = {row: reason for row, _, reason, _ in entries(result)}
    assert re.fullmatch(r"above maximum today \(\d{4}-\d\d-\d\d\)", reasons[1])
    assert reasons[2] == reasons[3] == "below minimum 1900-01-01"
    assert 4 not in reasons
    assert result.valid.get_column("birth_date").to_list() == [None, None, None, dt.date(1900, 1, 1)]


def test_event_time_in_the_far_future_quarantines_the_row():
    rows = [crm_row(updated_at="2999-01-01 00:00:00"), crm_row(contact_id="C2")]
    result = check_contract(frame(rows), source("crm").contract, Path("crm.csv"))
    assert [(r, c, a) for r, c, _, a in entries(result)] == [(1, "updated_at", "row")]
    assert result.valid.get_column("contact_id").to_list() == ["C2"]


def test_negative_price_quarantines_the_line_and_prices_are_exact():
    rows = [pos_row(price="-999.99"), pos_row(line_no="2", price="28.99"), pos_row(line_no="3", price="1.005"),
            pos_row(line_no="4", qty="-2")]
    result = check_contract(frame(rows), source("pos").contract, Path("pos.csv"))
    assert entries(result) == [
        (1, "price", "below minimum 0", "row"),
        (3, "price", "more than 2 decimal places", "row"),
        (4, "qty", "below minimum 0", "row"),
    ]
    assert result.valid.schema["price"] == pl.Decimal(18, 2)
    assert result.valid.get_column("price").to_list() == [Decimal("28.99")]


def test_a_source_that_maps_refunds_accepts_negative_lines():
    rows = [pos_row(price="-999.99"), pos_row(line_no="2", qty="-1")]
    result = check_contract(frame(rows), source("pos", allow_refunds=True).contract, Path("pos.csv"))
    assert result.violations.is_empty()
    assert result.valid.get_column("price").to_list() == [Decimal("-999.99"), Decimal("28.99")]


def test_limits_are_overridable_per_column():
    raw = json.loads(json.dumps(SOURCES["crm"], default=str))
    raw["contract"]["first_name"] = {"type": "string", "max_length": 5}
    raw["contract"]["birth_date"]["min"] = "1950-01-01"
    rows = [crm_row(first_name="Annabel", birth_date="1940-01-01")]
    result = check_contract(frame(rows), parse_source(raw).contract, Path("crm.csv"))
    assert entries(result) == [
        (1, "birth_date", "below minimum 1950-01-01", "field"),
        (1, "first_name", "longer than 5 characters", "field"),
    ]


def test_nulled_fields_are_logged_but_the_row_counts_as_loaded(tmp_path):
    landing = tmp_path / "landing"
    (landing / "crm").mkdir(parents=True)
    header = "contact_id,first_name,birth_date,updated_at\n"
    (landing / "crm" / "contacts_1.csv").write_text(
        header + "C1,Ann\x00,2090-01-01,2024-01-01 10:00:00\nC2,Bob,1980-01-01,2999-01-01 10:00:00\nC3,Cy,,2024-01-01 10:00:00\n"
    )
    with connect(tmp_path / "w.duckdb") as con:
        report = load_source(con, source("crm"), landing, "run-1")
        assert (report.total("rows_read"), report.total("rows_loaded"), report.total("rows_quarantined")) == (3, 2, 1)
        assert con.execute("select contact_id, first_name, birth_date from raw.crm order by 1").fetchall() == [
            ("C1", None, None), ("C3", "Cy", None),
        ]
        logged = con.execute("select row_number, column_name, action, raw_record from raw.quarantine order by 1, 2").fetchall()
        assert [row[:3] for row in logged] == [(1, "birth_date", "field"), (1, "first_name", "field"), (2, "updated_at", "row")]
        assert json.loads(logged[0][3])["first_name"] == "Ann\x00"  # the original value is kept


MONEY_NAME = re.compile(r"price|amount|revenue|value|spend|monetary|aov")
# a quintile; offending text; an email or phone; a partner's band label ("500-1000")
NOT_MONEY = {"monetary_score", "value", "identifier_value", "partner_spend_band"}


def test_every_money_column_from_raw_to_marts_is_decimal(multi_day):
    config = multi_day["config"]
    with connect(config.warehouse) as con:
        columns = con.execute(
            """select table_schema || '.' || table_name || '.' || column_name, data_type
               from information_schema.columns
               where table_schema in ('raw', 'staging', 'marts')"""
        ).fetchall()
        money = {name: kind for name, kind in columns if MONEY_NAME.search(name.rsplit(".", 1)[1])
                 and name.rsplit(".", 1)[1] not in NOT_MONEY}
        assert {"raw.pos.price", "marts.fct_orders.amount_reporting", "marts.customer_traits.lifetime_value",
                "marts.customer_traits.average_order_value", "marts.demand_signals.revenue"} <= set(money)
        assert {name: kind for name, kind in money.items() if not kind.startswith("DECIMAL")} == {}
