"""Load a source's landing files into `raw.<source>`, governed by its contract.

Per file, in one transaction: valid rows go to `raw.<source>` with their
lineage (file, hash, row number, load time, run id); rows that break the
contract go to `raw.quarantine` with the reason and their original text; a
line goes to `raw.load_log`. Rows of people erased earlier (tombstones) are
dropped, also those the contract would quarantine, and counted: read =
loaded + quarantined + erased. A file whose hash is already logged as loaded is
skipped, so re-running a load is a no-op and a run that failed half-way can
simply be run again.

A file that cannot be read or loaded (bad encoding, truncated, a header that
is not plain column names, ...) is rejected whole: logged as `rejected` with
the reason, and the other files still load. Nothing read from a file becomes
SQL text: values and file names are bound parameters or registered frames,
and a column name reaches DDL only once it passed `is_plain_column_name`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import polars as pl

from dagster_project.config import SourceConfig, column_sql_type
from dagster_project.files import file_sha256
from dagster_project.ingest.tombstones import TombstoneKeys, erased_row_numbers
from dagster_project.ingest.contract import check_contract, check_required_columns
from dagster_project.ingest.readers import ROW_NUMBER, UnreadableFileError, is_plain_column_name, read_landing_chunks

LINEAGE_COLUMNS = {
    "_source": "varchar",
    "_file": "varchar",
    "_file_sha256": "varchar",
    "_row_number": "bigint",
    "_loaded_at": "timestamp",
    "_run_id": "varchar",
}

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.load_log (
    source varchar not null,
    file varchar not null,
    sha256 varchar not null,
    status varchar not null,          -- loaded | rejected (older warehouses: failed)
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    rows_erased bigint not null default 0,  -- rows of erased people, dropped (see ingest.tombstones)
    error varchar,
    loaded_at timestamp not null,
    run_id varchar
);
create table if not exists raw.quarantine (
    source varchar not null,
    file varchar not null,
    file_sha256 varchar not null,
    row_number bigint not null,
    column_name varchar not null,
    value varchar,
    reason varchar not null,
    raw_record varchar not null,      -- the whole row as JSON text, so nothing is lost
    quarantined_at timestamp not null,
    run_id varchar,
    action varchar default 'row'      -- row: the row was not loaded | field: the value was nulled, the row loaded
);
"""


@dataclass
class FileLoad:
    file: str
    status: str  # loaded | skipped | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_erased: int = 0
    error: str | None = None
    absent_columns: list[str] = field(default_factory=list)  # optional contract columns missing from the file


@dataclass
class SourceLoadReport:
    source: str
    files: list[FileLoad] = field(default_factory=list)

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def errors(self) -> list[str]:
        return [f"{f.file}: {f.error}" for f in self.files if f.status == "rejected"]

    @property
    def absent_columns(self) -> dict[str, list[str]]:
        """Per file, the optional contract columns it lacks: a renamed column loads as nulls, so say so."""
        return {f.file: f.absent_columns for f in self.files if f.absent_columns}


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)
    # Warehouses created before erasure support lack the column.
    con.execute("alter table raw.load_log add column if not exists rows_erased bigint default 0")
    con.execute("alter table raw.quarantine add column if not exists action varchar default 'row'")
    # Before rejected files were named so, they were logged as failed.
    con.execute("update raw.load_log set status = 'rejected' where status = 'failed'")


def landing_files(source: SourceConfig, landing: Path) -> list[Path]:
    return sorted(p for p in landing.glob(source.glob) if p.is_file())


def load_source(
    con: duckdb.DuckDBPyConnection, source: SourceConfig, landing: Path, run_id: str = "",
    tombstone_keys: TombstoneKeys | None = None, track: Callable[[list[Path]], Iterable[Path]] = iter,
) -> SourceLoadReport:
    """Load every new file of `source`. Files that cannot be loaded are
    rejected (logged with the reason, listed in the report); the others load.
    `tombstone_keys` is needed once anyone has been erased; `track` wraps the
    list of files (progress.track shows `file i/n`)."""
    ensure_raw_schema(con)
    ensure_raw_table(con, source)
    report = SourceLoadReport(source.name)
    for path in track(landing_files(source, landing)):
        report.files.append(_load_file(con, source, landing, path, run_id, tombstone_keys))
    return report


