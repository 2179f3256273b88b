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
    evaluation.identifying_pairs = reachable_pairs(records, ["email"], pl.DataFrame({"record_key": ["r4"], "linked_record_key": ["r1"]}))
    assert evaluation.identifying_ceiling == 3 / 11 and "identifying       0.2727" in evaluation.render()


def _merged_clusters() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Predicted persons P1-P6 each merge two true persons; P7 is right."""
    rows = [  # person_id, true_id, partial, first_name_norm, last_name_norm
        ("P1", "A", False, "emma", "clark"), ("P1", "B", False, "helen", "clark"),  # twins
        ("P2", "C", False, "noah", "bennett"), ("P2", "D", False, "noah", "bennett"),  # father and son
        ("P3", "E", False, "john", "smith"), ("P3", "F", False, "john", "smyth"),  # namesakes, a typo in F's record
        ("P4", "G", False, "mary", "jones"), ("P4", "H", True, "m", "jones"),  # H only through a form with an initial
        ("P5", "I", False, "anna", "ross"), ("P5", "J", False, "ian", "ross"),
        ("P6", "L", True, None, "brown"), ("P6", "L", False, "lee", "brown"), ("P6", "M", False, "lewis", "brown"),
        ("P7", "K", False, "kate", "hill"), ("P7", "K", True, "kate", "hill"),
    ]
    scored = pl.DataFrame(rows, schema=["person_id", "true_id", "partial", "first_name_norm", "last_name_norm"], orient="row")
    people = pl.DataFrame(
        {
            "person_id": ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M"],
            "household_id": ["H1", "H1", "H2", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "H9", "H10", "H11"],
            "first_name": ["Emma", "Helen", "Noah", "Noah", "John", "John", "Mary", "Matthew", "Anna", "Ian", "Kate", "Lee", "Lewis"],
            "last_name": ["Clark", "Clark", "Bennett", "Bennett", "Smith", "Smith", "Jones", "Jones", "Ross", "Ross", "Hill", "Brown", "Brown"],
            "twin": ["true", "true"] + ["false"] * 11,
            "suffix": [None, None, "Sr", "Jr"] + [None] * 9,
        }
    )
    return scored, people


def test_false_merges_by_cause_household_then_same_name_then_partial_record():
    scored, people = _merged_clusters()
    evaluation = score(scored, people)
    assert evaluation.false_merges == 6
    assert evaluation.household_false_merges == 2
    # L is in P6 through a full record too, so P6 is not a partial-record merge.
    assert evaluation.false_merge_causes == {
        "household": 2, "twins": 1, "jr_sr": 1, "household_partial": 0, "household_identifier_only": 0,
        "same_name": 1, "partial_record": 1, "other": 2,
    }
    assert ("by cause: household 2 (twins 1, Jr/Sr 1, through a partial record 0, through a record with only an email or"
            " phone 0), same name 1, partial record 1, other 2" in evaluation.render())
    # the same partial-only merge within a household counts as household, through a partial record
    home = people.with_columns(pl.when(pl.col("person_id") == "H").then(pl.lit("H5")).otherwise("household_id").alias("household_id"))
    causes = score(scored, home).false_merge_causes
    assert causes["household"] == 3 and causes["household_partial"] == 1 and causes["partial_record"] == 0


def test_a_household_member_present_only_through_an_event_with_a_shared_inbox_is_counted_apart():
    scored, people = _merged_clusters()
    scored = scored.with_columns(pl.col("first_name_norm").is_not_null().alias("described"))
    # B (Emma's twin) is in P1 only through a consent event sent to the family inbox: no name, no date of birth.
    inbox = scored.with_columns(
        pl.when(pl.col("true_id") == "B").then(False).otherwise(pl.col("described")).alias("described"),
        pl.when(pl.col("true_id") == "B").then(None).otherwise(pl.col("first_name_norm")).alias("first_name_norm"),
    )
    assert score(scored, people).false_merge_causes["household_identifier_only"] == 0
    causes = score(inbox, people).false_merge_causes
    assert causes["household"] == 2 and causes["twins"] == 1 and causes["household_identifier_only"] == 1


def test_without_true_names_the_records_names_stand_in():
    scored, people = _merged_clusters()
    # Record names: E is "john smith", F "john smyth" (a typo), so only the truth's names make them namesakes.
    causes = score(scored, people.drop("first_name", "last_name")).false_merge_causes
    assert causes["same_name"] == 0 and causes["other"] == 3
    no_households = score(scored).false_merge_causes
    assert no_households["household"] == 0 and no_households["same_name"] == 1  # C and D: "noah bennett"
    assert score(scored).household_false_merges is None
