"""Probabilistic identity matching with Splink 5 on DuckDB.

Deterministic links (same email, phone, loyalty id; device logins) are made
elsewhere; this module scores the pairs they cannot decide: typos,
nicknames, swapped names, moved house, missing fields.

- train_model: unsupervised Fellegi-Sunter training, saved as Splink JSON;
- score_pairs: scored pairs from a saved model (no retraining) over records
  prepared in the scratch database, with per-comparison gamma levels and
  weights for explaining a link later, plus given pairs whatever their score,
  scored on their own (identity.graph);
- explain_pair / waterfall_chart_html: human-readable evidence for a pair.

All work happens in an in-memory scratch database attached to the caller's
connection (splink_prepare.scratch_database): nothing is written to the
warehouse and the connection is left as it was found.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import polars as pl
from splink import DuckDBAPI, Linker, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from dagster_project.identity.splink_prepare import (
    DEFAULT_BLOCK_CAP,
    PREPARED,
    SCRATCH,
    fill_rates,
    prepare_records,
    scratch_database,
)
from dagster_project.identity.representatives import (
    GROUPS,
    REPRESENTATIVES,
    SELF_BLOCKED,
    expand_to_records,
    group_records,
    pairs_to_score_again,
)
from dagster_project.identity.term_frequencies import freeze_term_frequencies, frozen_lookups, tf_columns
from dagster_project.identity.splink_settings import (
    DEFAULT_MIN_FILL,
    build_spec,
    gate_households_on_birth_dates,
    populated_fields,
)

if TYPE_CHECKING:
    from splink.internals.splink_dataframe import SplinkDataFrame

__all__ = ["train_model", "score_pairs", "explain_pair", "waterfall_chart_html", "blocking_rule_counts"]

SELECTED = "splink_selected"
KEPT_PAIRS = "splink_kept_pairs"  # in the scratch database, the current one while Splink runs
REPRESENTATIVE_SCORES = "splink_representative_scores"  # the representatives' pairs, main pass
REPRESENTATIVE_SCORES_AGAIN = "splink_representative_scores_again"  # and the registered-pairs pass


def _open_linker(con: duckdb.DuckDBPyConnection, settings: Any, table: str = PREPARED) -> tuple[Linker, DuckDBAPI, SplinkDataFrame]:
    """A Linker over the prepared table (or `table` of the scratch database); the scratch
    database becomes current so that Splink's own tables are created there."""
    con.execute(f"use {SCRATCH}")
    db_api = DuckDBAPI(con)
    records = db_api.register(table)
    # log_level=None: leave logging configuration to the application.
    return Linker(records, settings, log_level=None), db_api, records