def _load_file(con, source: SourceConfig, landing: Path, path: Path, run_id: str, keys: TombstoneKeys | None) -> FileLoad:
    relative = str(path.relative_to(landing))
    sha = file_sha256(path)
    if _already_loaded(con, source.name, sha):
        return FileLoad(relative, "skipped")
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        return _insert_file(con, source, path, relative, sha, loaded_at, run_id, keys)
    except UnreadableFileError as error:
        reason = error.reason
    except Exception as error:  # anything else wrong with this file must not stop the other files
        reason = f"could not be loaded: {type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
    _log(con, source.name, relative, sha, "rejected", 0, 0, 0, reason, loaded_at, run_id)
    return FileLoad(relative, "rejected", error=reason)


def _insert_file(con, source: SourceConfig, path: Path, relative: str, sha: str, loaded_at: datetime, run_id: str,
                 keys: TombstoneKeys | None) -> FileLoad:
    """Load the file block by block (readers.read_landing_chunks) in one transaction: all of it or nothing."""
    load = FileLoad(relative, "loaded")
    seen: dict[str, None] = {}  # the file's columns, in order
    absent: set[str] | None = None  # optional contract columns no block has
    con.execute("begin transaction")
    try:
        for frame in read_landing_chunks(path, source.format, source.delimiter, source.encoding):
            seen.update(dict.fromkeys(frame.columns))
            chunk = _insert_chunk(con, source, path, relative, sha, loaded_at, run_id, keys, frame)
            for attribute in ("rows_read", "rows_loaded", "rows_quarantined", "rows_erased"):
                setattr(load, attribute, getattr(load, attribute) + getattr(chunk, attribute))
            absent = set(chunk.absent_columns) if absent is None else absent & set(chunk.absent_columns)
        check_required_columns(source.contract, list(seen), path)  # a required key no block of lines has
        _log(con, source.name, relative, sha, "loaded", load.rows_read, load.rows_loaded, load.rows_quarantined, None,
             loaded_at, run_id, load.rows_erased)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    load.absent_columns = [c for c in source.contract if c in (absent or set())]
    return load


