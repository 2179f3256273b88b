"""The best-link pass: census-style linkage between duplicate-free sources.

A census return, a tax file, two extracts of one register: each holds a
person at most once, so a record of one such source has at most one
counterpart in another. Census linkers use that: below the match threshold,
a pair is still linked when each record is the other's clearly best
candidate in the other's source (strict passes first, this looser one
after). Splink's `cluster_using_single_best_links` builds on the same fact.

After the passes above, two records of two different duplicate-free sources
are *candidates* when Splink scores them at least the best-link floor
(`identity.best_link_min_probability`) but under the match threshold, they
are in two persons, and neither person holds a record of the other's source.
The main scoring keeps only pairs at the threshold, so these pairs are scored
here, with the same model and frozen term frequencies, over the records of the
duplicate-free sources only, and only when there are two such sources (none in
our generator's data: there the pass costs nothing).
A pair is linked when, on both sides, it is the record's best candidate in
the other's source by at least the ambiguity margin (a tie stays apart), and
the joined person holds no conflicting records, no two records of one
duplicate-free source and no pair under a cannot-link decision (the checks
of identity.household_pass).

Where the records show households (household safety on), at least one of the
two records must be fully described (a first name beyond an initial, and a
date of birth), and a partial one, a tax form with a name and an address,
joins it only when the model finds both their surnames and their first names
alike (Splink's last-name and first-name weights above zero; an initial that
fits counts). An address alone is a household's evidence, not a person's: a
form of another surname, or without a first name, stays apart; one that fits
a father and his adult son as well is a tie. Two partial records never join
here. This is how census linkers reach people who moved: their forms at the
new address carry no date of birth. Measured on the town benchmark (5,000
people, 1x / 5x noise) and on pseudopeople (1x / 5x), precision / recall,
partial records left out -> let in with alike names: town 0.9969 / 0.9135 ->
0.9957 / 0.9252 and 0.9935 / 0.7560 -> 0.9922 / 0.7672; pseudopeople 0.9968 /
0.9571 -> 0.9958 / 0.9595 and 0.9852 / 0.6926 -> 0.9823 / 0.7099. Most wrong
links left are namesakes at another address whose own counterpart is missing
or garbled; with any names (a form without a first name too) pseudopeople at 5x
gave 0.9811 / 0.7101: most such forms went to another member of the household.
Among sources with duplicates there is no "one counterpart" to rely on:
FEBRL 3 (one source, up to nine copies of a person) lost precision 0.999 ->
0.95 when the pass took them in. Joins are edges of rule 'best_link'.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

from dagster_project.identity.decisions import rule_edges
from dagster_project.identity.household_pass import join_groups
from dagster_project.identity.splink_model import score_pairs
from dagster_project.identity.splink_prepare import prepare_records, scratch_database
from dagster_project.identity.term_frequencies import frozen_lookups

BEST_LINK_RULE = "best_link"
ACCEPTED_SCHEMA = pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String, "reason": pl.String})
CANDIDATE_SCHEMA = {"record_key": pl.String, "linked_record_key": pl.String, "match_probability": pl.Float64,
                    "match_weight": pl.Float64, "names_agree": pl.Boolean}
_RECORDS_VIEW = "best_link_records"
# Splink's level and weight per comparison (gamma_X, mw_X) of each best link: identity.edges
# takes them (resolve._write_edges), and `cdp explain` shows which names were alike.
COMPARISON_COLUMNS = pl.col("^(gamma|mw)_.*$")


def best_link_candidates(con: duckdb.DuckDBPyConnection, records: str, model_path: Path, sources: list[str], *,
                         floor: float, threshold: float) -> pl.DataFrame:
    """Splink's pairs of records of two different `sources` (the duplicate-free ones) scored at least
    `floor` and under `threshold` (CANDIDATE_SCHEMA); none unless there are two sources."""
    if len(sources) < 2 or floor >= threshold:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    model = json.loads(Path(model_path).read_text())
    listed = ", ".join("'" + source.replace("'", "''") + "'" for source in sorted(sources))
    con.execute(f"create or replace temp view {_RECORDS_VIEW} as select * from {records} where source in ({listed})")
    try:
        with scratch_database(con):
            prepare_records(con, _RECORDS_VIEW)
            scores = score_pairs(con, model, floor, term_frequencies=frozen_lookups(con, model, Path(model_path)))
        source_of = con.sql(f"select record_key, source from {_RECORDS_VIEW}").pl()
    finally:
        con.execute(f"drop view if exists {_RECORDS_VIEW}")
    return (scores.rename({"record_key_l": "record_key", "record_key_r": "linked_record_key"})
            .filter(pl.col("match_probability") < threshold)
            .with_columns(_names_agree(scores.columns))
            .join(source_of, on="record_key").join(source_of.rename({"record_key": "linked_record_key", "source": "linked_source"}),
                                                   on="linked_record_key")
            .filter(pl.col("source") != pl.col("linked_source"))
            .select(*CANDIDATE_SCHEMA, COMPARISON_COLUMNS).cast(CANDIDATE_SCHEMA))


def _names_agree(columns: list[str]) -> pl.Expr:
    """The model finds both the surnames and the first names alike (see the module docstring);
    false under a model without both comparisons."""
    if not {"mw_first_name", "mw_last_name"} <= set(columns):
        return pl.lit(False).alias("names_agree")
    return ((pl.col("mw_last_name") > 0) & (pl.col("mw_first_name") > 0)).fill_null(False).alias("names_agree")


def best_link_pass(con: duckdb.DuckDBPyConnection, records: str, candidates: pl.DataFrame, edges: pl.DataFrame,
                   clusters: pl.DataFrame, one_per_person: pl.DataFrame, *, full_records: pl.Series, margin: float,
                   household_safe: bool, cannot_link: pl.DataFrame | None = None,
                   ) -> tuple[pl.DataFrame, pl.DataFrame, int, pl.DataFrame, pl.DataFrame]:
    """Link the best candidates between duplicate-free sources (see the module docstring).
    `candidates` are Splink pairs under the threshold (CANDIDATE_SCHEMA: names_agree says whether a
    partial record may join, see the module docstring); `one_per_person` (record_key, source) the
    records of duplicate-free sources. Returns the edges with the best links added, the new clusters,
    how many persons were joined into another, and the conflicting pairs joined (household safety off:
    record_key_l, record_key_r, reason), which identity.accepted_conflicts keeps, and the best links'
    comparison columns (record_key, linked_record_key, gamma_X and mw_X as the candidates have them)."""
    links = best_links(candidates, clusters, one_per_person, full_records=full_records, margin=margin,
                       household_safe=household_safe)
    if links.is_empty():
        return edges, clusters, 0, ACCEPTED_SCHEMA.clear(), links.select("record_key", "linked_record_key", COMPARISON_COLUMNS)
    clusters, kept, joined, accepted = join_groups(con, records, links, clusters, one_per_person, cannot_link,
                                         weighed_conflicts_allowed=not household_safe)
    added = rule_edges(kept.select("record_key", "linked_record_key", "match_probability", "match_weight"),
                       BEST_LINK_RULE, dict(edges.schema))
    accepted = accepted.with_columns(("household safety off, best-link pass: " + pl.col("reason")).alias("reason"))
    scores = kept.select("record_key", "linked_record_key", COMPARISON_COLUMNS)
    return pl.concat([edges, added], how="vertical"), clusters, joined, accepted, scores


def best_links(candidates: pl.DataFrame, clusters: pl.DataFrame, one_per_person: pl.DataFrame, *,
               full_records: pl.Series, margin: float, household_safe: bool) -> pl.DataFrame:
    """The candidate pairs that are each record's clearly best candidate in the other's source:
    record_key, linked_record_key, match_probability, match_weight, cluster_l, cluster_r and the
    candidates' comparison columns."""
    side = lambda s: {"record_key": f"record_key_{s}", "source": f"source_{s}", "cluster": f"cluster_{s}"}  # noqa: E731
    placed = one_per_person.join(clusters, on="record_key")
    pairs = (candidates.rename({"record_key": "record_key_l", "linked_record_key": "record_key_r"})
             .join(placed.rename(side("l")), on="record_key_l")
             .join(placed.rename(side("r")), on="record_key_r")
             .filter((pl.col("source_l") != pl.col("source_r")) & (pl.col("cluster_l") != pl.col("cluster_r"))))
    if household_safe:  # both full, or one full and the names agree
        full = full_records.implode()
        full_l, full_r = pl.col("record_key_l").is_in(full), pl.col("record_key_r").is_in(full)
        pairs = pairs.filter((full_l & full_r) | ((full_l | full_r) & pl.col("names_agree")))
    # Neither person holds a record of the other's source already.
    held = placed.select("cluster", "source").unique()
    for this, other in (("l", "r"), ("r", "l")):
        pairs = pairs.join(held.rename({"cluster": f"cluster_{this}", "source": f"source_{other}"}),
                           on=[f"cluster_{this}", f"source_{other}"], how="anti")
    best = [_clearly_best(pairs, this, other, margin) for this, other in (("l", "r"), ("r", "l"))]
    mutual = pairs.join(best[0], on=["record_key_l", "record_key_r"]).join(best[1], on=["record_key_l", "record_key_r"])
    return (mutual.sort("record_key_l", "record_key_r")
            .select(pl.col("record_key_l").alias("record_key"), pl.col("record_key_r").alias("linked_record_key"),
                    "match_probability", "match_weight", "cluster_l", "cluster_r", COMPARISON_COLUMNS))


def _clearly_best(pairs: pl.DataFrame, this: str, other: str, margin: float) -> pl.DataFrame:
    """Per record of side `this` and source of side `other`: its best pair, when it leads the
    runner-up by `margin` or has none (record_key_l, record_key_r)."""
    ranked = pairs.sort("match_weight", "record_key_l", "record_key_r", descending=[True, False, False]).group_by(
        f"record_key_{this}", f"source_{other}").agg(
        pl.col(f"record_key_{other}").first(), pl.col("match_weight").alias("weights"))
    leads = pl.col("weights").list.get(0) - pl.col("weights").list.get(1, null_on_oob=True)
    return ranked.filter(pl.col("weights").list.len().eq(1) | (leads >= margin)).select("record_key_l", "record_key_r")
