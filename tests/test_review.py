"""`cdp identity review` lists the joins decided by elimination: a record with little evidence whose
refused link to another person was about as strong as the link that joined it."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import polars as pl

from dagster_project.identity.review import render_review, review_items

EDGES = [  # record_key, linked_record_key, rule, match_weight, vetoed, veto_reason
    # A census return without a first name ties between two household members; one already has a return.
    ("census:3", "tax:1", "splink", 7.8, False, None),
    ("census:3", "tax:2", "splink", 7.8, True, "refused: would put two records of source census in one person (census:2, census:3)"),
    ("census:2", "tax:2", "splink", 20.0, False, None),
    # A described record refused far below its own join: not a close call.
    ("survey:4", "tax:1", "splink", 2.0, True, "refused: would join first names tom / tim (survey:4, census:3)"),
    ("survey:4", "census:5", "splink", 25.0, False, None),
]
PERSONS = {"census:3": "P1", "tax:1": "P1", "census:2": "P2", "tax:2": "P2", "survey:4": "P3", "census:5": "P3"}
RECORDS = [  # record_key, first_name_norm, date_of_birth
    ("census:3", None, "1981-05-29"), ("tax:1", "erin", None), ("census:2", "eric", "1979-10-27"),
    ("tax:2", "eric", None), ("survey:4", "tom", "1990-01-01"), ("census:5", "tom", "1990-01-01"),
]


def _warehouse(path):
    con = duckdb.connect(str(path))
    con.execute("create schema identity; create schema intermediate")
    con.register("e", pl.DataFrame(EDGES, schema=["record_key", "linked_record_key", "rule", "match_weight", "vetoed", "veto_reason"],
                                   orient="row").to_arrow())
    con.execute("create table identity.edges as select *, cast(null as double) as match_probability from e")
    con.register("p", pl.DataFrame(list(PERSONS.items()), schema=["record_key", "person_id"], orient="row").to_arrow())
    con.execute("create table identity.person_map as select *, split_part(record_key, ':', 1) as source from p")
    con.register("r", pl.DataFrame(RECORDS, schema=["record_key", "first_name_norm", "date_of_birth"], orient="row").to_arrow())
    con.execute("create table intermediate.int_identity__records as select record_key, first_name_norm, cast(date_of_birth as date) as date_of_birth from r")
    con.close()


def test_a_join_decided_by_elimination_is_listed_for_review(tmp_path):
    _warehouse(tmp_path / "warehouse.duckdb")
    config = SimpleNamespace(warehouse=tmp_path / "warehouse.duckdb", match_threshold=0.9, ambiguity_margin=5.0)
    items = review_items(config)
    elimination = items.filter(pl.col("kind") == "elimination")
    assert elimination.select("record_key", "person_id", "linked_record_key", "linked_person_id").rows() == [
        ("census:3", "P1", "tax:2", "P2")]
    assert elimination["detail"][0].startswith("joined its person at weight 7.8, while this link to another person was refused")
    # The refused links are listed as such too; the far weaker refusal is not an elimination.
    assert items.filter(pl.col("kind") == "refused").height == 2
    assert "elimination (1)" in render_review(items, limit=3)
