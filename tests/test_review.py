"""`cdp identity review` lists the joins decided by elimination: a record with little evidence whose
refused link to another person was about as strong as the link that joined it; and the joins of the
best-link pass, made under the threshold."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import polars as pl

from dagster_project.identity.explain import _describe_link
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


def test_a_join_of_the_best_link_pass_is_listed_for_review_and_explained(tmp_path):
    _warehouse(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("insert into identity.edges by name select 'census:5' as record_key, 'tax:1' as linked_record_key, "
                    "'best_link' as rule, 1.5 as match_weight, false as vetoed, 0.74 as match_probability")
    config = SimpleNamespace(warehouse=tmp_path / "warehouse.duckdb", match_threshold=0.9, ambiguity_margin=5.0)
    best = review_items(config).filter(pl.col("kind") == "best_link")
    assert best.select("record_key", "linked_record_key", "match_weight").rows() == [("census:5", "tax:1", 1.5)]
    assert best["detail"][0].startswith("best-link pass: Splink match probability 0.74 under the threshold")
    described = _describe_link({"record_key": "census:5", "linked_record_key": "tax:1", "rule": "best_link",
                                "match_probability": 0.74, "match_weight": 1.5})
    assert "best-link pass: under the threshold (Splink match probability 0.7400, weight +1.5)" in described
