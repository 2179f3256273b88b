"""A plain, tutorial-style Splink 5 model: the baseline our identity step must beat.

    .venv/bin/python benchmarks/plain_splink.py FILE.csv [FILE.csv ...] [--threshold 0.9]

Follows Splink's own FEBRL examples (docs/demos/examples/duckdb/febrl3 and
febrl4): library comparisons with term frequencies, a handful of blocking
rules, deterministic rules for the prior, u from random pairs, m by EM on
date of birth then postcode, prediction and Splink's clustering at the
threshold. Same columns as our FEBRL workspace (names, date of birth,
street, suburb, postcode, state); no social security number. The files are
deduplicated together (FEBRL 4's two halves as one dataset, as ours).
Scored like `cdp evaluate`: pairs of records put in one cluster against
pairs sharing the truth id in rec-<n>-org / rec-<n>-dup-<k>.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "suburb", "postcode", "state", "date_of_birth"]

BLOCKING_RULES = [
    block_on("given_name", "surname"),
    "l.given_name = r.surname and l.surname = r.given_name",
    block_on("date_of_birth"),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
]


def settings() -> SettingsCreator:
    return SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
            ),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )


def load(con: duckdb.DuckDBPyConnection, files: list[Path]) -> duckdb.DuckDBPyRelation:
    """The files as one table of trimmed strings, blanks as null."""
    paths = ", ".join(f"'{f.as_posix()}'" for f in files)
    cleaned = ", ".join(f"nullif(trim({c}), '') as {c}" for c in COLUMNS)
    return con.sql(
        f"select {cleaned} from read_csv([{paths}], header = true, all_varchar = true, normalize_names = true)"
    )


def pairwise_scores(clusters: pl.DataFrame) -> dict:
    """Pairwise precision / recall / F1 of `clusters` (rec_id, cluster_id) against the truth in rec_id."""
    scored = clusters.with_columns(person=pl.col("rec_id").str.extract(r"^rec-(\d+)-"))

    def pairs(*keys: str) -> int:
        sizes = scored.group_by(*keys).len()["len"]
        return int((sizes * (sizes - 1) // 2).sum())

    predicted, true, hits = pairs("cluster_id"), pairs("person"), pairs("cluster_id", "person")
    precision = hits / predicted if predicted else 1.0
    recall = hits / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "false_merges": predicted - hits, "true_pairs": true}


def trained_linker(con: duckdb.DuckDBPyConnection, files: list[Path], seed: int = 2) -> Linker:
    records = DuckDBAPI(con).register(load(con, files))
    linker = Linker(records, settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    return linker


def run_plain_splink(files: list[Path], threshold: float = 0.9) -> dict:
    started = time.perf_counter()
    con = duckdb.connect()
    linker = trained_linker(con, files)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    result = pairwise_scores(clusters.as_duckdbpyrelation().select("rec_id, cluster_id").pl())
    result["links"] = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    result["seconds"] = round(time.perf_counter() - started, 1)
    con.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    print(json.dumps(run_plain_splink(args.files, args.threshold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
