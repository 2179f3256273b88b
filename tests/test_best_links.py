"""The best-link pass: under the threshold, records of two duplicate-free sources join when each is the
other's clearly best candidate in the other's source, and nothing conflicts."""

from __future__ import annotations

from datetime import date

import polars as pl

from dagster_project.identity.best_links import BEST_LINK_RULE, _names_agree, best_link_pass
from tests.test_household_pass import EDGE_SCHEMA, records_connection

MARGIN = 5.0
ROWS = [
    ("census:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
    ("tax:1", date(1974, 9, 16), "kamil", "dabrowsky", "7 mill lane", "LS11AA"),
    ("census:2", date(1961, 3, 2), "anna", "kowalska", "3 high street", "AB12CD"),
    ("tax:2", None, "anna", "kowalska", "3 high street", "AB12CD"),
    ("crm:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
]
DUPLICATE_FREE = {"census:1": "census", "census:2": "census", "tax:1": "tax", "tax:2": "tax"}


def _run(candidates: list[tuple], *, household_safe: bool = True, clusters: dict[str, int] | None = None,
         cannot_link=(), rows=ROWS, comparisons: dict | None = None):
    """candidates: (key, linked key, match weight[, names agree]) scored under the threshold (the names
    agree unless said otherwise). Every record starts as its own
    person unless `clusters` says otherwise. Returns each record's person, the edges added, persons joined,
    the conflicting pairs joined all the same, the best links' comparison columns."""
    con, records = records_connection(rows)
    keys = records["record_key"].to_list()
    clusters = clusters or {key: n for n, key in enumerate(keys)}
    start = pl.DataFrame({"record_key": keys, "cluster": [clusters[k] for k in keys]}, schema={"record_key": pl.String, "cluster": pl.Int64})
    candidates = [(*pair, True) if len(pair) == 3 else pair for pair in candidates]
    scored = pl.DataFrame([(a, b, 2 ** w / (1 + 2 ** w), float(w), agree) for a, b, w, agree in candidates],
                          schema=["record_key", "linked_record_key", "match_probability", "match_weight", "names_agree"],
                          orient="row").with_columns(**{name: pl.lit(value) for name, value in (comparisons or {}).items()})
    one_per_person = pl.DataFrame(list(DUPLICATE_FREE.items()), schema=["record_key", "source"], orient="row")
    full = records.filter(pl.col("date_of_birth").is_not_null() & (pl.col("first_name_norm").str.len_chars() > 1))["record_key"]
    decisions = pl.DataFrame(list(cannot_link), schema={"record_key": pl.String, "linked_record_key": pl.String}, orient="row")
    edges, result, joined, accepted, scores = best_link_pass(
        con, "records", scored, pl.DataFrame(schema={**EDGE_SCHEMA, "match_probability": pl.Float64}), start, one_per_person,
        full_records=full, margin=MARGIN, household_safe=household_safe, cannot_link=decisions)
    return dict(result.iter_rows()), edges, joined, accepted, scores


def test_the_clearly_best_candidate_in_the_other_source_joins_under_the_threshold():
    person, edges, joined, _, _ = _run([("census:1", "tax:1", 1.5), ("census:2", "tax:1", -4.0)])
    assert joined == 1 and person["census:1"] == person["tax:1"] and person["census:2"] != person["tax:1"]
    assert edges.select("record_key", "linked_record_key", "rule", "match_weight").rows() == [("census:1", "tax:1", BEST_LINK_RULE, 1.5)]


def test_a_tie_stays_apart():
    # tax:1's two census candidates are within the margin of each other: neither is clearly best.
    person, edges, joined, _, _ = _run([("census:1", "tax:1", 1.5), ("census:2", "tax:1", 1.5 - MARGIN + 1)])
    assert joined == 0 and edges.is_empty() and len(set(person.values())) == len(person)


def test_a_person_that_holds_a_record_of_the_other_source_takes_no_second_one():
    person, _, joined, _, _ = _run([("census:1", "tax:1", 1.5)], clusters={"census:1": 0, "tax:2": 0, "tax:1": 1, "census:2": 2, "crm:1": 3})
    assert joined == 0 and person["tax:1"] != person["census:1"]


def test_only_duplicate_free_sources_and_no_cannot_link_decision():
    person, _, joined, _, _ = _run([("crm:1", "tax:1", 1.5)])
    assert joined == 0 and person["crm:1"] != person["tax:1"]
    person, _, joined, _, _ = _run([("census:1", "tax:1", 1.5)], cannot_link=[("tax:1", "census:1")])
    assert joined == 0 and person["census:1"] != person["tax:1"]


def test_a_partial_record_joins_a_full_one_in_household_data_only_when_their_names_agree():
    # tax:2 has no date of birth: in household data only its names tell it from the family at the address.
    person, _, joined, _, _ = _run([("census:2", "tax:2", 1.0)], household_safe=True)
    assert joined == 1 and person["census:2"] == person["tax:2"]
    person, _, joined, _, _ = _run([("census:2", "tax:2", 1.0, False)], household_safe=True)
    assert joined == 0 and person["census:2"] != person["tax:2"]
    person, _, joined, _, _ = _run([("census:2", "tax:2", 1.0, False)], household_safe=False)
    assert joined == 1 and person["census:2"] == person["tax:2"]


def test_a_best_link_keeps_splinks_weight_per_comparison_for_explain():
    _, edges, joined, _, scores = _run([("census:2", "tax:2", 1.0), ("census:1", "tax:2", -9.0)],
                                       comparisons={"mw_first_name": 2.5, "mw_last_name": 4.0})
    assert joined == 1 and edges["rule"].to_list() == [BEST_LINK_RULE]
    assert scores.rows() == [("census:2", "tax:2", 2.5, 4.0)]  # the link made, not the candidates left


def test_two_partial_records_never_join_in_household_data():
    rows = [("census:2", None, "anna", "kowalska", "3 high street", "AB12CD"),
            ("tax:2", None, "anna", "kowalska", "3 high street", "AB12CD")]
    person, _, joined, _, _ = _run([("census:2", "tax:2", 1.0)], rows=rows, household_safe=True)
    assert joined == 0 and person["census:2"] != person["tax:2"]
    person, _, joined, _, _ = _run([("census:2", "tax:2", 1.0)], rows=rows, household_safe=False)
    assert joined == 1


def test_conflicting_records_never_join_in_household_data_and_are_reported_when_weighed():
    rows = [("census:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
            ("tax:1", date(1951, 2, 3), "kamil", "dabrowski", "152 abbey way", "MB65ZN")]
    person, _, joined, accepted, _ = _run([("census:1", "tax:1", 2.0)], rows=rows, household_safe=True)
    assert joined == 0 and person["census:1"] != person["tax:1"] and accepted.is_empty()
    person, _, joined, accepted, _ = _run([("census:1", "tax:1", 2.0)], rows=rows, household_safe=False)
    assert joined == 1 and person["census:1"] == person["tax:1"]
    assert accepted.rows() == [("census:1", "tax:1", "household safety off, best-link pass: dates of birth 1974-09-16 / 1951-02-03")]


def test_only_the_conflicts_a_join_brings_together_are_reported():
    # census:1 and crm:1 (another date of birth) are one person already, their conflict let through before.
    rows = [("census:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
            ("crm:1", date(1951, 2, 3), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
            ("tax:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN")]
    person, _, joined, accepted, _ = _run([("census:1", "tax:1", 2.0)], rows=rows, household_safe=False,
                                       clusters={"census:1": 0, "crm:1": 0, "tax:1": 1})
    assert joined == 1 and person["tax:1"] == person["crm:1"]
    assert accepted.rows() == [("crm:1", "tax:1", "household safety off, best-link pass: dates of birth 1951-02-03 / 1974-09-16")]


def test_names_agree_when_both_the_surnames_and_the_first_names_are_alike():
    # Splink's weights per pair: (first name, last name); a blank weighs zero, an initial that fits more.
    weights = [(2.5, 1.2), (0.8, 3.0), (0.0, 3.0), (1.0, 0.0), (-6.0, 3.0), (None, 3.0), (2.0, -2.0)]
    scores = pl.DataFrame(weights, schema=["mw_first_name", "mw_last_name"], orient="row")
    assert scores.select(_names_agree(scores.columns))["names_agree"].to_list() == [True, True, False, False, False, False, False]
    without_names = pl.DataFrame({"mw_date_of_birth": [5.0]})
    assert without_names.select(_names_agree(without_names.columns))["names_agree"].to_list() == [False]
