"""Tables handed between Spark and the run's DuckDB working database (engine: spark).

The Python steps (identity resolution, partner matching, survey sentiment) run
on DuckDB as before: with engine spark they first read their inputs from the
Spark tables dbt built (`read_from_spark`: Arrow batches, no row loop) and then
write their outputs back as Spark tables in the metastore (`write_to_spark`:
Parquet under spark.warehouse/incoming, as ingest hands its rows over), where
dbt-spark's sources find them.

Publishing (`copy_for_readers`): after a good run, Spark's marts and segment
history are copied into the run's DuckDB database, which is then published as
with engine duckdb (publish.py), so analysts and BI tools read the same tables
from `published:` without touching Spark or blocking the next run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from dagster_project.config import CdpConfig
from dagster_project.spark.ingest import hand_over, handover_folder


def read_from_spark(spark, con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """Each Spark table `schema.name` as the DuckDB table of the same name, replacing it. A table
    Spark does not have is dropped from DuckDB too: Spark's tables are the truth, so e.g. an older
    identity.person_map left in DuckDB never lends its person ids."""
    for table in tables:
        con.execute(f"create schema if not exists {table.split('.')[0]}")
        if not spark.catalog.tableExists(table):
            con.execute(f"drop table if exists {table}")
            continue
        con.register("from_spark", arrow_table(spark.table(table)))
        try:
            con.execute(f"create or replace table {table} as select * from from_spark")
        finally:
            con.unregister("from_spark")


def arrow_table(frame) -> pa.Table:
    """The Spark frame as one Arrow table (the driver collects Arrow batches); timestamps without
    a time zone, as DuckDB's own tables hold them (the session's time zone is UTC)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(frame.schema)
    table = pa.Table.from_batches(frame._collect_as_arrow(), schema=schema)  # pyspark 4 calls it toArrow()
    naive = pa.schema([
        field.with_type(pa.timestamp(field.type.unit)) if pa.types.is_timestamp(field.type) else field
        for field in schema
    ])
    return table.cast(naive)


def write_to_spark(spark, con: duckdb.DuckDBPyConnection, config: CdpConfig, tables: list[str]) -> None:
    """Each DuckDB table `schema.name` as the Spark table of the same name, replaced whole."""
    with tempfile.TemporaryDirectory(dir=handover_folder(config)) as folder:
        for table in tables:
            rows = hand_over(spark, con, table, Path(folder) / f"{table}.parquet")
            spark.sql(f"create database if not exists {table.split('.')[0]}")
            rows.write.mode("overwrite").format("parquet").saveAsTable(table)


# What readers get from Spark in the published DuckDB file, beside the run's own DuckDB tables
# (identity, quality results, freshness): every table of these schemas.
PUBLISHED_SCHEMAS = ("marts", "history")


def copy_for_readers(spark, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table (not view) of PUBLISHED_SCHEMAS in Spark into the DuckDB database `con`, replacing
    the copies there; returns their names."""
    tables = [f"{schema}.{table.name}" for schema in PUBLISHED_SCHEMAS if spark.catalog.databaseExists(schema)
              for table in spark.catalog.listTables(schema) if table.tableType in ("MANAGED", "EXTERNAL")]
    read_from_spark(spark, con, tables)
    return tables
