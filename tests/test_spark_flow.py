"""engine: spark through identity and the marts (issue 18): a run through Dagster ingests into
Spark, builds staging on Spark, resolves identity (records read from Spark, Splink's predict on
Spark, the identity tables written back) and builds the marts on Spark; the same landing files
on DuckDB give the same persons.

Skipped without pyspark and dbt-spark. One Spark workspace, one run; the DuckDB run reuses the
model the Spark run trained, so both resolve with the same model.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import pytest

from dagster_project.spark import settings

if not settings.spark_installed():
    pytest.skip("pyspark and dbt-spark are not installed (pip install -e .[spark])", allow_module_level=True)

import dagster as dg
import duckdb

from dagster_project.config import load_config
from dagster_project.generate import generate_sample
from dagster_project.identity.term_frequencies import frozen_path
from dagster_project.pipeline import run_pipeline
from dagster_project.spark.resource import SparkResource, end_local_spark
from dagster_project.spark.tables import read_from_spark, write_to_spark
from dagster_project.warehouse import connect
from tests.conftest import copy_tree, make_workspace

PEOPLE = 80


def _spark_engine(raw):
    raw["engine"] = "spark"


# dim_customer, and the marts that read the other Python steps' tables (partner matches, sentiment)
MARTS = ("dim_customer", "customer_partner_attributes", "fct_survey_responses")


def through_marts(config) -> list[dg.AssetKey]:
    """MARTS and everything they need (ingest, staging, identity, signals); the other marts are left
    out to keep Spark's time down (tests/test_spark_dbt.py builds them all)."""
    from dagster_project.definitions import build_definitions

    graph = build_definitions(config).resolve_asset_graph()
    marts = dg.AssetSelection.assets(*(dg.AssetKey(["marts", name]) for name in MARTS))
    return sorted(marts.upstream().resolve(graph))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    spark_config = load_config(make_workspace(tmp_path_factory.mktemp("spark_flow"), _spark_engine))
    generate_sample(spark_config.landing, spark_config.truth, people=PEOPLE, seed=18, defect_rate=0)
    duckdb_config = load_config(make_workspace(tmp_path_factory.mktemp("duckdb_flow")))
    copy_tree(spark_config.landing, duckdb_config.landing)

    end_local_spark()  # a session another module left in this worker has another warehouse
    spark_run = run_pipeline(spark_config, through_marts(spark_config))
    assert spark_run.success, spark_run.summary.failures
    for path in (spark_config.identity_model, frozen_path(spark_config.identity_model)):
        shutil.copy(path, duckdb_config.identity_model.parent / path.name)
    duckdb_run = run_pipeline(duckdb_config, through_marts(duckdb_config))
    assert duckdb_run.success, duckdb_run.summary.failures
    resource = SparkResource.for_workspace(spark_config)
    yield spark_config, duckdb_config, resource.session()
    resource.release()


def partition(rows) -> set[frozenset]:
    persons: dict[str, set] = {}
    for record_key, person_id in rows:
        persons.setdefault(person_id, set()).add(record_key)
    return {frozenset(keys) for keys in persons.values()}


def test_spark_person_map_partitions_the_records_as_duckdb_does(flow):
    spark_config, duckdb_config, spark = flow
    on_spark = [tuple(row) for row in spark.sql("select record_key, person_id from identity.person_map").collect()]
    with connect(duckdb_config.warehouse, read_only=True) as con:
        on_duckdb = con.execute("select record_key, person_id from identity.person_map").fetchall()
    assert len(on_spark) == len(on_duckdb) > PEOPLE
    assert len({key for key, _ in on_spark}) == len(on_spark)  # one row per record
    assert partition(on_spark) == partition(on_duckdb)
    assert len(partition(on_spark)) < len(on_spark)  # records were joined into persons


def test_marts_on_spark_have_the_same_customers_as_on_duckdb(flow):
    _, duckdb_config, spark = flow
    with connect(duckdb_config.warehouse, read_only=True) as con:
        counts = {name: con.execute(f"select count(*) from marts.{name}").fetchone()[0] for name in MARTS}
        persons = con.execute("select count(distinct person_id) from identity.person_map").fetchone()[0]
    assert counts["dim_customer"] == persons
    assert counts["fct_survey_responses"] > 0
    assert {name: spark.sql(f"select count(*) from marts.{name}").collect()[0][0] for name in MARTS} == counts


def test_the_identity_tables_in_spark_are_those_resolved(flow):
    """What resolve wrote to the run's DuckDB working database, in Spark (the edges with their
    Splink comparison columns), and the other Python steps' tables beside them."""
    from dagster_project.defs.identity import RESOLVE_OUTPUTS

    spark_config, _, spark = flow
    with connect(spark_config.warehouse, read_only=True) as con:
        counts = {table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in RESOLVE_OUTPUTS}
        edge_columns = [row[0] for row in con.execute("describe identity.edges").fetchall()]
    assert counts["identity.edges"] > 0
    assert {table: spark.table(table).count() for table in RESOLVE_OUTPUTS} == counts
    assert spark.table("identity.edges").columns == edge_columns
    assert spark.catalog.tableExists("identity.partner_matches")
    assert spark.table("signals.survey_sentiment").count() > 0


def test_tables_go_to_spark_and_back_with_their_types(flow, tmp_path):
    spark_config, _, spark = flow
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
