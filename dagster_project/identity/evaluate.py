"""Identity accuracy against ground truth (`truth.csv`: source, source_record_id, person_id).

Only records present in both identity.person_map and the truth are scored.
Pairwise: a pair of records is predicted together when they share a
person_id, truly together when they share a truth id. B-cubed: per record,
the share of its predicted cluster that is truly its person (precision) and
the share of its true person that is in its predicted cluster (recall).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dagster_project.warehouse import connect


@dataclass
class IdentityEvaluation:
    records: int
    predicted_persons: int
    true_persons: int
    true_positive_pairs: int
    predicted_pairs: int
    true_pairs: int
    bcubed_precision: float
    bcubed_recall: float
    identifiable_recall: float | None = None  # recall over records that carry something to link on
    identifiable_records: int | None = None
    false_merges: int = 0  # pairs of distinct true persons put under one person_id
    household_false_merges: int | None = None  # of which the two live in the same household

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def render(self) -> str:
        return "\n".join(
            [
                f"records scored      {self.records}",
                f"persons predicted   {self.predicted_persons}  (true: {self.true_persons})",
                f"pairwise precision  {self.precision:.4f}  ({self.true_positive_pairs} of {self.predicted_pairs} predicted pairs)",
                f"pairwise recall     {self.recall:.4f}  ({self.true_positive_pairs} of {self.true_pairs} true pairs)",
                f"pairwise F1         {self.f1:.4f}",
                f"recall, identifiable records  {self.identifiable_recall:.4f}  ({self.identifiable_records} records with an email, phone, loyalty id, full name or a login-tied device)"
                if self.identifiable_recall is not None else "",
                f"B-cubed precision   {self.bcubed_precision:.4f}",
                f"B-cubed recall      {self.bcubed_recall:.4f}",
                f"false merges        {self.false_merges} pairs of true persons under one person_id",
                f"  of household members  {'n/a (no households file)' if self.household_false_merges is None else self.household_false_merges}",
            ]
        )


def _pairs(counts: pl.Series) -> int:
    return int((counts.cast(pl.Int64) * (counts.cast(pl.Int64) - 1) // 2).sum())


def evaluate_identity(warehouse: Path, truth_path: Path) -> IdentityEvaluation:
    if not truth_path.is_file():
        raise FileNotFoundError(f"ground truth {truth_path} does not exist (written by `cdp generate`)")
    with connect(warehouse) as con:
        predicted = con.sql(
            """
            select m.source, m.source_record_id, m.person_id,
                   r.email is not null or r.phone is not null or r.loyalty_id is not null
                   or (r.first_name_norm is not null and r.last_name_norm is not null)
                   or exists (select 1 from intermediate.int_identity__links l
                              where l.rule = 'login' and l.record_key = m.record_key) as identifiable
            from identity.person_map m
            join intermediate.int_identity__records r on r.record_key = m.record_key
            """
        ).pl()
    truth = pl.read_csv(truth_path, schema_overrides={"source_record_id": pl.String, "person_id": pl.String}).rename(
        {"person_id": "true_id"}
    )
    households_path = truth_path.with_name(f"{truth_path.stem}_households.csv")
    households = pl.read_csv(households_path, infer_schema=False) if households_path.is_file() else None
    scored = predicted.join(truth, on=["source", "source_record_id"], how="inner")
    evaluation = score(scored.drop("identifiable"), households)
    identifiable = score(scored.filter(pl.col("identifiable")).drop("identifiable"))
    evaluation.identifiable_recall = identifiable.recall
    evaluation.identifiable_records = identifiable.records
    return evaluation


def merged_person_pairs(scored: pl.DataFrame) -> pl.DataFrame:
    """Pairs of distinct true persons (true_a < true_b) that share a predicted person."""
    people = scored.select("person_id", "true_id").unique()
    return (
        people.join(people, on="person_id", suffix="_b")
        .filter(pl.col("true_id") < pl.col("true_id_b"))
        .select(pl.col("true_id").alias("true_a"), pl.col("true_id_b").alias("true_b"))
        .unique()
    )


def score(scored: pl.DataFrame, households: pl.DataFrame | None = None) -> IdentityEvaluation:
    """`scored` has one row per record with person_id (predicted) and true_id."""
    both = scored.group_by("person_id", "true_id").len("n")
    predicted = scored.group_by("person_id").len("n")
    true = scored.group_by("true_id").len("n")
    overlap = both.join(predicted.rename({"n": "n_pred"}), on="person_id").join(true.rename({"n": "n_true"}), on="true_id")
    records = scored.height
    # Each record in a (pred, true) cell of size n contributes n/n_pred and n/n_true.
    bcubed_p = float((overlap["n"] * overlap["n"] / overlap["n_pred"]).sum() / records) if records else 1.0
    bcubed_r = float((overlap["n"] * overlap["n"] / overlap["n_true"]).sum() / records) if records else 1.0
    merged = merged_person_pairs(scored)
    household_merges = None
    if households is not None:
        home = households.select(pl.col("person_id").alias("true_id"), "household_id")
        household_merges = (
            merged.join(home.rename({"true_id": "true_a", "household_id": "home_a"}), on="true_a")
            .join(home.rename({"true_id": "true_b", "household_id": "home_b"}), on="true_b")
            .filter(pl.col("home_a") == pl.col("home_b"))
            .height
        )
    return IdentityEvaluation(
        false_merges=merged.height,
        household_false_merges=household_merges,
        records=records,
        predicted_persons=predicted.height,
        true_persons=true.height,
        true_positive_pairs=_pairs(both["n"]),
        predicted_pairs=_pairs(predicted["n"]),
        true_pairs=_pairs(true["n"]),
        bcubed_precision=bcubed_p,
        bcubed_recall=bcubed_r,
    )
