"""engine: spark (issue 18, second phase): the setting and its checks (no Spark needed),
then ingest into Spark tables on a tiny workspace (skipped without pip install -e .[spark])."""

from __future__ import annotations

import os

import pytest
import yaml

from dagster_project.config import ConfigError, load_config
from dagster_project.dbt_workspace import render_files
from dagster_project.spark.settings import local_cores
from dagster_project.spark import settings
from tests.conftest import make_workspace


def _engine(engine: str | None = None, **spark):
    def mutate(raw):
        if engine:
            raw["engine"] = engine
        if spark:
            raw["spark"] = spark
    return mutate


def _profile(config) -> dict:
    return yaml.safe_load(render_files(config)["profiles.yml"])["cdp"]


def test_the_default_engine_is_duckdb_with_a_local_spark_beside_the_workspace(tmp_path):
    config = load_config(make_workspace(tmp_path))
    assert config.engine == "duckdb"
    assert config.spark.master == "local[2]"
    assert config.spark.warehouse == tmp_path / ".cdp" / "spark"
    assert _profile(config)["target"] == "local"


def test_engine_spark_targets_spark_in_the_dbt_profile(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "spark_installed", lambda: True)
    config = load_config(make_workspace(tmp_path, _engine("spark", master="local[3]", warehouse="lake")))
    assert config.spark.warehouse == tmp_path / "lake"
    profile = _profile(config)
    assert profile["target"] == "spark"
    target = profile["outputs"]["spark"]
    assert target["method"] == "session"
    assert target["server_side_parameters"]["spark.master"] == "local[3]"
    assert target["threads"] == 3  # one dbt thread per local core
    assert target["server_side_parameters"]["spark.sql.warehouse.dir"] == str(tmp_path / "lake" / "warehouse")


def test_a_local_master_has_the_cores_it_names_or_the_machines():
    assert (local_cores("local[1]"), local_cores("local[4]"), local_cores("local")) == (1, 4, 1)
    assert local_cores("local[*]") == (os.cpu_count() or 2)


def test_a_cluster_is_reached_by_dbt_through_its_thrift_server(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "spark_installed", lambda: True)
    cluster = _engine("spark", master="spark://spark-master:7077", thrift_host="spark-thrift", thrift_port=10001)
    target = _profile(load_config(make_workspace(tmp_path, cluster)))["outputs"]["spark"]
    assert (target["method"], target["host"], target["port"]) == ("thrift", "spark-thrift", 10001)
    # dbt's sessions read timestamps as the run's own Spark session does
    assert target["server_side_parameters"]["spark.sql.session.timeZone"] == "UTC"


@pytest.mark.parametrize("mutate, message", [
    (_engine("postgres"), r"engine: must be 'duckdb' or 'spark'"),
    (_engine("spark", master="spark://spark-master:7077"), r"spark\.thrift_host: is required with a cluster master"),
    (_engine("spark", master="local[two]"), r"spark\.master: must be local\[N\], spark://HOST:PORT"),
    (_engine("spark", thrift_port=0), r"spark\.thrift_port: must be greater than 0"),
    (_engine("spark", warehous="x"), r"spark\.warehous: unknown key"),
])
def test_bad_engine_settings_name_their_key(tmp_path, monkeypatch, mutate, message):
    monkeypatch.setattr(settings, "spark_installed", lambda: True)
    with pytest.raises(ConfigError, match=message):
        load_config(make_workspace(tmp_path, mutate))


def test_engine_spark_without_pyspark_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "spark_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"engine: pyspark and dbt-spark are not installed: pip install -e \.\[spark\]"):
        load_config(make_workspace(tmp_path, _engine("spark")))