def train_model(
    con: duckdb.DuckDBPyConnection,
    records_table: str,
    model_path: str | Path,
    *,
    seed: int = 42,
    max_pairs: float = 5e6,
    em_max_pairs: float | None = 5e6,
    deterministic_recall: float = 0.7,
    min_fill: float = DEFAULT_MIN_FILL,
    block_cap: int = DEFAULT_BLOCK_CAP,
    household_levels: bool = True,
) -> dict:
    """Train unsupervised and save the model JSON to `model_path`; returns a summary.

    `household_levels` False: for data without households (identity.household_safe:
    false), an address, email or phone shared under different first names counts.

    - probability two random records match: from near-certain deterministic
      rules, assuming they find `deterministic_recall` of the true matches, to
      train with; then the model's own expected share of matches
      (self_consistent_prior);
    - u: from `max_pairs` random pairs (random pairs are almost all non-matches), seeded;
    - m: expectation maximisation over two or more blocking rules (`em_max_pairs`
      caps the pairs per rule, sampled deterministically).
    """
    started = time.perf_counter()
    with scratch_database(con):
        records_count = prepare_records(con, records_table, block_cap=block_cap)
        fill = fill_rates(con)
        spec = build_spec(populated_fields(fill, min_fill), household=household_levels)
        linker, _, records = _open_linker(con, spec.settings())

        linker.training.estimate_probability_two_random_records_match(
            [block_on(*cols) for cols in spec.deterministic_rules], recall=deterministic_recall
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        # Small inputs use every blocked pair (Splink's sampling probe would find none).
        em_pairs = em_max_pairs if records_count > 100_000 else None
        for cols in spec.em_rules:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*cols), max_pairs=em_pairs)
        training_seconds = time.perf_counter() - started

        counts, sample = blocking_rule_counts(records, spec.blocking_rules, records_count)
        sampled = linker.misc.save_model_to_json()  # u as sampled, the prior from the rules
        model, adjusted = _finish_model(sampled, sampled["probability_two_random_records_match"], ASSUMED_PRIOR_KEEPS_U, max_pairs)
        Path(model_path).write_text(json.dumps(model, indent=2), encoding="utf-8")
        # The training records' term frequencies, which every run then scores with.
        freeze_term_frequencies(con, model, Path(model_path))
    # The prior the model itself expects, and u without the matches it implies, in turn.
    assumed_prior = sampled["probability_two_random_records_match"]
    with prior_sample(con, records_table, records_count, block_cap=block_cap) as pairs:
        term_frequencies = frozen_lookups(con, model, Path(model_path))
        prior = self_consistent_prior(con, model, term_frequencies, pairs)
        for _ in range(PRIOR_ROUNDS - 1):
            model, adjusted = _finish_model(sampled, prior, SELF_CONSISTENT_PRIOR_KEEPS_U, max_pairs)
            prior = self_consistent_prior(con, model, term_frequencies, pairs)
    model["probability_two_random_records_match"] = prior
    Path(model_path).write_text(json.dumps(model, indent=2), encoding="utf-8")

    total = counts[-1]["cumulative_comparisons"] if counts else 0
    return {
        "records": records_count,
        "fields_used": sorted(spec.fields),
        "fill_rates": {k: round(v, 4) for k, v in fill.items()},
        "comparisons": {c.name: [level["label_for_charts"] for level in c.levels] for c in spec.comparisons},
        "blocking_rules": counts,
        "blocking_counts_sample": sample,  # share of the records counted on (1.0: exact counts)
        "comparisons_to_score": total,
        "comparisons_per_record": round(total / records_count, 2) if records_count else 0.0,
        "deterministic_rules": [" & ".join(cols) for cols in spec.deterministic_rules],
        "em_blocking_rules": [" & ".join(cols) for cols in spec.em_rules],
        "probability_two_random_records_match": model["probability_two_random_records_match"],
        "probability_from_the_deterministic_rules": assumed_prior,
        "levels_adjusted": adjusted,
        "training_seconds": round(training_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),  # with the blocking counts
        "model_path": str(model_path),
    }


# Rounds of (u without the prior's matches, then the prior the model expects).
PRIOR_ROUNDS = 3
# Share of its sampled u a level keeps at least: half under the prior from the rules,
# whose assumed recall can be far off; a twentieth under the self-consistent prior.
ASSUMED_PRIOR_KEEPS_U = 0.5
SELF_CONSISTENT_PRIOR_KEEPS_U = 0.05


def _finish_model(sampled: dict, prior: float, keeps_u: float, max_pairs: float) -> tuple[dict, list[str]]:
    """The model to score with: `sampled` (Splink's trained model, u as sampled) under `prior`,
    u without the matches the prior implies, the weights guarded, the household levels gated;
    and the levels the guard changed."""
    model = json.loads(json.dumps(sampled))
    model["probability_two_random_records_match"] = prior
    deduct_matches_from_u(model, keeps=keeps_u, floor=1 / max_pairs)
    adjusted = guard_weights(model, unobserved_u=1 / max_pairs)
    gate_households_on_birth_dates(model)
    return model, adjusted


# Records the prior is re-estimated on (all of them when fewer): matches and pairs
# shrink alike in a uniform sample, so their ratio holds.
PRIOR_SAMPLE_RECORDS = 50_000
# Pairs scored under this probability (at the assumed prior) add next to nothing to the sum.
PRIOR_SCORE_FLOOR = 0.001


@contextlib.contextmanager
def prior_sample(con: duckdb.DuckDBPyConnection, records_table: str, records_count: int, *,
                 block_cap: int) -> Iterator[float]:
    """A scratch session holding the records the prior is estimated on, prepared once for
    every round: all of them, or a uniform sample of PRIOR_SAMPLE_RECORDS. Yields their
    number of pairs."""
    sampled = min(records_count, PRIOR_SAMPLE_RECORDS)
    source = records_table
    if records_count > PRIOR_SAMPLE_RECORDS:
        source = "prior_sample"
        con.execute(f"""create or replace temp view {source} as select * from {records_table}
                        order by hash(record_key), record_key limit {PRIOR_SAMPLE_RECORDS}""")
    try:
        with scratch_database(con):
            prepare_records(con, source, block_cap=block_cap)
            yield sampled * (sampled - 1) / 2
    finally:
        con.execute("drop view if exists prior_sample")


