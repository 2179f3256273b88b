"""A local Spark warehouse for a workspace, and the DuckDB tables the dbt models read copied into it.

Everything lives in <workspace>/.cdp/spark: `warehouse/` holds the tables'
Parquet files and `metastore/` the embedded Hive metastore (Derby) that names
them, so dbt-spark's session, in another process or this one, finds the tables.
Derby admits one JVM at a time: a process that opened a session must exit
before another (e.g. `dbt build --target spark`) opens one.

    python -m dagster_project.spark.local path/to/cdp.yml   # copy the tables
    cd <workspace>/.cdp/dbt && dbt build --target spark --target-path target-spark
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from dagster_project.config import CdpConfig, load_config
from dagster_project.spark.settings import local_cores
from dagster_project.warehouse import connect

# The tables outside dbt that the models read (dbt sources): whole schemas of
# ingest's raw tables, and the Python steps' outputs.
SOURCE_SCHEMAS = ("raw",)
SOURCE_TABLES = ("identity.person_map", "identity.partner_matches", "ml.customer_scores", "signals.survey_sentiment")


def spark_dir(config: CdpConfig) -> Path:
    return config.spark.warehouse


def session_settings(folder: Path, master: str = "local[2]") -> dict[str, str]:
    """The Spark settings of a local session on `folder`: the dbt profile passes the same ones."""
    folder = Path(folder).resolve()
    cores = local_cores(master)
    return {
        "spark.master": master,
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder / 'metastore'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",  # derby.log there, not in the cwd
        # DuckDB's timestamps (no time zone) read as Spark TIMESTAMP in UTC, not TIMESTAMP_NTZ,
        # which Hive-format tables cannot hold
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
        "spark.sql.shuffle.partitions": str(cores * 2),  # not 200: small local data
        # Not the 1 GiB default: Splink's cached pairs and the marts the driver collects for
        # publishing (about 1.5 million consent rows at 100,000 people) then stay in memory.
        "spark.driver.memory": "4g",
        "spark.ui.enabled": "false",
        # no progress bar: in dbt's process it breaks dbt's JSON log lines, and Dagster then misses a model's result
        "spark.ui.showConsoleProgress": "false",
    }


def local_session(folder: Path, master: str = "local[2]"):
    """A Spark session in this process on the warehouse in `folder` (Hive metastore on)."""
    from pyspark.sql import SparkSession

    # Python UDFs (identity.spark_scoring) run in workers of this interpreter, which has duckdb.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("cdp").enableHiveSupport()
    for key, value in session_settings(folder, master).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def source_tables(config: CdpConfig) -> list[str]:
    """schema.table of every dbt source table present in the DuckDB warehouse."""
    with connect(config.warehouse, read_only=True) as con:
        present = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    present = {name for (name,) in present}
    return sorted(name for name in present if name.split(".")[0] in SOURCE_SCHEMAS or name in SOURCE_TABLES)


def copy_sources_to_spark(config: CdpConfig, spark) -> list[str]:
    """Copy the dbt source tables from DuckDB into Spark tables of the same names (via Parquet)."""
    tables = source_tables(config)
    with tempfile.TemporaryDirectory(dir=config.state_dir) as scratch:
        with connect(config.warehouse, read_only=True) as con:
            for name in tables:
                con.execute(f"copy (select * from {name}) to '{scratch}/{name}.parquet' (format parquet)")
        for name in tables:
            spark.sql(f"create database if not exists {name.split('.')[0]}")
            spark.read.parquet(f"{scratch}/{name}.parquet").write.mode("overwrite").format("parquet").saveAsTable(name)
    return tables


def build_on_spark(config: CdpConfig) -> None:
    """`dbt build` of the workspace's rendered project on Spark, in this process: dbt-spark's
    session method then uses this process's session (local_session), whose metastore it holds."""
    from dbt.cli.main import dbtRunner

    from dagster_project.dbt_workspace import workspace_dbt_project

    project_dir = workspace_dbt_project(config).project_dir
    result = dbtRunner().invoke([
        "build", "--target", "spark", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
        "--target-path", str(project_dir / "target-spark"),
    ])
    if not result.success:
        raise RuntimeError(f"dbt build on Spark failed: {result.exception or 'see the dbt log'}")


def main(argv: list[str]) -> None:
    config = load_config(Path(argv[0]) if argv else None)
    spark = local_session(spark_dir(config))
    for name in copy_sources_to_spark(config, spark):
        print(name)


if __name__ == "__main__":
    main(sys.argv[1:])