def test_an_erasure_on_engine_spark_without_sparks_tables_is_refused(tmp_path, monkeypatch):
    """Erasing from DuckDB alone would leave the person in Spark's tables: refused before anything is done."""
    from dagster_project.governance.erasure import erase_person
    from dagster_project.spark.erasure import erasure_tables
    from dagster_project.spark.resource import SparkResource

    monkeypatch.setattr(settings, "spark_installed", lambda: True)
    config = load_config(make_workspace(tmp_path, _engine("spark")))
    with pytest.raises(ValueError, match="engine: spark: the erasure needs Spark's tables"):
        erase_person(config, email="someone@example.org")
    assert not config.warehouse.exists()
    assert erasure_tables(config, SparkResource.for_workspace(config)) is not None
    assert erasure_tables(load_config(make_workspace(tmp_path / "duckdb")), SparkResource()) is None


def test_a_suite_query_in_spark_sql_keeps_its_batch_and_literal_braces():
    """GX fills `{batch}` with str.format, so the regex's braces stay doubled after translation."""
    from dagster_project.quality.spark_gates import spark_query

    query = "select file from {batch} where not regexp_matches(sha256, '^[0-9a-f]{{64}}$') and strftime(day, '%Y%m%d') > '2'"
    assert spark_query(query) == ("SELECT file FROM {batch} WHERE NOT sha256 RLIKE '^[0-9a-f]{{64}}$' "
                                  "AND DATE_FORMAT(day, 'yyyyMMdd') > '2'")


def test_partition_agreement_counts_records_put_with_the_same_others_whatever_the_ids():
    from dagster_project.spark.compare import partition_agreement

    duckdb_map = [("a", "p1"), ("b", "p1"), ("c", "p2"), ("d", "p3")]
    assert partition_agreement([("a", "x"), ("b", "x"), ("c", "y"), ("d", "z")], duckdb_map) == 1.0
    # c joined a and b's person: a, b and c are each with other records than before; d is not
    assert partition_agreement([("a", "x"), ("b", "x"), ("c", "x"), ("d", "z")], duckdb_map) == 0.25
    assert partition_agreement([("a", "x"), ("b", "x"), ("c", "y")], duckdb_map) == 0.75  # d missing


def test_the_spark_resource_runs_locally_on_the_workspace_or_on_a_cluster(tmp_path, monkeypatch):
    from dagster_project.spark.resource import SparkResource

    monkeypatch.setattr(settings, "spark_installed", lambda: True)
    local = SparkResource.for_workspace(load_config(make_workspace(tmp_path / "local", _engine("spark"))))
    assert local.is_local and local.settings()["spark.master"] == "local[2]"
    assert local.settings()["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith(
        f"jdbc:derby:;databaseName={tmp_path / 'local' / '.cdp' / 'spark' / 'metastore'}")
    cluster = SparkResource.for_workspace(load_config(make_workspace(
        tmp_path / "cluster", _engine("spark", master="yarn", thrift_host="spark-thrift"))))
    assert not cluster.is_local
    assert cluster.settings()["spark.master"] == "yarn"
    assert not any("derby" in value for value in cluster.settings().values())  # the cluster's own metastore


# Ingest into Spark tables: one local Spark session for the rest of this module.

requires_spark = pytest.mark.skipif(not settings.spark_installed(), reason="pip install -e .[spark] (pyspark, dbt-spark)")
SOURCES = ("crm", "ecommerce_orders")  # identity rows with dates and timestamps; orders with DECIMAL money


class CutShort(RuntimeError):
    pass


@pytest.fixture(scope="module")
def spark_ingest(tmp_path_factory):
    import duckdb

    from dagster_project.generate import generate_sample
    from dagster_project.ingest.load import load_source
    from dagster_project.spark import ingest
    from dagster_project.spark.resource import SparkResource, end_local_spark

    config = load_config(make_workspace(tmp_path_factory.mktemp("spark_engine"), _engine("spark")))
    generate_sample(config.landing, config.truth, people=60, seed=18, defect_rate=0.05)  # some rows quarantined
    sources = [config.source(name) for name in SOURCES]
    reference = duckdb.connect()  # the DuckDB engine's load of the same files
    for source in sources:
        load_source(reference, source, config.landing, "reference")
    resource = SparkResource.for_workspace(config)
    end_local_spark()  # a session another module left in this worker has another warehouse
    spark = resource.session()
    write = ingest._write

    def cut_before_the_log(spark, scratch, rows_sql, table, *args):
        if table == ingest.LOAD_LOG:
            raise CutShort(table)
        write(spark, scratch, rows_sql, table, *args)

    with pytest.MonkeyPatch.context() as patch:  # a load that stops after the raw rows, before the log
        patch.setattr(ingest, "_write", cut_before_the_log)
        for source in sources:
            with pytest.raises(CutShort):
                ingest.load_source_to_spark(spark, config, source, "cut-short")
    first = {s.name: ingest.load_source_to_spark(spark, config, s, "run-1") for s in sources}
    again = _through_dagster(config, resource)
    assert resource.session() is spark  # the same session throughout
    yield config, spark, reference, first, again
    resource.release()
    reference.close()