def self_consistent_prior(con: duckdb.DuckDBPyConnection, model: dict, term_frequencies: Mapping[str, str],
                          pairs: float) -> float:
    """The probability that two random records match, as the trained model itself expects it.

    The deterministic rules' recall is assumed (0.7), and data decide how wrong that
    is: measured against ground truth the prior came out 0.47-0.66x the true one on
    FEBRL 1-4 (names and birth dates corrupted together, so the rules find fewer
    matches), 0.28x on the town holdout at 5x noise and 1.24x on the pseudopeople
    census; every pair's probability moved by as much. With m and u trained, the
    prior that agrees with them is the fixed point of prior = sum over pairs of
    P(match | the pair's comparisons, prior) / pairs: an EM step on the prior alone.
    Summed over the blocked pairs of a uniform sample of records (pairs never
    blocked or under PRIOR_SCORE_FLOOR add next to nothing), it came out 0.97-0.99x
    the true prior on FEBRL 1-4, 1.02x on pseudopeople at 5x noise, 1.15-1.40x
    where households share addresses (the town, pseudopeople at 1x). Records with
    no field to compare (a receipt with an email only) join their person through
    others, never in a scored pair, so their matches are not counted. Runs once
    per training round, over the records prior_sample prepared (`pairs`: all their pairs).
    """
    prior = model["probability_two_random_records_match"]
    if pairs < 1:
        return prior
    scored = score_pairs(con, model, PRIOR_SCORE_FLOOR, term_frequencies=term_frequencies)
    evidence = scored["match_weight"].to_numpy() - math.log2(prior / (1 - prior))
    for _ in range(100):
        expected = float((1 / (1 + np.exp2(-(evidence + math.log2(prior / (1 - prior)))))).sum())
        updated = min(max(expected / pairs, 1e-12), 0.5)
        if abs(updated - prior) <= 1e-4 * prior:
            return updated
        prior = updated
    return prior


def deduct_matches_from_u(model: dict, keeps: float = ASSUMED_PRIOR_KEEPS_U, floor: float = 0.0) -> None:
    """Take the true matches out of each level's u, leaving at least `keeps` of it (and `floor`).

    u is the share of random pairs at a level, and a random pair is a true match
    with the prior's probability: u = prior * m + (1 - prior) * u_non_match. When
    people have many records among few (FEBRL: up to nine copies of a person in
    5,000 records), matches are half the random pairs that agree on an address,
    which halves that level's Bayes factor. (Exact levels adjusted by term
    frequency weigh by the value's frequency instead of their u.) Under the prior
    from deterministic rules, whose recall is assumed, at most half of u is taken
    out (at most one bit added to a level's weight): that prior can be twice too
    high (the pseudopeople census: matches alone would explain more same-birthday
    pairs than were sampled). Under the self-consistent prior, up to 95%: in FEBRL,
    with no households and no neighbours at one address, nearly every random pair
    that shares an address is a match.
    """
    prior = model["probability_two_random_records_match"]
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None:
                continue
            level["u_probability"] = max((u - prior * m) / (1 - prior), u * keeps, floor)


# Share of true matches assumed to disagree on any one field, at least: typos
# beyond the fuzzy levels, a surname changed on marriage, a new phone.
MIN_M_DIFFERENT = 0.005
# A level that EM gives less than this share of true matches was not seen
# among the training matches (no nicknames in the data, no one-digit date
# typos): its weight is not known, so it counts as no evidence.
UNSEEN_M = 1e-4


