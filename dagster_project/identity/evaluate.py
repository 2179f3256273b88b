"""Identity accuracy against ground truth (`truth.csv`: source, source_record_id, person_id).

Only records present in both identity.person_map and the truth are scored.
Pairwise: a pair of records is predicted together when they share a
person_id, truly together when they share a truth id. B-cubed: per record,
the share of its predicted cluster that is truly its person (precision) and
the share of its true person that is in its predicted cluster (recall).

Recall ceiling: the share of true pairs whose two records are joined, within
their true person, through a chain of records sharing an equal value (email,
phone, loyalty id, device, surname, date of birth, address, postcode) or a
device login. A pair outside it has nothing in common with the rest of its
person (an anonymous device, an email seen nowhere else), so no resolver
that links on shared values finds it: the ceiling tells what recall the data
allows, and recall / ceiling what share of that the resolver reached.
A chain through a surname, a date of birth or a postcode alone is counted
there, though no resolver could justify such a link; the identifying
ceiling counts only chains through identifying evidence: an email, phone,
loyalty id or device, a login, or a surname with a date of birth or an
address, or a full name with a date of birth or a postcode. Neither is a
strict bound: a resolver also links on near values (typos), which no
equal-value chain holds.

False merges by cause (the first that applies): household (the two true
persons share a household in truth_households.csv; of which twins, Jr/Sr
pairs, those through a partial record and those through a record that
carries only an email or phone, such as a consent event sent to a family
inbox: which member it was, nothing in the record can tell), same name (same true first and last name, other households),
partial record (one of the two is in the shared person only through records
with a surname but no date of birth or no first name beyond an initial: a
name-and-address form that fits several people), other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from dagster_project.identity.clusters import components
from dagster_project.warehouse import connect

# Values that records of one person can share (columns of int_identity__records).
SHARED_VALUE_COLUMNS = (
    "email", "phone", "loyalty_id", "device_id", "last_name_norm", "date_of_birth", "address_line_norm", "postcode_norm",
)
# Identifying evidence: identifiers, and the combinations of values (SQL over the records) that tell a person.
IDENTIFIERS = ("email", "phone", "loyalty_id", "device_id")
IDENTIFYING_COMBINATIONS = {
    "surname_and_birth": ("last_name_norm", "date_of_birth"),
    "surname_and_address": ("last_name_norm", "address_line_norm"),
    "name_and_birth": ("first_name_norm", "last_name_norm", "date_of_birth"),
    "name_and_postcode": ("first_name_norm", "last_name_norm", "postcode_norm"),
}


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
    # Among records with a first name or a date of birth, those a name matcher compares (a
    # census return, a tax form): how well names are matched, apart from email-only records.
    described: IdentityEvaluation | None = None
    false_merges: int = 0  # pairs of distinct true persons put under one person_id
    household_false_merges: int | None = None  # of which the two live in the same household
    false_merge_causes: dict[str, int] | None = None  # see false_merge_causes()
    reachable_pairs: int | None = None  # true pairs joined through shared values (see the module docstring)
    identifying_pairs: int | None = None  # of them, joined through identifying evidence only

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def recall_ceiling(self) -> float | None:
        if self.reachable_pairs is None:
            return None
        return self.reachable_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def identifying_ceiling(self) -> float | None:
        if self.identifying_pairs is None:
            return None
        return self.identifying_pairs / self.true_pairs if self.true_pairs else 1.0

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
                f"recall ceiling      {self.recall_ceiling:.4f}  ({self.reachable_pairs} true pairs joined through shared values;"
                f" recall is {self.recall / self.recall_ceiling:.1%} of it)"
                if self.recall_ceiling else "",
                f"  identifying       {self.identifying_ceiling:.4f}  ({self.identifying_pairs} true pairs joined through identifiers,"
                f" a surname with a date of birth or address, a full name with a date of birth or postcode)"
                if self.identifying_ceiling else "",
                f"recall, identifiable records  {self.identifiable_recall:.4f}  ({self.identifiable_records} records with an email, phone, loyalty id, full name or a login-tied device)"
                if self.identifiable_recall is not None else "",
                f"described records   precision {self.described.precision:.4f}, recall {self.described.recall:.4f}"
                f"  ({self.described.records} records with a first name or a date of birth)"
                if self.described is not None else "",
                f"B-cubed precision   {self.bcubed_precision:.4f}",
                f"B-cubed recall      {self.bcubed_recall:.4f}",
                f"false merges        {self.false_merges} pairs of true persons under one person_id",
                f"  of household members  {'n/a (no households file)' if self.household_false_merges is None else self.household_false_merges}",
                *self._render_causes(),
            ]
        )

    def _render_causes(self) -> list[str]:
        c = self.false_merge_causes
        if c is None:
            return []
        return [
            f"  by cause: household {c['household']} (twins {c['twins']}, Jr/Sr {c['jr_sr']},"
            f" through a partial record {c['household_partial']},"
            f" through a record with only an email or phone {c['household_identifier_only']}),"
            f" same name {c['same_name']}, partial record {c['partial_record']}, other {c['other']}",
        ]


def _pairs(counts: pl.Series) -> int:
    return int((counts.cast(pl.Int64) * (counts.cast(pl.Int64) - 1) // 2).sum())


def _read_truth(truth_path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """The ground truth (source, source_record_id, true_id, ...) that `cdp generate` wrote."""
    if not truth_path.is_file():
        raise FileNotFoundError(f"ground truth {truth_path} does not exist (written by `cdp generate`)")
    return pl.read_csv(truth_path, columns=columns, schema_overrides={"source_record_id": pl.String, "person_id": pl.String}).rename(
        {"person_id": "true_id"}
    )


def evaluate_identity(warehouse: Path, truth_path: Path) -> IdentityEvaluation:
    truth = _read_truth(truth_path)
    with connect(warehouse) as con:
        available = {row[0] for row in con.sql("describe intermediate.int_identity__records").fetchall()}
        shared = [c for c in SHARED_VALUE_COLUMNS if c in available]
        values = "".join(f", cast(r.{c} as varchar) as {c}" for c in shared)
        identifying = [c for c in IDENTIFIERS if c in available] + [
            name for name, parts in IDENTIFYING_COMBINATIONS.items() if set(parts) <= available]
        # A combination is null when any of its values is (|| of a null is null).
        values += "".join(
            f", {' || chr(31) || '.join(f'cast(r.{c} as varchar)' for c in parts)} as {name}"
            for name, parts in IDENTIFYING_COMBINATIONS.items() if set(parts) <= available)
        predicted = con.sql(
            f"""
            select m.record_key, m.source, m.source_record_id, m.person_id{values},
                   r.email is not null or r.phone is not null or r.loyalty_id is not null
                   or (r.first_name_norm is not null and r.last_name_norm is not null) as identifiable,
                   r.last_name_norm is not null
                   and (r.date_of_birth is null or coalesce(length(r.first_name_norm), 0) <= 1) as partial,
                   r.first_name_norm is not null or r.date_of_birth is not null as described,
                   r.first_name_norm, r.last_name_norm
            from identity.person_map m
            join intermediate.int_identity__records r on r.record_key = m.record_key
            """
        ).pl()
        logins = con.sql("select record_key, linked_record_key from intermediate.int_identity__links where rule = 'login'").pl()
    # A device tied to an account by a login is identifiable too.
    login_tied = pl.concat([logins["record_key"], logins["linked_record_key"]]).implode()
    predicted = predicted.with_columns(pl.col("identifiable") | pl.col("record_key").is_in(login_tied))
    households_path = truth_path.with_name(f"{truth_path.stem}_households.csv")
    households = pl.read_csv(households_path, infer_schema=False) if households_path.is_file() else None
    scored = predicted.join(truth, on=["source", "source_record_id"], how="inner")
    evaluation = score(scored.select("person_id", "true_id", "partial", "described", "first_name_norm", "last_name_norm"), households)
    evaluation.reachable_pairs = reachable_pairs(scored, shared, logins)
    evaluation.identifying_pairs = reachable_pairs(scored, identifying, logins)
    identifiable = score(scored.filter(pl.col("identifiable")).select("person_id", "true_id"))
    evaluation.identifiable_recall = identifiable.recall
    evaluation.identifiable_records = identifiable.records
    evaluation.described = score(scored.filter(pl.col("described")).select("person_id", "true_id"))
    return evaluation


def evaluate_bcubed(warehouse: Path, truth_path: Path) -> IdentityEvaluation:
    """B-cubed precision and recall, persons and false merges only (what the run report shows),
    without evaluate_identity's recall ceiling, identifiable and described records and causes:
    a few seconds less per run at 100,000 people."""
    truth = _read_truth(truth_path, columns=["source", "source_record_id", "person_id"])
    with connect(warehouse) as con:
        predicted = con.sql("select source, source_record_id, person_id from identity.person_map").pl()
    return score(predicted.join(truth, on=["source", "source_record_id"], how="inner").select("person_id", "true_id"))


def reachable_pairs(scored: pl.DataFrame, value_columns: list[str], links: pl.DataFrame) -> int:
    """True pairs whose records are joined, within their true person, through
    equal values of `value_columns` or through `links` (record_key,
    linked_record_key). `scored` has record_key, true_id and those columns."""
    nodes = scored.select("record_key", "true_id").with_row_index("node")
    left, right = [], []
    for column in value_columns:
        # Each record with a value joins the person's first record with that value.
        holders = nodes.with_columns(scored[column].alias("value")).drop_nulls("value")
        first = holders.group_by("true_id", "value").agg(pl.col("node").min().alias("first"))
        joined = holders.join(first, on=["true_id", "value"])
        left.append(joined["node"].to_numpy())
        right.append(joined["first"].to_numpy())
    ends = links.join(nodes, on="record_key").join(
        nodes.rename({"record_key": "linked_record_key", "node": "linked_node", "true_id": "linked_true_id"}), on="linked_record_key"
    ).filter(pl.col("true_id") == pl.col("linked_true_id"))
    left.append(ends["node"].to_numpy())
    right.append(ends["linked_node"].to_numpy())
    piece = components(nodes.height, np.concatenate(left), np.concatenate(right))
    return _pairs(nodes.with_columns(pl.Series("piece", piece)).group_by("true_id", "piece").len()["len"])


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
    causes = false_merge_causes(scored, households) if households is not None or "partial" in scored.columns else None
    return IdentityEvaluation(
        false_merges=merged.height,
        household_false_merges=causes["household"] if households is not None else None,
        false_merge_causes=causes,
        records=records,
        predicted_persons=predicted.height,
        true_persons=true.height,
        true_positive_pairs=_pairs(both["n"]),
        predicted_pairs=_pairs(predicted["n"]),
        true_pairs=_pairs(true["n"]),
        bcubed_precision=bcubed_p,
        bcubed_recall=bcubed_r,
    )


def false_merge_causes(scored: pl.DataFrame, people: pl.DataFrame | None = None) -> dict[str, int]:
    """False merges counted by cause (module docstring). `scored`: person_id,
    true_id, optionally partial (the record has no date of birth or no full
    first name), described (it has a first name or a date of birth) and
    first_name_norm / last_name_norm. `people`: person_id,
    household_id, optionally first_name, last_name, twin, suffix (Jr/Sr);
    without true names, a person's most frequent record name stands in."""
    partial = pl.col("partial").all() if "partial" in scored.columns else pl.lit(False)
    identifier_only = (~pl.col("described")).all() if "described" in scored.columns else pl.lit(False)
    cells = scored.group_by("person_id", "true_id").agg(partial.alias("partial_only"), identifier_only.alias("identifier_only"))
    pairs = (
        cells.join(cells, on="person_id", suffix="_b")
        .filter(pl.col("true_id") < pl.col("true_id_b"))
        .group_by(pl.col("true_id").alias("true_a"), pl.col("true_id_b").alias("true_b"))
        .agg((pl.col("partial_only") | pl.col("partial_only_b")).any().alias("partial"),
             (pl.col("identifier_only") | pl.col("identifier_only_b")).any().alias("identifier_only"))
    )
    who = _person_facts(scored, people)
    for side in ("a", "b"):
        pairs = pairs.join(who.rename(lambda c: c if c == "true_id" else f"{c}_{side}"), left_on=f"true_{side}",
                           right_on="true_id", how="left")
    household = pl.col("household_a") == pl.col("household_b")
    cause = (
        pl.when(household).then(pl.lit("household"))
        .when(pl.col("name_a") == pl.col("name_b")).then(pl.lit("same_name"))
        .when(pl.col("partial")).then(pl.lit("partial_record"))
        .otherwise(pl.lit("other"))
    )
    twins = household & pl.col("twin_a") & pl.col("twin_b")
    jr_sr = household & (pl.col("suffix_a") != pl.col("suffix_b"))
    counts = pairs.select(
        *[(cause == c).sum().alias(c) for c in ("household", "same_name", "partial_record", "other")],
        twins.fill_null(False).sum().alias("twins"), jr_sr.fill_null(False).sum().alias("jr_sr"),
        (household & pl.col("partial")).fill_null(False).sum().alias("household_partial"),
        (household & pl.col("identifier_only")).fill_null(False).sum().alias("household_identifier_only"),
    )
    return {k: int(v) for k, v in counts.row(0, named=True).items()}