def _through_dagster(config, resource):
    """The ingest assets and their reconciliation checks, run by Dagster with the Spark resource."""
    import dagster as dg

    from dagster_project.defs.ingest import build_ingest_assets, build_ingest_checks
    from dagster_project.defs.resources import CdpResource

    keys = {dg.AssetKey(["raw", name]) for name in SOURCES}
    assets = [a for a in build_ingest_assets(config) if a.key in keys]
    checks = [c for c in build_ingest_checks(config) if {k.asset_key for k in c.check_keys} <= keys]
    return dg.materialize([*assets, *checks], resources={"cdp": CdpResource(config_path=str(config.path)), "spark": resource})


def _as_text(columns: list[str], table: str) -> str:
    """Every column as text, so both engines' values compare (Spark's and DuckDB's texts agree for these types)."""
    return f"select {', '.join(f'cast({c} as string)' for c in columns)} from {table}"


@requires_spark
@pytest.mark.parametrize("source", SOURCES)
def test_spark_raw_tables_hold_what_duckdb_loads_once_even_after_a_load_cut_short(spark_ingest, source):
    config, spark, reference, first, _ = spark_ingest
    columns = ["_file", "_file_sha256", "_row_number", *config.source(source).contract]
    duckdb_rows = sorted(reference.execute(_as_text(columns, f"raw.{source}").replace("string", "varchar")).fetchall())
    spark_rows = sorted(tuple(row) for row in spark.sql(_as_text(columns, f"raw.{source}")).collect())
    assert len(spark_rows) == first[source].total("rows_loaded") > 40
    assert spark_rows == duckdb_rows  # the cut-short load's rows were replaced, not doubled


@requires_spark
def test_quarantine_and_load_log_reconcile_on_spark(spark_ingest):
    _, spark, reference, first, _ = spark_ingest
    quarantine = "select source, file, row_number, column_name, reason from raw.quarantine"
    assert sorted(tuple(r) for r in spark.sql(quarantine).collect()) == sorted(reference.execute(quarantine).fetchall())
    logged = {row.source: row for row in spark.sql(
        "select source, count(*) as files, sum(rows_read) as read, sum(rows_loaded) as loaded, "
        "sum(rows_quarantined) as quarantined from raw.load_log where status = 'loaded' group by source").collect()}
    assert sum(first[s].total("rows_quarantined") for s in SOURCES) > 0
    for source in SOURCES:
        report = first[source]
        assert (logged[source].files, logged[source].read) == (report.count("loaded"), report.total("rows_read"))
        assert logged[source].loaded + logged[source].quarantined == logged[source].read


@requires_spark
def test_the_ingest_assets_load_into_spark_again_as_a_no_op_and_reconcile(spark_ingest):
    _, spark, _, first, again = spark_ingest
    assert again.success
    for event in again.get_asset_materialization_events():
        source, metadata = event.asset_key.path[-1], event.materialization.metadata
        assert metadata["files_skipped_already_loaded"].value == first[source].count("loaded") > 0
        assert metadata["files_loaded"].value == 0
    assert {e.asset_key.path[-1] for e in again.get_asset_materialization_events()} == set(SOURCES)
    checks = again.get_asset_check_evaluations()
    assert len(checks) == len(SOURCES) and all(check.passed for check in checks)
    assert spark.sql(f"select count(*) from raw.load_log where run_id = '{again.run_id}'").collect()[0][0] == 0
