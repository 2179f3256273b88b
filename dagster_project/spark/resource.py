"""The Spark session as a Dagster resource (engine: spark in cdp.yml).

Local mode (master local[N]) keeps the tables and an embedded Hive metastore
(Derby) in the workspace's spark warehouse folder. Derby admits one JVM at a
time, so before dbt-spark opens its own session in the dbt process, `release`
ends this process's session and its JVM; the next asset that asks for a
session starts a new one. On a cluster the metastore is the cluster's, and
only the master URL is set here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg

from dagster_project.config import CdpConfig
from dagster_project.spark.local import session_settings
from dagster_project.spark.settings import INSTALL_HINT, LOCAL_MASTER

# As in local mode: timestamps without a time zone are read as TIMESTAMP in UTC.
CLUSTER_SETTINGS = {"spark.sql.session.timeZone": "UTC", "spark.sql.parquet.inferTimestampNTZ.enabled": "false"}


class SparkResource(dg.ConfigurableResource):
    """A Spark session: `master` local[N] on `folder`, or a cluster's master URL."""

    master: str = "local[2]"
    folder: str = ""  # local mode: where the tables and the metastore live

    @classmethod
    def for_workspace(cls, config: CdpConfig) -> SparkResource:
        return cls(master=config.spark.master, folder=str(config.spark.warehouse))

    @property
    def is_local(self) -> bool:
        return bool(LOCAL_MASTER.fullmatch(self.master))

    def settings(self) -> dict[str, str]:
        if self.is_local:
            return session_settings(Path(self.folder), self.master)
        return {"spark.master": self.master, **CLUSTER_SETTINGS}

    def session(self):
        """This process's Spark session, started on first use."""
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise RuntimeError(f"engine: spark needs pyspark ({INSTALL_HINT})") from None
        settings = self.settings()
        active = SparkSession.getActiveSession()
        if active is not None and self.is_local and _warehouse_of(active) != settings["spark.sql.warehouse.dir"]:
            end_local_spark()  # another workspace's session: its settings cannot change, so start anew
        if self.is_local:  # Python UDFs (identity.spark_scoring) run in workers of this interpreter, which has duckdb
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.appName("cdp").enableHiveSupport()
        for key, value in settings.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()

    def release(self) -> None:
        """Local mode: end the session and its JVM, which frees the embedded metastore for another process."""
        if self.is_local:
            end_local_spark()


def _warehouse_of(session) -> str:
    return session.conf.get("spark.sql.warehouse.dir").removeprefix("file:")


def end_local_spark() -> None:
    """Stop this process's Spark session, if any, and the JVM behind it (pyspark starts a new one when asked)."""
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    process = getattr(gateway, "proc", None)
    if process is not None:  # the JVM exits when its stdin closes
        process.stdin.close()
        process.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None
