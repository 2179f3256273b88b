"""Identity evaluation metrics on hand-made records (no pipeline)."""

from __future__ import annotations

import polars as pl

from dagster_project.identity.evaluate import reachable_pairs, score


def _records() -> pl.DataFrame:
    # Person A: r1-r2 share an email, r2-r3 a postcode, r4 (an anonymous device)
    # shares nothing but logs into r1's account; r5 shares nothing at all.
    # Person B: r6 has A's email (a family inbox), r7 nothing.
    return pl.DataFrame(
        {
            "record_key": ["r1", "r2", "r3", "r4", "r5", "r6", "r7"],
            "true_id": ["A", "A", "A", "A", "A", "B", "B"],
            "email": ["a@x", "a@x", None, None, None, "a@x", None],
            "postcode_norm": [None, "AB1", "AB1", None, "ZZ9", None, "ZZ9"],
        }
    )


def test_reachable_pairs_follow_shared_values_and_logins_within_a_person():
    logins = pl.DataFrame({"record_key": ["r4"], "linked_record_key": ["r1"]})
    # A's r1-r2-r3-r4 are joined (6 pairs); r5 and B's records are alone: a value
    # or login shared with another person's record joins nothing.
    assert reachable_pairs(_records(), ["email", "postcode_norm"], logins) == 6
    assert reachable_pairs(_records(), ["email"], logins) == 3  # r1-r2-r4
    no_logins = pl.DataFrame(schema={"record_key": pl.String, "linked_record_key": pl.String})
    assert reachable_pairs(_records(), ["email", "postcode_norm"], no_logins) == 3  # r1-r2-r3


def test_recall_ceiling_is_reachable_over_true_pairs():
    records = _records()
    evaluation = score(records.with_columns(pl.col("true_id").alias("person_id")).select("person_id", "true_id"))
    assert evaluation.true_pairs == 10 + 1 and evaluation.recall == 1.0
    evaluation.reachable_pairs = reachable_pairs(records, ["email", "postcode_norm"], pl.DataFrame({"record_key": ["r4"], "linked_record_key": ["r1"]}))
    assert evaluation.recall_ceiling == 6 / 11
    assert "recall ceiling      0.5455" in evaluation.render()
