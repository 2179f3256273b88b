"""Right to erasure on engine spark: deleting rows from Spark's Parquet tables.

governance/erasure.py decides which rows go, for both engines; `SparkTables`
deletes them from Spark's tables as `DuckdbTables` does from DuckDB's. A raw
or quarantine condition is DuckDB SQL (the sources' mappings, the keyed
tombstone hash), so the columns it reads are copied into the erasure's DuckDB
connection, the erased rows' keys (file hash, row number) found there, and
sent back; the model tables' conditions (person_id, record keys) run on Spark.

A table's files cannot lose rows in place: a table, or each partition of the
partitioned raw and quarantine tables that holds erased rows, is written
without them, in the table's own format (dbt-spark's tables are Hive text
tables, ingest's Parquet), to a new folder (`<table>__erased/<partition>/<version>` beside
the table's own folder) and the metastore is pointed at it in one step
(ALTER TABLE ... SET LOCATION). A reader, or a crash, sees the old table (or
partition) or the new one, never a half-written one. The old folder is then
deleted, so the rows leave the disk, not only the table. An erasure cut short
is finished by running it again: the person is still found (Spark's identity
tables go last), the rows still there go, and `remove_unreferenced` deletes
any folder a crash left (an old version, or a new one never swapped in).

The load log reconciles by what the tables hold: a file's rows_loaded (or
rows_quarantined) above the rows its partition still holds are moved to
rows_erased, so a crash between a partition's swap and the log's never loses
or double-counts erased rows.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from dagster_project.spark.tables import arrow_table, read_from_spark

LOAD_LOG = "raw.load_log"
QUARANTINE = "raw.quarantine"
# The tables erasure finds the person in: copied from Spark before it looks.
IDENTITY_TABLES = ["identity.person_map", "intermediate.int_identity__records", "identity.partner_matches"]
VERSIONS = "__erased"  # suffix of the folder beside a table's own that holds its rewritten versions
WRITER = "__erasure_writer"  # suffix of the table that writes a rewritten version in its table's format


def erasure_tables(config, spark_resource) -> Callable | None:
    """What erase_person deletes from beside DuckDB: Spark's tables with engine spark, through the
    resource's session (started only when an erasure runs)."""
    if config.engine != "spark":
        return None
    return lambda con: SparkTables(spark_resource.session(), con)