def _person_facts(scored: pl.DataFrame, people: pl.DataFrame | None) -> pl.DataFrame:
    """true_id, household, name (lower-cased 'first last'), twin, suffix; nulls where unknown."""
    people = people if people is not None else pl.DataFrame({"person_id": scored["true_id"].unique()})
    facts = people.select(
        pl.col("person_id").cast(pl.String).alias("true_id"),
        (pl.col("household_id") if "household_id" in people.columns else pl.lit(None)).cast(pl.String).alias("household"),
        pl.col("twin").cast(pl.String).str.to_lowercase().eq("true").alias("twin") if "twin" in people.columns
        else pl.lit(False).alias("twin"),
        (pl.col("suffix") if "suffix" in people.columns else pl.lit(None)).cast(pl.String).alias("suffix"),
    )
    if {"first_name", "last_name"} <= set(people.columns):
        names = people.select(pl.col("person_id").cast(pl.String).alias("true_id"),
                              pl.concat_str(pl.col("first_name").str.to_lowercase(), pl.col("last_name").str.to_lowercase(),
                                            separator=" ").alias("name"))
    elif {"first_name_norm", "last_name_norm"} <= set(scored.columns):
        names = (scored.select("true_id", pl.concat_str("first_name_norm", "last_name_norm", separator=" ").alias("name"))
                 .drop_nulls().group_by("true_id").agg(pl.col("name").mode().sort().first()))
    else:
        names = pl.DataFrame(schema={"true_id": pl.String, "name": pl.String})
    return facts.join(names, on="true_id", how="left")
