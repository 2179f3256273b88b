"""The identity graph: deterministic links, Splink links and vetoes, as edges.

Edges come from two places:
- deterministic rules (dbt int_identity__links): a shared normalised email,
  phone or loyalty id, a device logged into one account;
- Splink: record pairs at or above the configured match probability.

A deterministic link on an identifier that families share (email, phone) is
vetoed when the evidence that tells family members apart says the two
records are different people: the Splink weights of the first name and date
of birth comparisons add up to less than `veto_weight`. Household members
share a surname, an address, a family email or a landline; they differ in
first name and date of birth. The veto keeps mother and son apart when they
share a family email, while a nickname, a typo or swapped names (levels of
the first name comparison) do not trigger it. Links that would put
clearly conflicting records in one person are refused later, by
identity.conflicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from dagster_project.identity.clusters import components, edge_nodes
from dagster_project.identity.incremental import (
    DIRTY,
    ScoringPlan,
    fingerprint_prepared,
    keep_possible_partners,
    plan_scoring,
    reuse_scores,
    scoring_signature,
)
from dagster_project.identity.splink_model import score_pairs
from dagster_project.identity.splink_prepare import SCRATCH, prepare_records, scratch_database
from dagster_project.identity.step_times import StepTimes
from dagster_project.identity.term_frequencies import frozen_lookups

RECORDS_TABLE = "intermediate.int_identity__records"
LINKS_TABLE = "intermediate.int_identity__links"
# Deterministic rules on identifiers that several people can share.
SHAREABLE_RULES = ["email", "phone"]
# The comparisons that tell members of one household apart.
DISTINGUISHING_COMPARISONS = ("first_name", "date_of_birth")
RENAMED = {"record_key_l": "record_key", "record_key_r": "linked_record_key"}
# Every scored pair with all its columns, and each record's fingerprint, kept in DuckDB
# temporary tables until resolve writes them (identity.scored_pairs, record_fingerprints,
# the comparison columns of identity.edges): at 1,000,000 people they are millions of
# wide rows, which DuckDB holds within its memory limit (spilling beyond it) and Python need not.
SCORES_TABLE = "temp.main.identity_scores"
FINGERPRINTS_TABLE = "temp.main.identity_fingerprints"
NEW_SCORES_TABLE = "temp.main.identity_new_scores"  # an incremental run's Splink scores, before they join the reused ones
# The columns of an edge in Python; the comparison columns (gamma_X, mw_X) are joined from
# SCORES_TABLE when identity.edges is written (comparison_columns).
EDGE_COLUMNS = ["record_key", "linked_record_key", "rule", "match_probability", "match_weight", "other_evidence_weight",
                "vetoed", "veto_reason"]


# Fills SCORES_TABLE from the prepared records (con, model, threshold, term frequencies, plan):
# _score (Splink on DuckDB) unless another is given, e.g. identity.spark_scoring.spark_scorer.
Scorer = Callable[[duckdb.DuckDBPyConnection, dict, float, dict, ScoringPlan], None]


@dataclass
class IdentityGraph:
    edges: pl.DataFrame  # every edge (EDGE_COLUMNS), vetoed ones flagged
    comparisons: list[str]
    pairs_scored: int = 0  # rows of SCORES_TABLE (identity.incremental stores them, with FINGERPRINTS_TABLE)
    signature: str = ""  # of the scoring inputs besides the records
    plan: ScoringPlan | None = None

    @property
    def active(self) -> pl.DataFrame:
        return self.edges.filter(~pl.col("vetoed"))


def _temporary(table: str) -> str:
    """The name to create a temporary table under (DuckDB refuses the temp catalog's prefix there)."""
    return table.removeprefix("temp.main.")


def comparison_names(model: dict) -> list[str]:
    return [c["output_column_name"] for c in model["comparisons"]]


def comparison_columns(names: list[str]) -> list[str]:
    """The per-comparison columns identity.edges carries after EDGE_COLUMNS, in order."""
    return [f"{prefix}_{name}" for name in names for prefix in ("gamma", "mw")]


def build_graph(
    con: duckdb.DuckDBPyConnection,
    model_path: Path,
    *,
    match_threshold: float,
    veto_weight: float,
    full: bool = True,
    scorer: Scorer | None = None,
    times: StepTimes | None = None,
) -> IdentityGraph:
    """All edges between identity records: the deterministic links (read_links) and Splink's.
    The links are read once Splink is done: its DuckDB work is the largest, and Python holds
    nothing big beside it.
    Unless `full`, reuses the scores stored by the last run for unchanged records (identity.incremental)."""
    model = json.loads(model_path.read_text())
    names = comparison_names(model)
    # One scratch session: the pairs above the threshold, and the scores of
    # shared-identifier links, which the veto needs even when low.
    times = times or StepTimes()
    with scratch_database(con):
        with times.step("prepare records"):
            prepare_records(con, RECORDS_TABLE, ordered=False)
            term_frequencies = frozen_lookups(con, model, model_path)
            signature = scoring_signature(model_path, match_threshold)
            fingerprint_prepared(con, into=_temporary(FINGERPRINTS_TABLE))
            plan = plan_scoring(con, signature, full, FINGERPRINTS_TABLE)
            _create_vetoable_pairs(con, [r for r in SHAREABLE_RULES if r in names])
        with times.step("splink scoring"):
            (scorer or _score)(con, model, match_threshold, term_frequencies, plan)
    with times.step("deterministic links and vetoes"):
        return _edges(con, names, match_threshold, veto_weight, signature, plan)


def _edges(con: duckdb.DuckDBPyConnection, names: list[str], match_threshold: float, veto_weight: float,
           signature: str, plan: ScoringPlan) -> IdentityGraph:
    """The graph of the scored pairs (SCORES_TABLE): Splink's edges above the threshold, and the
    deterministic links with the vetoes of those on shareable identifiers."""
    # Only the columns the veto and the Splink edges need; the same order whichever pairs were reused.
    evidence = [f"mw_{name}" for name in names if name in DISTINGUISHING_COMPARISONS]
    scores = con.sql(
        f"select {', '.join(['record_key', 'linked_record_key', 'match_probability', 'match_weight', *evidence])} from {SCORES_TABLE}"
    ).pl().sort("record_key", "linked_record_key")

    deterministic = read_links(con).join(scores, on=["record_key", "linked_record_key"], how="left")
    deterministic = deterministic.with_columns(_distinguishing_evidence(names).alias("other_evidence_weight"))
    shareable = pl.col("rule").is_in(SHAREABLE_RULES)
    weak = (
        shareable
        & pl.col("other_evidence_weight").is_not_null()
        & (pl.col("other_evidence_weight") < veto_weight)
    )
    deterministic = deterministic.with_columns(
        weak.alias("vetoed"),
        pl.when(weak)
        .then(pl.format("first name and date of birth evidence {} is below the veto weight {}", pl.col("other_evidence_weight").round(1), pl.lit(veto_weight)))
        .alias("veto_reason"),
    )
    splink_edges = scores.filter(pl.col("match_probability") >= match_threshold).with_columns(
        pl.lit("splink").alias("rule"),
        pl.lit(None, pl.Float64).alias("other_evidence_weight"),
        pl.lit(False).alias("vetoed"),
        pl.lit(None, pl.String).alias("veto_reason"),
    )
    pairs_scored = con.execute(f"select count(*) from {SCORES_TABLE}").fetchall()[0][0]
    edges = pl.concat([_with_columns(deterministic, EDGE_COLUMNS), _with_columns(splink_edges, EDGE_COLUMNS)], how="vertical_relaxed")
    return IdentityGraph(edges, names, pairs_scored, signature, plan)


def _score(con: duckdb.DuckDBPyConnection, model: dict, threshold: float, term_frequencies: dict[str, str],
           plan: ScoringPlan) -> None:
    """Every scored pair (record_key < linked_record_key), as a full run scores them, into SCORES_TABLE:
    with Splink when full, else the stored scores of unchanged records plus Splink's for the rest."""
    vetoable = f"{SCRATCH}.deterministic_pairs"
    if not plan.incremental:
        score_pairs(con, model, threshold, keep_pairs=vetoable, term_frequencies=term_frequencies, into=_temporary(SCORES_TABLE))
        _rename_keys(con, SCORES_TABLE)
        return
    reuse_scores(con, vetoable, _temporary(SCORES_TABLE))
    # The vetoable pairs still to score: those without a reusable score.
    con.execute(
        f"""create table {SCRATCH}.pairs_to_score as select * from {vetoable} as v
        anti join {SCORES_TABLE} as r on r.record_key = v.record_key_l and r.linked_record_key = v.record_key_r"""
    )
    # Marks the new or changed records, and keeps those they can pair with: the same pairs from fewer records.
    keep_possible_partners(con, model, f"{SCRATCH}.pairs_to_score")
    score_pairs(con, model, threshold, keep_pairs=f"{SCRATCH}.pairs_to_score",
                term_frequencies=term_frequencies, only_pairs_of=DIRTY, into=_temporary(NEW_SCORES_TABLE))
    _rename_keys(con, NEW_SCORES_TABLE)
    con.execute(f"insert into {SCORES_TABLE} by name select * from {NEW_SCORES_TABLE}")
    con.execute(f"drop table {NEW_SCORES_TABLE}")


def _rename_keys(con: duckdb.DuckDBPyConnection, table: str) -> None:
    for old, new in RENAMED.items():
        con.execute(f"alter table {table} rename column {old} to {new}")


def read_links(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The deterministic links: pairs (smaller key, larger key) like Splink's, one row per pair and rule."""
    return con.sql(f"select record_key, linked_record_key, rule from {LINKS_TABLE}").pl()


def _create_vetoable_pairs(con: duckdb.DuckDBPyConnection, rules: list[str]) -> None:
    """The pairs whose Splink score the veto needs, as table deterministic_pairs
    of the scratch database: links on identifiers that families share, between
    records with a first name or a date of birth (a bare record has no evidence
    to veto on)."""
    con.execute(
        f"""create table {SCRATCH}.deterministic_pairs as
        select links.record_key as record_key_l, links.linked_record_key as record_key_r
        from {LINKS_TABLE} as links
        join {RECORDS_TABLE} as l on l.record_key = links.record_key
        join {RECORDS_TABLE} as r on r.record_key = links.linked_record_key
        where list_contains(?::varchar[], links.rule)
          and (l.first_name_norm is not null or l.date_of_birth is not null)
          and (r.first_name_norm is not null or r.date_of_birth is not null)""",
        [rules],
    )


def attach_bare_records(edges: pl.DataFrame, described: pl.Series, all_keys: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Veto the links of records that carry nothing but a shared identifier
    (a consent event for a family email) when the described records they
    point to turned out to be different people: which of them it belongs to
    cannot be known, so it stays apart rather than be given to the wrong one.

    Returns the edges with those vetoes, and the clusters (record_key,
    cluster) of the links that stand. `all_keys` are unique; the work is on
    their positions (integers), not on the keys."""
    nodes = pl.DataFrame({"record_key": all_keys}).with_row_index("node")
    is_described = nodes["record_key"].is_in(described.implode()).to_numpy()
    left, right = edge_nodes(edges, nodes)
    active = ~edges["vetoed"].to_numpy()
    attachment = (edges["rule"] != "splink").to_numpy() & (is_described[left] != is_described[right])
    core = components(nodes.height, left[active & ~attachment], right[active & ~attachment])

    # Each attachment: the bare record's core cluster and the person's.
    rows = np.flatnonzero(active & attachment)
    left_described = is_described[left[rows]]
    bare_cluster = core[np.where(left_described, right[rows], left[rows])]
    person_cluster = core[np.where(left_described, left[rows], right[rows])]
    # Bare records already linked to each other decide together.
    persons = (
        pl.DataFrame({"bare_cluster": bare_cluster, "person_cluster": person_cluster})
        .group_by("bare_cluster")
        .agg(pl.col("person_cluster").n_unique().alias("persons"))
    )
    persons_of_cluster = np.zeros(nodes.height, dtype=np.int64)
    persons_of_cluster[persons["bare_cluster"].to_numpy()] = persons["persons"].to_numpy()
    persons_per_row = persons_of_cluster[bare_cluster]

    ambiguous = np.zeros(edges.height, dtype=np.int64)
    ambiguous[rows] = np.where(persons_per_row > 1, persons_per_row, 0)
    ambiguous = pl.Series("persons", ambiguous)
    edges = edges.with_columns(
        (pl.col("vetoed") | (ambiguous > 0)).alias("vetoed"),
        pl.when(ambiguous > 0)
        .then(pl.format("only a shared identifier, which {} different people have", ambiguous))
        .otherwise(pl.col("veto_reason"))
        .alias("veto_reason"),
    )
    # The persons: the core clusters joined through the attachments that stand
    # (the same components as all unvetoed links, without clustering them again).
    standing = persons_per_row == 1
    person = components(nodes.height, bare_cluster[standing], person_cluster[standing])[core]
    return edges, nodes.select("record_key", pl.Series("cluster", person, dtype=pl.Int64))


def _distinguishing_evidence(names: list[str]) -> pl.Expr:
    """Sum of the weights of the comparisons that tell household members apart."""
    others = [pl.col(f"mw_{name}").fill_null(0.0) for name in names if name in DISTINGUISHING_COMPARISONS]
    if not others:
        return pl.lit(None, pl.Float64)
    total = pl.sum_horizontal(others)
    return pl.when(pl.col("match_weight").is_null()).then(None).otherwise(total)


def _with_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    return frame.with_columns(pl.lit(None).alias(c) for c in missing).select(columns)
