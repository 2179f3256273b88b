"""The plain Splink baseline of benchmarks/identity_accuracy.py: it runs on a
warehouse's identity records and is scored by `cdp evaluate`'s own code on
the same records."""

from __future__ import annotations

import dataclasses

import duckdb

from benchmarks.plain_splink import RECORD_COLUMNS, deterministic_links, evaluate_clusters, plain_splink_on_records
from dagster_project.identity.evaluate import evaluate_identity
from dagster_project.warehouse import connect


def test_scoring_clusters_reproduces_cdp_evaluate_for_the_person_map(multi_day):
    config = multi_day["config"]
    with connect(config.warehouse, read_only=True) as con:
        person_map = con.sql("select record_key, person_id as cluster_id from identity.person_map").pl()
    ours = evaluate_identity(config.warehouse, config.truth)
    assert figures(evaluate_clusters(config.warehouse, config.truth, person_map)) == figures(ours)


def figures(evaluation) -> dict:
    """All fields, nested ones too; ratios to 12 places (the sums run over rows in another order)."""
    return _rounded(dataclasses.asdict(evaluation))


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 12) if isinstance(value, float) else value


def test_plain_splink_clusters_the_same_records_and_is_scored_on_them(multi_day):
    config = multi_day["config"]
    ours = evaluate_identity(config.warehouse, config.truth)
    plain, links, _ = plain_splink_on_records(config.warehouse, config.truth, config.match_threshold)
    assert (plain.records, plain.true_pairs, plain.true_persons) == (ours.records, ours.true_pairs, ours.true_persons)
    # It links: most true pairs found (records with one email, phone or loyalty id included), fewer persons than records.
    assert links > 0 and plain.recall > 0.5 and plain.predicted_persons < plain.records


def test_deterministic_links_pair_records_sharing_an_email_phone_or_loyalty_id():
    con = duckdb.connect()
    rows = {  # record_key: (email, phone, loyalty_id)
        "a": ("ann@example.com", None, None),
        "b": ("ann@example.com", "+441111", None),
        "c": (None, "+441111", "L1"),
        "d": (None, None, "L1"),
        "e": ("eve@example.com", "+442222", "L2"),
        "f": (None, None, None),
    }
    values = ", ".join(
        "(" + ", ".join(f"'{v}'" if v else "null" for v in (key, None, None, None, None, None, None, *ids)) + ")"
        for key, ids in rows.items()
    )
    records = con.sql(f"select * from (values {values}) as t({', '.join(RECORD_COLUMNS)})")
    pairs = deterministic_links(con, records).fetchall()
    assert sorted((min(l, r), max(l, r), p) for l, r, p in pairs) == [("a", "b", 1.0), ("b", "c", 1.0), ("c", "d", 1.0)]
