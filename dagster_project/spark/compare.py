"""A run with engine: spark beside a run with engine: duckdb on the same landing files (both
the whole asset graph): their outcome, persons (the partition of the identity records),
dim_customer, segment sizes and the exported audiences. Used by tests/test_spark_flow.py and
benchmarks/spark_bench.py.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import polars as pl

from dagster_project.config import CdpConfig
from dagster_project.identity.term_frequencies import frozen_path
from dagster_project.warehouse import connect

# Besides the exports: dim_customer, the marts that read the Python steps' tables (partner matches,
# survey sentiment), the current segment members and their history (the dbt snapshot)
MARTS = ("dim_customer", "customer_partner_attributes", "fct_survey_responses", "segment_members", "segment_membership")

PERSON_MAP = "select record_key, person_id from identity.person_map"
SEGMENT_SIZES = "select segment, count(*) from marts.segment_members group by segment"
CUSTOMERS = "select count(*) from marts.dim_customer"


def copy_models(source: CdpConfig, target: CdpConfig) -> None:
    """The identity model (with its frozen term frequencies) and the ML models one run trained, to
    another workspace, so both runs score with the same models."""
    for path in (source.identity_model, frozen_path(source.identity_model)):
        shutil.copy(path, target.identity_model.parent / path.name)
    if source.models.folder.exists():  # none when there was too little history to train on
        shutil.copytree(source.models.folder, target.models.folder, dirs_exist_ok=True)


def on_duckdb(config: CdpConfig, sql: str) -> list[tuple]:
    with connect(config.warehouse, read_only=True) as con:
        return sorted(con.execute(sql).fetchall())


def on_spark(spark, sql: str) -> list[tuple]:
    return sorted(tuple(row) for row in spark.sql(sql).collect())


def clusters(person_map: list[tuple]) -> dict[str, frozenset]:
    """record_key -> the set of record keys of its person."""
    persons: dict[str, set] = {}
    for record_key, person_id in person_map:
        persons.setdefault(person_id, set()).add(record_key)
    return {key: frozenset(keys) for keys in persons.values() for key in keys}


def partition_agreement(left: list[tuple], right: list[tuple]) -> float:
    """Share of records (of either map) put with exactly the same other records by both maps:
    1.0 when the two person maps partition the records alike, whatever the person ids."""
    left_clusters, right_clusters = clusters(left), clusters(right)
    keys = left_clusters.keys() | right_clusters.keys()
    same = sum(left_clusters.get(key) == right_clusters.get(key) for key in keys)
    return same / len(keys) if keys else 1.0


def export_rows(exports: Path) -> dict[str, Counter]:
    """<destination>/<audience> -> its exported rows (Parquet, else CSV), as a multiset."""
    rows = {}
    for manifest in sorted(exports.glob("*/*/manifest.json")):
        folder = manifest.parent
        files = sorted(folder.glob("*.parquet")) or sorted(folder.glob("*.csv"))
        frames = [pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_csv(f, infer_schema=False)
                  for f in files if ".delta." not in f.name]
        rows[f"{folder.parent.name}/{folder.name}"] = Counter(row for frame in frames for row in frame.rows())
    return rows


def outcome_on_duckdb(config: CdpConfig) -> dict:
    return {"person_map": on_duckdb(config, PERSON_MAP), "customers": on_duckdb(config, CUSTOMERS)[0][0],
            "segment_sizes": dict(on_duckdb(config, SEGMENT_SIZES)), "exports": export_rows(config.exports)}


def outcome_on_spark(config: CdpConfig, spark) -> dict:
    return {"person_map": on_spark(spark, PERSON_MAP), "customers": on_spark(spark, CUSTOMERS)[0][0],
            "segment_sizes": dict(on_spark(spark, SEGMENT_SIZES)), "exports": export_rows(config.exports)}