def guard_weights(model: dict, *, unobserved_u: float) -> list[str]:
    """Bound how strongly one comparison can speak against a match.

    EM can push m of a rarely seen level to ~0 (weight -40: one typo would veto
    a match) and leaves no estimate for a level seen in no training pair. So:
    "different" keeps m >= MIN_M_DIFFERENT; a partial agreement that EM did
    not see among matches (m < UNSEEN_M: the training data had no nicknames,
    no one-digit date typos) is no evidence either way (m = u), instead of
    counting as much against a match as total disagreement when such a typo
    turns up in later or noisier data; and no agreement level may count
    against a match more than "different" does (a level never seen among
    random pairs gets u = `unobserved_u`, below 1 / pairs sampled).
    Returns the levels changed, for the training summary.
    """
    changed = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        different = levels[-1]
        if not different.get("u_probability"):
            continue
        if (different.get("m_probability") or 0.0) < MIN_M_DIFFERENT:
            different["m_probability"] = MIN_M_DIFFERENT
            changed.append(f"{name}: {different.get('label_for_charts')}")
        floor = different["m_probability"] / different["u_probability"]
        for level in levels[:-1]:
            if level.get("fix_m_probability"):
                continue  # set by design (household levels)
            u = level.get("u_probability") or unobserved_u
            m = level.get("m_probability")
            if m is None or m < UNSEEN_M:
                m = u
            m = max(m, u * floor)
            if (m, u) != (level.get("m_probability"), level.get("u_probability")):
                level["m_probability"], level["u_probability"] = m, u
                changed.append(f"{name}: {level.get('label_for_charts')}")
    return changed


# Blocking counts are exact up to this many records; above, estimated from a sample of this many
# (Splink scales the sampled pairs up). Counting every pair of 8.5 million records (1,000,000
# people) took 63 s of training, only to report the counts; the sample, 4 s and within 2%.
COUNT_SAMPLE_RECORDS = 1_000_000


def blocking_rule_counts(
    records: SplinkDataFrame, keys: Sequence[str], records_count: int, sample_records: int = COUNT_SAMPLE_RECORDS,
) -> tuple[list[dict], float]:
    """Comparisons generated by each prediction rule (marginal: not found by an earlier rule), and
    the share of the records they were counted on (1.0: exact; less: an estimate)."""
    sample = min(1.0, sample_records / records_count) if records_count else 1.0
    if not keys:
        return [], sample
    with warnings.catch_warnings():
        # Splink warns when a rule's estimate rests on few sampled pairs: a rare rule's, known to be rough.
        warnings.filterwarnings("ignore", message="The sampled blocking analysis estimate", category=UserWarning)
        raw = count_comparisons_from_blocking_rules(
            records,
            blocking_rules=[block_on(key) for key in keys],
            link_type="dedupe_only",
            unique_id_column_name="record_key",
            record_sample_proportion=sample,
        )
    counts = [
        {"rule": key, "comparisons": round(r["marginal_comparison_count"]),
         "cumulative_comparisons": round(r["cumulative_comparison_count"])}
        for key, r in zip(keys, raw)
    ]
    return counts, sample


def _comparison_names(model: Mapping) -> list[str]:
    return [c["output_column_name"] for c in model["comparisons"]]


def score_pairs(
    con: duckdb.DuckDBPyConnection,
    model: Mapping,
    threshold: float | None,
    *,
    keep_pairs: str | None = None,
    term_frequencies: Mapping[str, str] | None = None,
    only_pairs_of: str | None = None,
    into: str | None = None,
    by_representatives: bool = True,
) -> pl.DataFrame | None:
    """Splink predictions over the records prepared in the open scratch
    database (splink_prepare.prepare_records): the blocked pairs at or above `threshold`
    (all of them when None), plus the pairs listed in the `keep_pairs` table
    (record_key_l < record_key_r) whatever their score, e.g. deterministic
    links whose evidence a veto needs. Unordered; column from_blocking tells
    the first kind; Splink's tables are dropped afterwards.

    `term_frequencies` (column -> lookup table in the scratch database, see
    identity.term_frequencies) replace the frequencies Splink would compute
    from the records. `only_pairs_of`, a boolean column of the prepared
    records, restricts the blocked pairs to those with a record where it is
    true (an incremental run: the new and changed records).

    The kept pairs are scored in a second, small pass over exactly those
    pairs (Splink's registered blocked pairs), so the main pass keeps its
    threshold and never materialises every blocked pair's score.

    With frozen term frequencies for every adjusted column, Splink scores one record per group
    of identical prepared records, and the scores are given to every record of the group
    (identity.representatives): the same pairs and scores, for fewer comparisons
    (`by_representatives` False: every record, e.g. to check that).

    With `into`, the pairs are written to that temporary table (temp.main.<into>)
    instead of returned: millions of them at scale, which then stay in DuckDB
    (within its memory limit) rather than in Python."""
    if only_pairs_of is not None:
        model = _restricted_blocking(model, only_pairs_of)
    if by_representatives and set(tf_columns(model)) <= set(term_frequencies or {}):
        query, scored = _score_representatives(con, model, threshold, keep_pairs, term_frequencies or {}, only_pairs_of)
    else:
        query, scored = _score_records(con, model, threshold, keep_pairs, term_frequencies or {})
    result = None
    if into is None:
        result = con.sql(query).pl()
    else:
        con.execute(f"create or replace temp table {into} as {query}")
    for table in scored:
        con.execute(f"drop table if exists {table}")
    return result


