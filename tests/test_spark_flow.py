"""engine: spark end to end (issue 18), in `make test`: a run through Dagster ingests into Spark,
builds staging on Spark, resolves identity (records read from Spark, Splink's predict on Spark,
the identity tables written back), builds the marts on Spark, scores the ML models from Spark's
snapshots, builds the segments and audiences on Spark and exports them; the same landing files
on DuckDB give the same persons, customers, segment sizes and exported rows.

Skipped without pyspark and dbt-spark (`pip install -e .[dev]` brings them). One Spark workspace,
one run; the DuckDB run reuses the identity and ML models the Spark run trained, so both score
with the same models. The segment history (a dbt snapshot: Delta tables on Spark) is left out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.conftest import require_spark

require_spark()

import duckdb

from dagster_project.config import load_config
from dagster_project.generate import generate_sample
from dagster_project.pipeline import run_pipeline
from dagster_project.spark.compare import (
    MARTS, copy_models, outcome_on_duckdb, outcome_on_spark, partition_agreement, spark_selection,
)
from dagster_project.spark.resource import SparkResource, end_local_spark
from dagster_project.spark.tables import read_from_spark, write_to_spark
from dagster_project.warehouse import connect
from tests.conftest import copy_tree, make_workspace

PEOPLE = 300


def _spark_engine(raw):
    raw["engine"] = "spark"


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    spark_config = load_config(make_workspace(tmp_path_factory.mktemp("spark_flow"), _spark_engine))
    generate_sample(spark_config.landing, spark_config.truth, people=PEOPLE, seed=18, defect_rate=0)
    duckdb_config = load_config(make_workspace(tmp_path_factory.mktemp("duckdb_flow")))
    copy_tree(spark_config.landing, duckdb_config.landing)

    end_local_spark()  # a session another module left in this worker has another warehouse
    spark_run = run_pipeline(spark_config, spark_selection(spark_config))
    assert spark_run.success, spark_run.summary.failures
    copy_models(spark_config, duckdb_config)
    duckdb_run = run_pipeline(duckdb_config, spark_selection(duckdb_config))
    assert duckdb_run.success, duckdb_run.summary.failures
    resource = SparkResource.for_workspace(spark_config)
    spark = resource.session()
    yield spark_config, duckdb_config, spark, outcome_on_spark(spark_config, spark), outcome_on_duckdb(duckdb_config)
    resource.release()


def test_spark_person_map_partitions_the_records_as_duckdb_does(flow):
    *_, on_spark, on_duckdb = flow
    records = on_duckdb["person_map"]
    assert len(on_spark["person_map"]) == len(records) > PEOPLE
    assert len({key for key, _ in on_spark["person_map"]}) == len(records)  # one row per record
    assert len({person for _, person in records}) < len(records)  # records were joined into persons
    assert partition_agreement(on_spark["person_map"], records) >= 0.999


def test_marts_on_spark_have_the_same_customers_as_on_duckdb(flow):
    _, duckdb_config, spark, on_spark, on_duckdb = flow
    assert on_duckdb["customers"] == len({person for _, person in on_duckdb["person_map"]})
    assert on_spark["customers"] == on_duckdb["customers"]
    with connect(duckdb_config.warehouse, read_only=True) as con:
        counts = {name: con.execute(f"select count(*) from marts.{name}").fetchone()[0] for name in MARTS}
    assert counts["fct_survey_responses"] > 0
    assert {name: spark.sql(f"select count(*) from marts.{name}").collect()[0][0] for name in MARTS} == counts


def test_segments_on_spark_have_the_same_sizes_as_on_duckdb(flow):
    *_, on_spark, on_duckdb = flow
    sizes = on_duckdb["segment_sizes"]
    assert len(sizes) >= 3 and sum(sizes.values()) > 0
    assert on_spark["segment_sizes"] == sizes


def test_the_spark_run_exports_the_same_rows_as_the_duckdb_run(flow):
    """Every audience of every destination, gated and written from Spark's marts."""
    spark_config, *_, on_spark, on_duckdb = flow
    exports = on_duckdb["exports"]
    assert set(exports) == {f"{d.name}/{a}" for d in spark_config.destinations for a in d.audiences}
    assert sum(len(rows) for rows in exports.values()) > 0
    assert on_spark["exports"] == exports


def test_the_identity_tables_in_spark_are_those_resolved(flow):
    """What resolve wrote to the run's DuckDB working database, in Spark (the edges with their
    Splink comparison columns), and the other Python steps' tables beside them."""
    from dagster_project.defs.identity import RESOLVE_OUTPUTS

    spark_config, _, spark, *_ = flow
    with connect(spark_config.warehouse, read_only=True) as con:
        counts = {table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in RESOLVE_OUTPUTS}
        edge_columns = [row[0] for row in con.execute("describe identity.edges").fetchall()]
    assert counts["identity.edges"] > 0
    assert {table: spark.table(table).count() for table in RESOLVE_OUTPUTS} == counts
    assert spark.table("identity.edges").columns == edge_columns
    assert spark.catalog.tableExists("identity.partner_matches")
    assert spark.table("signals.survey_sentiment").count() > 0


def test_tables_go_to_spark_and_back_with_their_types(flow, tmp_path):
    spark_config, _, spark, *_ = flow
    rows = """select 'a' as key, date '2001-02-03' as born, timestamp '2024-05-06 07:08:09' as seen,
                     cast(12.34 as decimal(18, 2)) as amount, ['x', 'y'] as ids, cast(null as bigint) as missing"""
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        con.execute(f"create schema scratch; create table scratch.roundtrip as {rows}")
        write_to_spark(spark, con, spark_config, ["scratch.roundtrip"])
    with duckdb.connect(str(tmp_path / "in.duckdb")) as con:
        con.execute("create schema scratch; create table scratch.gone as select 1 as x")
        read_from_spark(spark, con, ["scratch.roundtrip", "scratch.gone"])
        back = con.execute("select * from scratch.roundtrip").fetchall()
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 "where table_name = 'roundtrip'").fetchall())
        gone = con.execute("select count(*) from information_schema.tables where table_name = 'gone'").fetchone()[0]
    spark.sql("drop table scratch.roundtrip")
    assert back == [("a", dt.date(2001, 2, 3), dt.datetime(2024, 5, 6, 7, 8, 9), Decimal("12.34"), ["x", "y"], None)]
    assert types["seen"] == "TIMESTAMP"  # not WITH TIME ZONE: as DuckDB's own tables
    assert gone == 0  # not in Spark: dropped, so no stale copy is used
