"""Ingest with engine: spark: the same load as on DuckDB, its tables on Spark.

`load_source_to_spark` runs `ingest.load.load_source` unchanged (readers,
contract, quarantine, tombstones: polars and a DuckDB in memory) on a scratch
database that knows the files Spark already holds, then appends what it
loaded to the Spark tables `raw.<source>`, `raw.quarantine` and
`raw.load_log` (Parquet, registered in the metastore, so dbt-spark's sources
find them). Idempotent by file hash like the DuckDB load: a file logged as
loaded in Spark's `raw.load_log` is skipped. The log is written last, and the
raw and quarantine tables are partitioned by file hash and written by
replacing the partitions of the files loaded, so a load cut short between the
two is simply run again, without doubled rows.

The tombstones are read from the workspace's DuckDB warehouse, so erased
people stay out of Spark's tables too (spark/erasure.py deletes those already in).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterable

import duckdb

from dagster_project.config import CdpConfig, SourceConfig
from dagster_project.ingest.load import SourceLoadReport, ensure_raw_schema, ensure_raw_table, load_source
from dagster_project.ingest.readers import is_plain_column_name
from dagster_project.ingest.tombstones import TombstoneKeys
from dagster_project.warehouse import connect

LOAD_LOG = "raw.load_log"
QUARANTINE = "raw.quarantine"
# Partitions replaced per load: a file's rows are one partition of its source's raw table.
PARTITIONS = {"raw": ["_file_sha256"], QUARANTINE: ["source", "file_sha256"]}
GOVERNANCE_TABLES = ("governance.erasure_tombstones", "governance.tombstone_key")


def load_source_to_spark(
    spark, config: CdpConfig, source: SourceConfig, run_id: str = "", keys: TombstoneKeys | None = None,
    track: Callable[[list[Path]], Iterable[Path]] = iter,
) -> SourceLoadReport:
    """Load every new landing file of `source` into the Spark tables; the report is load_source's."""
    table = f"raw.{source.name}"
    with duckdb.connect() as scratch:
        ensure_raw_schema(scratch)
        _copy_tombstones(config.warehouse, scratch)
        _mark_loaded(scratch, source.name, _loaded_hashes(spark, source.name))
        ensure_raw_table(scratch, source)
        _add_spark_columns(spark, scratch, table)
        report = load_source(scratch, source, config.landing, run_id, keys, track)
        with tempfile.TemporaryDirectory(dir=handover_folder(config)) as folder:
            _write(spark, scratch, table, table, PARTITIONS["raw"], Path(folder))
            _write(spark, scratch, QUARANTINE, QUARANTINE, PARTITIONS[QUARANTINE], Path(folder))
            # last: only now do this run's files count as loaded
            new_lines = f"(select * from {LOAD_LOG} where sha256 not in (select sha256 from spark_loaded))"
            _write(spark, scratch, new_lines, LOAD_LOG, [], Path(folder))
    return report


def handover_folder(config: CdpConfig) -> Path:
    """Where the loaded rows are handed to Spark as Parquet: under spark.warehouse, which on a
    cluster must be a folder its executors see too (a shared mount)."""
    folder = config.spark.warehouse / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def hand_over(spark, con: duckdb.DuckDBPyConnection, rows_sql: str, path: Path):
    """The rows of `rows_sql` (a DuckDB table or a parenthesised query) as a Spark frame, handed
    over through a Parquet file at `path` (under handover_folder)."""
    quoted = path.as_posix().replace("'", "''")
    con.execute(f"copy {rows_sql} to '{quoted}' (format parquet)")
    return spark.read.parquet(str(path))


def _copy_tombstones(warehouse: Path, scratch: duckdb.DuckDBPyConnection) -> None:
    """The erased people's tombstones (and their key's fingerprint), from the DuckDB warehouse if it has any."""
    if not warehouse.exists():
        return
    scratch.execute("create schema if not exists governance")
    with connect(warehouse, read_only=True) as con:
        present = {name for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables where table_schema = 'governance'").fetchall()}
        for name in GOVERNANCE_TABLES:
            if name in present:
                rows = con.execute(f"select * from {name}").arrow()
                scratch.register("copied_rows", rows)
                scratch.execute(f"create table {name} as select * from copied_rows")
                scratch.unregister("copied_rows")


def _mark_loaded(scratch: duckdb.DuckDBPyConnection, source: str, hashes: set[str]) -> None:
    """The files Spark holds, logged as loaded in the scratch load log, so load_source skips them."""
    scratch.execute("create temp table spark_loaded (sha256 varchar)")
    if hashes:
        scratch.executemany("insert into spark_loaded values (?)", [[sha] for sha in sorted(hashes)])
    scratch.execute(f"""insert into {LOAD_LOG} (source, file, sha256, status, rows_read, rows_loaded, rows_quarantined, loaded_at)
                        select ?, '', sha256, 'loaded', 0, 0, 0, now() from spark_loaded""", [source])


def _loaded_hashes(spark, source: str) -> set[str]:
    if not spark.catalog.tableExists(LOAD_LOG):
        return set()
    rows = spark.sql(f"select distinct sha256 from {LOAD_LOG} where source = :source and status = 'loaded'",
                     args={"source": source}).collect()
    return {row.sha256 for row in rows}


def _add_spark_columns(spark, scratch: duckdb.DuckDBPyConnection, table: str) -> None:
    """Columns outside the contract that earlier files added to the Spark table, so the scratch
    load checks a new file's columns against them (case) and keeps them."""
    if not spark.catalog.tableExists(table):
        return
    schema, name = table.split(".")
    present = {r[0].lower() for r in scratch.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?", [schema, name]).fetchall()}
    for column in spark.table(table).columns:
        if column.lower() not in present and is_plain_column_name(column):
            scratch.execute(f'alter table {table} add column "{column}" varchar')


def _write(spark, scratch: duckdb.DuckDBPyConnection, rows_sql: str, table: str, partition_by: list[str],
           folder: Path) -> None:
    """The rows of `rows_sql` (a table or a subquery) appended to the Spark table (created on first
    use), replacing the partitions they fill."""
    rows = hand_over(spark, scratch, rows_sql, folder / f"{table}.parquet")
    exists = spark.catalog.tableExists(table)
    if exists and rows.isEmpty():
        return
    spark.sql(f"create database if not exists {table.split('.')[0]}")
    if not exists:
        rows.write.format("parquet").partitionBy(*partition_by).saveAsTable(table)
        return
    aligned = _aligned(spark, rows, table)
    if partition_by:
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        aligned.write.insertInto(table, overwrite=True)
    else:
        aligned.write.insertInto(table)


def _aligned(spark, rows, table: str):
    """`rows` in the table's column order (insertInto is by position); columns new to the table added first."""
    from pyspark.sql import functions as F

    known = {c.lower() for c in spark.table(table).columns}
    new = [field for field in rows.schema.fields if field.name.lower() not in known]
    if new:
        columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in new)
        spark.sql(f"alter table {table} add columns ({columns})")
    types = {field.name.lower(): field.dataType for field in spark.table(table).schema.fields}
    present = {c.lower(): c for c in rows.columns}
    return rows.select([
        F.col(present[name]).cast(types[name]).alias(name) if name in present else F.lit(None).cast(types[name]).alias(name)
        for name in (c.lower() for c in spark.table(table).columns)
    ])