def _linker_with_frequencies(con: duckdb.DuckDBPyConnection, model: Mapping, term_frequencies: Mapping[str, str],
                             table: str = PREPARED) -> tuple[Linker, DuckDBAPI]:
    linker, db_api, _ = _open_linker(con, model, table)
    for column, lookup in term_frequencies.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    return linker, db_api


def _score_records(con: duckdb.DuckDBPyConnection, model: Mapping, threshold: float | None, keep_pairs: str | None,
                   term_frequencies: Mapping[str, str]) -> tuple[str, list[str]]:
    """Splink over every prepared record: the query of score_pairs' result, and the tables it reads."""
    linker, db_api = _linker_with_frequencies(con, model, term_frequencies)
    above = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    columns = {d[0] for d in con.execute(f"select * from {above.physical_name} limit 0").description}
    select = f"select {', '.join(_output_columns(model, columns))}"
    query = f"{select}, true as from_blocking from {above.physical_name} as p"
    scored = [above.physical_name]
    if keep_pairs is not None:
        # Only those the main pass did not return (most score above the threshold).
        con.execute(
            f"""create or replace table {KEPT_PAIRS} as
            select distinct '0' as match_key, k.record_key_l as join_key_l, k.record_key_r as join_key_r
            from {keep_pairs} as k anti join {above.physical_name} as p using (record_key_l, record_key_r)"""
        )
        linker.table_management.register_blocked_pairs_for_predict(db_api.register(KEPT_PAIRS))
        kept = linker.inference.predict(warning_mode="never")
        scored += [kept.physical_name, KEPT_PAIRS]
        query += f" union all {select}, false from {kept.physical_name} as p"
    return query, scored


def _score_representatives(con: duckdb.DuckDBPyConnection, model: Mapping, threshold: float | None,
                           keep_pairs: str | None, term_frequencies: Mapping[str, str],
                           dirty: str | None) -> tuple[str, list[str]]:
    """Splink over one record per group of identical prepared records (identity.representatives),
    expanded to every record: the query of score_pairs' result, and the tables it reads.
    Needs frozen term frequencies: Splink's own would count the representatives only."""
    con.execute(f"use {SCRATCH}")  # the groups' tables live there, beside Splink's
    group_records(con, model, dirty)
    linker, db_api = _linker_with_frequencies(con, model, term_frequencies, REPRESENTATIVES)
    predicted = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    _select_output_columns(con, model, predicted, REPRESENTATIVE_SCORES)
    pairs_to_score_again(con, REPRESENTATIVE_SCORES, keep_pairs, KEPT_PAIRS)
    linker.table_management.register_blocked_pairs_for_predict(db_api.register(KEPT_PAIRS))
    _select_output_columns(con, model, linker.inference.predict(warning_mode="never"), REPRESENTATIVE_SCORES_AGAIN)
    query = expand_to_records(REPRESENTATIVE_SCORES, REPRESENTATIVE_SCORES_AGAIN, keep_pairs, threshold, dirty)
    return query, [REPRESENTATIVE_SCORES, REPRESENTATIVE_SCORES_AGAIN, KEPT_PAIRS, GROUPS, REPRESENTATIVES, SELF_BLOCKED]


def _select_output_columns(con: duckdb.DuckDBPyConnection, model: Mapping, predicted: SplinkDataFrame, into: str) -> None:
    """Table `into` with the columns score_pairs returns of Splink's predictions; Splink's table dropped."""
    columns = {d[0] for d in con.execute(f"select * from {predicted.physical_name} limit 0").description}
    con.execute(f"create or replace table {into} as select {', '.join(_output_columns(model, columns))} from {predicted.physical_name} as p")
    predicted.drop_table_from_database_and_remove_from_cache()


