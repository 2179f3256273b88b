"""The `engine:` and `spark:` settings of cdp.yml (issue 18).

`engine: spark` runs the pipeline's tables on Apache Spark: local mode by
default (`spark.master: local[2]`, tables and an embedded metastore in
`spark.warehouse`), or a cluster (its master URL, and the Thrift server dbt
reaches it through). Validated without starting Spark; pyspark must be
installed (`pip install -e .[spark]`) only when the engine is spark.
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Literal

from pydantic import Field, model_validator

from dagster_project.config_profiles import WorkspacePath
from dagster_project.config_schema import Problem, Strict

ENGINES = ("duckdb", "spark")
LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)\])?")
CLUSTER_MASTER = re.compile(r"(spark|mesos|k8s)://.+|yarn")
INSTALL_HINT = "pyspark and dbt-spark are not installed: pip install -e .[spark]"


class SparkSpec(Strict):
    """Where Spark runs: `master` local[N] keeps everything in `warehouse` on this machine."""
    master: str = "local[2]"
    warehouse: WorkspacePath = ".cdp/spark"  # local mode: the tables' Parquet files and the metastore
    thrift_host: str | None = None  # a cluster's Spark Thrift server, which dbt-spark connects to
    thrift_port: int = Field(10000, gt=0, lt=65536)

    @model_validator(mode="after")
    def _master_and_thrift(self) -> SparkSpec:
        if self.is_local:
            return self
        if not CLUSTER_MASTER.fullmatch(self.master):
            raise Problem(f"must be local[N], spark://HOST:PORT, yarn or k8s://URL, not {self.master!r}", "master")
        if not self.thrift_host:
            raise Problem("is required with a cluster master: dbt reaches the cluster through its Thrift server", "thrift_host")
        return self

    @property
    def is_local(self) -> bool:
        return bool(LOCAL_MASTER.fullmatch(self.master))


def local_cores(master: str) -> int:
    """The cores of a local master: N of local[N], the machine's for local[*], one for local alone."""
    count = LOCAL_MASTER.fullmatch(master).group(2) or "1"
    return int(count) if count.isdigit() else (os.cpu_count() or 2)


def spark_installed() -> bool:
    return importlib.util.find_spec("pyspark") is not None and importlib.util.find_spec("dbt.adapters.spark") is not None


def check_engine(engine: str) -> None:
    """engine: spark needs the optional extra; say how to get it before anything runs."""
    if engine == "spark" and not spark_installed():
        raise Problem(INSTALL_HINT, "engine")


Engine = Literal[ENGINES]
