"""Benchmark the Splink model on synthetic records: accuracy against the truth, and timings.

    python -m dagster_project.identity.splink_bench --records 100000
    /usr/bin/time -v python -m dagster_project.identity.splink_bench --records 1000000   # peak RSS

Records go into a file-backed DuckDB warehouse (as in production), then
train_model and predict_links run on it. Pairwise precision / recall of
predict_links at the threshold: over all true pairs, and over pairs where
both records carry a first and a last name (the ones probabilistic matching
is for; the rest only deterministic links can join).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from dagster_project.identity.splink_model import predict_links, train_model
from dagster_project.identity.splink_synthetic import load_identity_records, synthetic_records

RECORDS_PER_PERSON = 3.7  # what synthetic_records produces on average
TABLE = "intermediate.int_identity__records"


def pair_metrics(links: pl.DataFrame, truth: pl.DataFrame, threshold: float) -> dict:
    """Pairwise precision and recall of links at `threshold` against truth (record_key, person_id, named)."""
    predicted = links.filter(pl.col("match_probability") >= threshold).select("record_key_l", "record_key_r")
    true_pairs = (
        truth.join(truth, on="person_id", suffix="_r")
        .filter(pl.col("record_key") < pl.col("record_key_r"))
        .select(pl.col("record_key").alias("record_key_l"), "record_key_r", (pl.col("named") & pl.col("named_r")).alias("named"))
    )
    hits = predicted.join(true_pairs, on=["record_key_l", "record_key_r"], how="inner")
    named_true = int(true_pairs["named"].sum())
    return {
        "threshold": threshold,
        "predicted_pairs": predicted.height,
        "true_pairs": true_pairs.height,
        "precision": round(hits.height / predicted.height, 4) if predicted.height else 1.0,
        "recall": round(hits.height / true_pairs.height, 4) if true_pairs.height else 1.0,
        "named_true_pairs": named_true,
        "recall_named": round(int(hits["named"].sum()) / named_true, 4) if named_true else 1.0,
    }


def run(records: int, seed: int, thresholds: list[float], workdir: Path) -> dict:
    started = time.perf_counter()
    data = synthetic_records(max(int(records / RECORDS_PER_PERSON), 10), seed=seed)
    truth = data.select(
        "record_key", "person_id", named=pl.col("first_name").is_not_null() & pl.col("last_name").is_not_null()
    )
    con = duckdb.connect(str(workdir / "warehouse.duckdb"))
    load_identity_records(con, data)
    del data
    generated = time.perf_counter() - started

    started = time.perf_counter()
    summary = train_model(con, TABLE, workdir / "model.json", seed=seed)
    trained = time.perf_counter() - started

    started = time.perf_counter()
    links = predict_links(con, TABLE, workdir / "model.json", threshold_match_probability=min(thresholds))
    predicted = time.perf_counter() - started
    tables = con.execute("select count(*) from duckdb_tables() where schema_name <> 'intermediate'").fetchall()[0][0]
    con.close()
    return {
        "records": summary["records"],
        "seconds": {"generate_and_load": round(generated, 1), "train": round(trained, 1), "predict": round(predicted, 1)},
        "links_at_min_threshold": links.height,
        "accuracy": [pair_metrics(links, truth, t) for t in thresholds],
        "training": summary,
        "tables_left_in_warehouse": tables,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.9, 0.99])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(run(args.records, args.seed, args.thresholds, Path(folder)), indent=2, default=str))


if __name__ == "__main__":
    main()