def _restricted_blocking(model: Mapping, column: str) -> dict:
    """The model with every prediction blocking rule also requiring `column` of either record."""
    rules = [
        {**rule, "blocking_rule": f'({rule["blocking_rule"]}) and (l."{column}" or r."{column}")'}
        for rule in model["blocking_rules_to_generate_predictions"]
    ]
    return {**model, "blocking_rules_to_generate_predictions": rules}


def _output_columns(model: Mapping, columns: set[str]) -> list[str]:
    parts = ["record_key_l", "record_key_r", "match_probability", "match_weight"]
    for name in _comparison_names(model):
        # Splink 5 reports log2 weights: mw_X, plus mw_tf_adj_X where term frequencies apply.
        mw = f"p.mw_{name}"
        if f"mw_tf_adj_{name}" in columns:
            mw = f"(p.mw_{name} + p.mw_tf_adj_{name})"
        parts += [f"gamma_{name}", f"pow(2, {mw}) as bf_{name}", f"{mw} as mw_{name}"]
    return parts


def explain_pair(row: Mapping[str, Any], model: str | Path | Mapping) -> list[str]:
    """One line per comparison, e.g. "first_name: nickname match (+3.1)", for a score_pairs row.

    Preceded by the prior (how unlikely any two records are to match) and
    followed by the total, so the lines add up to the pair's match weight.
    `model` is the saved model's path, or its JSON already loaded (for many rows).
    """
    if not isinstance(model, Mapping):
        model = json.loads(Path(model).read_text())
    prior = model["probability_two_random_records_match"]
    lines = [f"prior (any two records match): {math.log2(prior / (1 - prior)):+.1f}"]
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        gamma = row[f"gamma_{name}"]
        label = _level_label(comparison, gamma)
        weight = row.get(f"mw_{name}")
        if weight is None and f"bf_{name}" in row:
            weight = math.log2(row[f"bf_{name}"])
        lines.append(f"{name}: {label} ({(weight or 0.0):+.1f})")
    lines.append(f"total: {row['match_weight']:+.1f} -> match probability {row['match_probability']:.3f}")
    return lines


def _level_label(comparison: Mapping, gamma: int) -> str:
    levels = comparison["comparison_levels"]
    # Splink numbers levels from the bottom (else = 0); the null level is -1.
    non_null = [level for level in levels if not level.get("is_null_level")]
    if gamma == -1:
        return next((lv.get("label_for_charts", "missing") for lv in levels if lv.get("is_null_level")), "missing")
    return non_null[len(non_null) - 1 - gamma].get("label_for_charts", f"level {gamma}")


def waterfall_chart_html(
    con: duckdb.DuckDBPyConnection,
    records_table: str,
    model_path: str | Path,
    record_keys: Sequence[str] | Sequence[tuple[str, str]],
    path: str | Path,
) -> Path:
    """Write Splink's waterfall chart for the given pairs to a standalone HTML file.

    `record_keys` is either pairs of record keys, or keys whose every pair is
    charted. The JavaScript libraries are embedded, so it opens offline.
    """
    pairs = _pairs(record_keys)
    keys = sorted({k for pair in pairs for k in pair})
    model = json.loads(Path(model_path).read_text())
    with scratch_database(con):
        # The whole table is prepared too: the frozen term frequencies are looked up for all its values.
        prepare_records(con, records_table)
        term_frequencies = frozen_lookups(con, model, Path(model_path))
        prepare_records(con, records_table, table=SELECTED, keys=keys)
        linker, db_api, _ = _open_linker(con, model)
        # The frequencies every run scores with (identity.term_frequencies), so the chart shows the run's weights.
        for column, table in term_frequencies.items():
            linker.table_management.register_term_frequency_lookup(db_api.register(table), column)
        selected = db_api.register(SELECTED)
        scored = linker.inference.score_pairs(selected, selected)
        rows = [r for r in scored.as_record_list() if (r["record_key_l"], r["record_key_r"]) in pairs]
        rows.sort(key=lambda r: (r["record_key_l"], r["record_key_r"]))
        if not rows:
            raise ValueError(f"none of the record keys {keys} are in {records_table}")
        chart = linker.visualisations.waterfall_chart(rows, filter_nulls=False)
        html = chart.to_html(inline=True)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def _pairs(record_keys: Iterable) -> set[tuple[str, str]]:
    items = list(record_keys)
    if items and all(isinstance(k, str) for k in items):
        items = list(combinations(sorted(set(items)), 2))
    return {tuple(sorted((str(a), str(b)))) for a, b in items}
