"""engine: spark (issue 18, second phase): the setting and its checks (no Spark needed),
then ingest into Spark tables on a tiny workspace (skipped without pip install -e .[spark])."""

from __future__ import annotations

import pytest
import yaml

from dagster_project.config import ConfigError, load_config
from dagster_project.dbt_workspace import render_files
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
    assert target["server_side_parameters"]["spark.sql.warehouse.dir"] == str(tmp_path / "lake" / "warehouse")


def test_a_cluster_is_reached_by_dbt_through_its_thrift_server(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "spark_installed", lambda: True)
    cluster = _engine("spark", master="spark://spark-master:7077", thrift_host="spark-thrift", thrift_port=10001)
    target = _profile(load_config(make_workspace(tmp_path, cluster)))["outputs"]["spark"]
    assert (target["method"], target["host"], target["port"]) == ("thrift", "spark-thrift", 10001)


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