class SparkTables:
    """Deleting rows from Spark's tables; `con` is the erasure's DuckDB connection (its temp tables
    erased_persons and erased_records, the tombstones its conditions read)."""

    def __init__(self, spark, con):
        self.spark = spark
        self.con = con

    def copy_identity(self) -> None:
        read_from_spark(self.spark, self.con, IDENTITY_TABLES)

    def exists(self, table: str) -> bool:
        return self.spark.catalog.tableExists(table)

    # raw and quarantine: conditions evaluated on DuckDB, rows deleted by key

    def delete_raw_rows(self, source: str, condition: str) -> int:
        table = f"raw.{source}"
        self.remove_unreferenced(table)  # what an erasure cut short may have left
        self._copy(table, condition, ["_file_sha256", "_row_number"])
        self._send("erased_keys", "select distinct _file_sha256 as file_sha256, _row_number as row_number "
                                  f"from spark_rows where {condition}")
        self._rewrite_partitions(table, {}, "_file_sha256", "_row_number")
        return self._reconcile(source, "rows_loaded", table, "_file_sha256", "count(*)")

    def quarantine_of(self, source: str) -> str:
        self._copy(QUARANTINE, "", ["file_sha256", "row_number", "action", "raw_record"], f"source = '{_quoted(source)}'")
        return "spark_rows"

    def delete_quarantined(self, source: str, matching: str) -> int:
        self.remove_unreferenced(QUARANTINE)
        self._send("erased_keys", f"select distinct file_sha256, row_number from ({matching})")
        self._rewrite_partitions(QUARANTINE, {"source": source}, "file_sha256", "row_number")
        # a quarantined row has an entry per broken field; entries of loaded rows (action 'field') do not count
        rows = f"(select * from {QUARANTINE} where source = '{_quoted(source)}')"
        return self._reconcile(source, "rows_quarantined", rows, "file_sha256",
                               "count(distinct case when coalesce(action, 'row') = 'row' then row_number end)")

    def _copy(self, table: str, condition: str, keys: list[str], where: str = "true") -> None:
        """The rows of the Spark table as the DuckDB temp table spark_rows: only the keys and the
        columns `condition` names (a raw table's other columns never cross)."""
        named = [c for c in self.spark.table(table).columns
                 if c in keys or re.search(rf"(?<![\w$]){re.escape(c)}(?![\w$])", condition, re.IGNORECASE)]
        self.con.register("from_spark", arrow_table(self.spark.table(table).where(where).select(*named)))
        try:
            self.con.execute("create or replace temp table spark_rows as select * from from_spark")
        finally:
            self.con.unregister("from_spark")

    def _send(self, view: str, query: str) -> None:
        """The rows of the DuckDB `query` as the Spark temp view `view` (a person's few keys or ids)."""
        result = self.con.execute(query)
        columns = [(name, "bigint" if "INT" in str(kind).upper() else "string") for name, kind, *_ in result.description]
        self.spark.createDataFrame(result.fetchall(), schema=", ".join(f"{n} {t}" for n, t in columns)) \
            .createOrReplaceTempView(view)

    def _rewrite_partitions(self, table: str, spec: dict[str, str], file_column: str, row_column: str) -> None:
        """Each partition (`spec` and one landing file's rows) holding erased keys, rewritten without them.
        The partition's folder is read directly: the Hive metastore cannot filter on `_file_sha256`."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import StructType

        for (sha,) in self.spark.sql("select distinct file_sha256 from erased_keys").collect():
            partition = spec | {file_column: sha}
            data = StructType([f for f in self.spark.table(table).schema.fields if f.name not in partition])
            rows = self.spark.read.schema(data).parquet(self._location(table, partition))
            erased = self.spark.table("erased_keys").where(F.col("file_sha256") == sha)
            self._replace(table, rows.join(erased.select(F.col("row_number").alias(row_column)), on=row_column,
                                           how="left_anti"), partition)

    def _reconcile(self, source: str, counter: str, rows: str, file_column: str, count_sql: str) -> int:
        """Move each loaded file's rows that its partition no longer holds from `counter` to
        rows_erased; returns how many moved (the rows erased now, and any an erasure cut short left)."""
        self.remove_unreferenced(LOAD_LOG)
        self.spark.sql(f"""
            select l.sha256, greatest(l.{counter} - coalesce(held.n, 0), 0) as erased_now
            from {LOAD_LOG} l left join (select {file_column} as sha256, {count_sql} as n from {rows} group by 1) held
              on held.sha256 = l.sha256
            where l.source = '{_quoted(source)}' and l.status = 'loaded'""").createOrReplaceTempView("erasure_moves")
        moved = self.spark.sql("select coalesce(sum(erased_now), 0) from erasure_moves").collect()[0][0]
        if moved:
            moves = self.spark.sql(f"""
                select l.*, coalesce(m.erased_now, 0) as erased_now from {LOAD_LOG} l left join erasure_moves m
                  on l.source = '{_quoted(source)}' and l.status = 'loaded' and m.sha256 = l.sha256""")
            self._replace(LOAD_LOG, moves.selectExpr(*[
                f"{c} - erased_now as {c}" if c == counter else f"{c} + erased_now as {c}" if c == "rows_erased" else c
                for c in self.spark.table(LOAD_LOG).columns]))
        return moved

    # model tables: conditions on Spark

    def model_tables(self, schemas) -> list[tuple[str, str, list[str]]]:
        self._send("erased_persons", "select distinct person_id from erased_persons")
        self._send("erased_records", "select distinct record_key, source, source_record_id from erased_records")
        return [(schema, table.name, self.spark.table(f"{schema}.{table.name}").columns)
                for schema in schemas if self.spark.catalog.databaseExists(schema)
                for table in self.spark.catalog.listTables(schema)
                if table.tableType in ("MANAGED", "EXTERNAL") and not table.name.endswith(WRITER)]

    def holds_erased_person(self, list_column: str) -> str:
        return f"arrays_overlap({list_column}, (select collect_list(person_id) from erased_persons))"

    def delete_where(self, table: str, where: str) -> int:
        self.remove_unreferenced(table)  # an erasure cut short after a swap left the old folder
        removed = self.spark.sql(f"select count(*) from {table} where coalesce({where}, false)").collect()[0][0]
        if removed:
            self._replace(table, self.spark.sql(f"select * from {table} where not coalesce({where}, false)"))
        return removed

    # replacing a table or a partition

    def _replace(self, table: str, rows, spec: dict[str, str] | None = None) -> None:
        """`rows` (the table's data columns) as the table's new contents, or the partition's of `spec`:
        written to a new folder, swapped in by the metastore in one step, the old folder then deleted."""
        files = _Files(self.spark)
        partition = "/".join(f"{column}={value}" for column, value in (spec or {}).items())
        folder = files.join(self._versions(table), partition, uuid.uuid4().hex)
        if spec:  # a partition of raw or quarantine: ingest writes them as Parquet
            rows.write.parquet(folder)
        else:
            self._write_as(table, rows, folder)
        target = f"{table} partition ({_spec_sql(spec)})" if spec else table
        self.spark.sql(f"alter table {target} set location '{_quoted(folder)}'")
        self.spark.catalog.refreshTable(table)
        self.remove_unreferenced(table)

    def _write_as(self, table: str, rows, folder: str) -> None:
        """`rows` written to `folder` in `table`'s own storage format (dbt-spark's tables are Hive text
        tables, not Parquet), through a table LIKE it at that folder: external, so dropping it keeps the files."""
        writer = table + WRITER
        self.spark.sql(f"drop table if exists {writer}")  # an erasure cut short may have left it
        self.spark.sql(f"create table {writer} like {table} location '{_quoted(folder)}'")
        try:
            rows.write.insertInto(writer, overwrite=True)
        finally:
            self.spark.sql(f"drop table {writer}")

    def remove_unreferenced(self, table: str) -> None:
        """Delete the folders of `table` (of each partition, if partitioned) that it no longer reads:
        its own folder once replaced, and every other version."""
        files = _Files(self.spark)
        versions = self._versions(table)
        if not files.exists(versions):  # never rewritten: its own folder is its only one
            return
        depth = sum(1 for column in self.spark.catalog.listColumns(table) if column.isPartition)
        partitions = [""]
        for _ in range(depth):  # col=value/... of each partition ever rewritten
            partitions = [f"{p}/{child.rsplit('/', 1)[-1]}".lstrip("/") for p in partitions
                          for child in files.children(files.join(versions, p))]
        for partition in partitions:
            current = self._location(table, dict(part.split("=", 1) for part in partition.split("/")) if partition else None)
            for folder in [files.join(self._home(table), partition), *files.children(files.join(versions, partition))]:
                if (current is None or files.qualified(folder) != files.qualified(current)) and files.exists(folder):
                    files.delete(folder)

    def _home(self, table: str) -> str:
        """The folder Spark gives the table, where dbt and ingest write it (under its database's)."""
        schema, name = table.split(".")
        return _Files(self.spark).join(self.spark.catalog.getDatabase(schema).locationUri, name.lower())

    def _versions(self, table: str) -> str:
        return self._home(table) + VERSIONS

    def _location(self, table: str, spec: dict[str, str] | None = None) -> str | None:
        """Where the table, or its partition `spec`, is read from (None: no such partition)."""
        from pyspark.sql.utils import AnalysisException

        try:
            rows = self.spark.sql(f"describe table extended {table}" + (f" partition ({_spec_sql(spec)})" if spec else "")).collect()
        except AnalysisException:  # the partition is gone
            return None
        return next(row.data_type for row in rows if row.col_name == "Location")


class _Files:
    """The table folders, through Hadoop's file system API: local, HDFS or object stores alike."""

    def __init__(self, spark):
        self.jvm = spark._jvm
        self.conf = spark._jsc.hadoopConfiguration()

    def _path(self, location: str):
        return self.jvm.org.apache.hadoop.fs.Path(location)

    def _fs(self, path):
        return path.getFileSystem(self.conf)

    def join(self, *parts: str) -> str:
        return "/".join(part.rstrip("/") for part in parts if part)

    def qualified(self, location: str) -> str:
        path = self._path(location)
        return self._fs(path).makeQualified(path).toString().rstrip("/")

    def exists(self, location: str) -> bool:
        path = self._path(location)
        return self._fs(path).exists(path)

    def children(self, location: str) -> list[str]:
        """The folders in `location` (none if it does not exist)."""
        if not self.exists(location):
            return []
        path = self._path(location)
        return [status.getPath().toString() for status in self._fs(path).listStatus(path) if status.isDirectory()]

    def delete(self, location: str) -> None:
        path = self._path(location)
        self._fs(path).delete(path, True)


def _spec_sql(spec: dict[str, str]) -> str:
    return ", ".join(f"{column} = '{_quoted(value)}'" for column, value in spec.items())


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