def _insert_chunk(con, source: SourceConfig, path: Path, relative: str, sha: str, loaded_at: datetime, run_id: str,
                  keys: TombstoneKeys | None, frame: pl.DataFrame) -> FileLoad:
    """Check a block of the file against the contract; insert its rows and quarantine its broken ones."""
    _check_columns_fit(con, source, path, [c for c in frame.columns if c != ROW_NUMBER])
    if source.format == "jsonl":  # a block of lines may lack a key that others have: its rows break the contract
        frame = frame.with_columns(pl.lit(None, pl.String).alias(c.name) for c in source.contract.values()
                                   if c.required and c.name not in frame.columns)
    result = check_contract(frame, source.contract, path)
    lineage = [
        pl.lit(source.name).alias("_source"),
        pl.lit(relative).alias("_file"),
        pl.lit(sha).alias("_file_sha256"),
        pl.lit(loaded_at).cast(pl.Datetime("us")).alias("_loaded_at"),
        pl.lit(run_id).alias("_run_id"),
    ]
    rows = result.valid.with_columns(lineage)
    # Rows the contract rejects are matched on their text, so an erased person's row never reaches quarantine.
    invalid = result.invalid_rows.with_columns(pl.lit(None, pl.String).alias(c) for c in result.absent_columns)
    erased = _erased_rows(con, source, rows, keys) | _erased_rows(con, source, invalid, keys, tolerant=True)
    if erased:
        rows = rows.filter(~pl.col(ROW_NUMBER).is_in(list(erased)))
    quarantine = _quarantine_rows(result, source.name, relative, sha, loaded_at, run_id)
    if erased and quarantine.height:  # quarantined rows and nulled fields of erased people go with them
        quarantine = quarantine.filter(~pl.col("row_number").is_in(list(erased)))
    quarantined = result.invalid_rows.filter(~pl.col(ROW_NUMBER).is_in(list(erased))).height
    _add_new_columns(con, source, rows)
    _insert_frame(con, f"raw.{source.name}", rows)
    if quarantine.height:
        _insert_frame(con, "raw.quarantine", quarantine)
    return FileLoad(relative, "loaded", result.rows_read, rows.height, quarantined, len(erased),
                    absent_columns=result.absent_columns)


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Insert by name from a registered Arrow frame: values never become SQL text."""
    con.register("incoming_frame", frame.to_arrow())
    try:
        con.execute(f"insert into {table} by name select * from incoming_frame")
    finally:
        con.unregister("incoming_frame")


def _check_columns_fit(con: duckdb.DuckDBPyConnection, source: SourceConfig, path: Path, columns: list[str]) -> None:
    """Reject a file whose column would collide with lineage or differ only in case from a raw column."""
    reserved = sorted(set(columns) & set(LINEAGE_COLUMNS))
    if reserved:
        raise UnreadableFileError(path, f"column name(s) {', '.join(map(repr, reserved))} are reserved for lineage")
    existing = {name.lower(): name for name in _raw_columns(con, source)}
    for name in columns:
        same = existing.get(name.lower())
        if same is not None and same != name:
            raise UnreadableFileError(path, f"column {name!r} differs only in case from column {same!r} of raw.{source.name}")


def _raw_columns(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> set[str]:
    return {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?", [source.name]
    ).fetchall()}


def _erased_rows(con, source: SourceConfig, rows: pl.DataFrame, keys: TombstoneKeys | None, tolerant: bool = False) -> set[int]:
    """Rows of people erased earlier: dropped, never loaded again."""
    con.register("incoming_check", rows.to_arrow())
    try:
        return erased_row_numbers(con, source, "incoming_check", keys, tolerant)
    finally:
        con.unregister("incoming_check")


def _already_loaded(con: duckdb.DuckDBPyConnection, source: str, sha: str) -> bool:
    found = con.execute(
        "select count(*) from raw.load_log where source = ? and sha256 = ? and status = 'loaded'", [source, sha]
    ).fetchall()[0][0]
    return found > 0


def _log(con, source, file, sha, status, read, loaded, quarantined, error, loaded_at, run_id, erased=0) -> None:
    con.execute(
        """insert into raw.load_log (source, file, sha256, status, rows_read, rows_loaded, rows_quarantined,
                                     rows_erased, error, loaded_at, run_id)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [source, file, sha, status, read, loaded, quarantined, erased, error, loaded_at, run_id],
    )


def ensure_raw_table(con: duckdb.DuckDBPyConnection, source: SourceConfig) -> None:
    columns = {**LINEAGE_COLUMNS, **{c.name: column_sql_type(c) for c in source.contract.values()}}
    ddl = ", ".join(f'"{name}" {sql_type}' for name, sql_type in columns.items())
    con.execute(f"create table if not exists raw.{source.name} ({ddl})")


def _add_new_columns(con: duckdb.DuckDBPyConnection, source: SourceConfig, rows: pl.DataFrame) -> None:
    """Columns outside the contract are kept as text, so nothing in a file is lost."""
    existing = _raw_columns(con, source)
    for name in rows.columns:
        if name not in existing and name != ROW_NUMBER:
            if not is_plain_column_name(name):  # the readers reject such files; never let one reach DDL
                raise UnreadableFileError(Path(name), "column name is not a plain name")
            con.execute(f'alter table raw.{source.name} add column "{name}" varchar')


def _quarantine_rows(result, source: str, file: str, sha: str, loaded_at: datetime, run_id: str) -> pl.DataFrame:
    if result.violations.is_empty():
        return pl.DataFrame()
    records = {
        row[ROW_NUMBER]: json.dumps({k: v for k, v in row.items() if k != ROW_NUMBER}, ensure_ascii=False)
        for row in result.flagged_rows.iter_rows(named=True)
    }
    return result.violations.rename({ROW_NUMBER: "row_number"}).with_columns(
        pl.col("row_number").replace_strict(records, return_dtype=pl.String).alias("raw_record"),
        pl.lit(source).alias("source"),
        pl.lit(file).alias("file"),
        pl.lit(sha).alias("file_sha256"),
        pl.lit(loaded_at).cast(pl.Datetime("us")).alias("quarantined_at"),
        pl.lit(run_id).alias("run_id"),
    )
