"""A source's minimum age, declared in cdp.yml or read from its records and their links (identity.source_ages)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from dagster_project.identity.source_ages import AgeVerdict, minimum_age, source_min_ages


def test_adults_with_a_few_links_to_children_are_adults():
    # Links to another member of the family scatter over every young age.
    by_age = {18: 2600, 3: 6, 7: 9, 11: 8, 14: 6, 16: 5, 17: 4}
    assert minimum_age(by_age)[0] == 18


def test_a_source_of_people_from_16_is_16_not_18():
    # A survey of people aged 16 and over: its 16 and 17-year-olds sit just below 18.
    assert minimum_age({18: 1000, 16: 14, 17: 13, 9: 1})[0] == 16


def test_people_of_every_age_have_no_minimum():
    by_age = {18: 700, **{years: 15 for years in range(18)}}
    age, reason = minimum_age(by_age)
    assert age is None and reason.endswith("any age") and "240 of 970" in reason


def test_too_few_aged_records_tell_nothing():
    age, reason = minimum_age({18: 99})
    assert age is None and "too few" in reason


def _records(con: duckdb.DuckDBPyConnection) -> None:
    """Census returns of parents (born 1970) and children (born 2012); tax forms without a date of birth,
    each linked to a parent and one in twenty to a child as well (a wrong link); survey answers with
    their own dates of birth, people of 16 and over; a tax form without a surname (named records only count)."""
    rows = []
    for i in range(150):
        rows += [(f"census:p{i}", "census", "smith", date(1970, 5, 1)), (f"census:c{i}", "census", "smith", date(2012, 5, 1)),
                 (f"tax:{i}", "tax", "smith", None),
                 (f"survey:{i}", "survey", "smith", date(2005, 1, 1) if i < 20 else date(1980, 1, 1))]
    rows.append(("tax:nameless", "tax", None, None))
    frame = pl.DataFrame(rows, schema=["record_key", "source", "last_name_norm", "date_of_birth"], orient="row")
    frame = frame.with_columns(updated_at=pl.lit(datetime(2022, 4, 5)))
    con.register("frame", frame.to_arrow())
    con.execute("create table records as select * from frame")


def test_ages_are_read_from_own_dates_of_birth_and_from_linked_ones():
    con = duckdb.connect()
    _records(con)
    links = pl.DataFrame({
        "record_key": [f"census:p{i}" for i in range(150)] + [f"tax:{i}" for i in range(0, 150, 20)] + ["tax:nameless"],
        "linked_record_key": [f"tax:{i}" for i in range(150)] + [f"census:c{i}" for i in range(0, 150, 20)] + ["census:c1"],
    })
    verdicts = {v.source: v for v in source_min_ages(con, "records", links, {"census": None, "tax": None, "survey": None})}
    # A tax form linked to a parent and a child reads as the median of the two: 30 years old.
    assert verdicts["tax"] == AgeVerdict("tax", 18, "read from the records: 0 of 150 aged records younger than 18")
    assert verdicts["survey"].min_age == 16  # 20 of 150 are 17: just below 18
    assert verdicts["census"].min_age is None  # half of them are 9
    # The links of the children alone make the tax forms' ages young: no minimum.
    child_links = links.with_columns(pl.col("record_key").str.replace("census:p", "census:c"))
    assert source_min_ages(con, "records", child_links, {"tax": None})[0].min_age is None


def test_a_declared_age_is_kept_and_zero_is_any_age():
    con = duckdb.connect()
    _records(con)
    links = pl.DataFrame({"record_key": ["census:c1"], "linked_record_key": ["tax:1"]})
    verdicts = source_min_ages(con, "records", links, {"tax": 21, "census": 0, "survey": None})
    assert verdicts == [
        AgeVerdict("census", None, "declared min_age: 0 in cdp.yml"),
        AgeVerdict("survey", 16, "read from the records: 0 of 150 aged records younger than 16"),
        AgeVerdict("tax", 21, "declared min_age: 21 in cdp.yml"),
    ]
