"""The DuckDB warehouse: one file, its path from cdp.yml.

DuckDB allows one writing process at a time, so every Python step opens its
connection, does its work and closes it before dbt (a separate process) runs.

Deleting rows does not remove them from the file: DuckDB marks them deleted
and later frees their blocks, but the bytes stay in the file until a block is
reused, so anyone with the file could read an erased person back.
`rewrite_without_free_blocks` copies the database table by table (a logical
copy, `COPY FROM DATABASE`: only live rows are written) into a new file that
replaces the old one. A byte copy of the file (what publish.py does) would
keep the free blocks; hence erasures rewrite first and publish after.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from dagster_project.files import sync_file, sync_folder

# DuckDB locks the whole file per process, readers included: a BI tool's query
# on the working warehouse (rather than the published copy) blocks a step for
# as long as it runs. A lock that goes away within this time is waited for,
# with growing pauses, instead of failing the run.
LOCK_WAIT_SECONDS = 30.0

# DuckDB's default memory limit is 80% of the machine, as if it ran alone: at
# 1,000,000 people a run then peaked at 20 GiB. The run's Python side (polars
# frames, Splink's inputs) needs room beside it, so DuckDB (each Python
# connection and dbt's) gets this share, and spills to disk beyond it.
MEMORY_SHARE = 0.4
# Identity clustering holds GBs of polars frames and numpy arrays beside its DuckDB work (at
# 1,000,000 people about 7 GiB at once): its connection gets this smaller share meanwhile.
PYTHON_HEAVY_SHARE = 0.3


def memory_limit(share: float = MEMORY_SHARE) -> str:
    """DuckDB's memory limit: $CDP_MEMORY_LIMIT (DuckDB's form, e.g. "8GB") or `share` of this machine's memory."""
    configured = os.environ.get("CDP_MEMORY_LIMIT", "").strip()
    if configured:
        return configured
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{int(machine * share) // 2**20}MiB"


@contextmanager
def memory_share(con: duckdb.DuckDBPyConnection, share: float) -> Iterator[None]:
    """DuckDB's memory limit on `con` (opened by `connect`) set to `share` of the machine for a while,
    then back to the usual one; $CDP_MEMORY_LIMIT, when set, is kept throughout."""
    con.execute(f"set memory_limit = '{memory_limit(share)}'")
    try:
        yield
    finally:
        con.execute(f"set memory_limit = '{memory_limit()}'")


def threads() -> int:
    """DuckDB's threads (each Python connection and dbt's): $CDP_THREADS, else one per core.
    Processes sharing a machine (e.g. the test suite's workers) set it lower, or their
    threads fight over the same cores."""
    configured = os.environ.get("CDP_THREADS", "").strip()
    return int(configured) if configured else (os.cpu_count() or 1)


def duckdb_settings() -> dict[str, object]:
    return {"memory_limit": memory_limit(), "threads": threads()}


@contextmanager
def connect(path: Path, read_only: bool = False, lock_wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, lock_wait)
    try:
        yield con
    finally:
        con.close()


def _open(path: Path, read_only: bool, lock_wait: float) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting up to `lock_wait` seconds while another process holds the file's lock."""
    deadline = time.monotonic() + lock_wait
    pause = 0.1
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=duckdb_settings())
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def rewrite_without_free_blocks(path: Path) -> None:
    """Replace the database at `path` with a logical copy of itself: every schema, table, view,
    sequence and macro, none of the deleted rows. Atomic (temporary file, fsync, rename); the
    caller holds the workspace's run lock, so no other process has the file open."""
    temporary = path.with_name(f".{path.name}.rewrite.tmp")  # one name: a killed rewrite leaves no litter
    _remove_database_files(temporary)
    try:
        with connect(path) as con:
            con.execute("set enable_progress_bar = false")
            con.execute("checkpoint")
            catalog = con.execute("select current_database()").fetchall()[0][0]
            con.execute(f"attach '{_sql_text(temporary)}' as rewritten")
            con.execute(f'copy from database "{catalog}" to rewritten')
            con.execute("checkpoint rewritten")  # every change in the file, none left in a WAL
            _check_same_contents(con, catalog, "rewritten")
            con.execute("detach rewritten")
        wal = path.with_name(path.name + ".wal")
        if wal.exists():  # DuckDB would replay it into the new file
            raise RuntimeError(f"{wal} left after closing the warehouse: another process writes it")
        sync_file(temporary)
        os.replace(temporary, path)
        sync_folder(path.parent)
    finally:
        _remove_database_files(temporary)


def _check_same_contents(con: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
    """Same objects and same row count per table in both databases, or the old file stays."""
    def contents(catalog: str) -> list[tuple]:
        objects = con.execute(
            f"""select 'table', schema_name, table_name from duckdb_tables() where database_name = '{catalog}'
                union all select 'view', schema_name, view_name from duckdb_views() where database_name = '{catalog}' and not internal
                union all select 'sequence', schema_name, sequence_name from duckdb_sequences() where database_name = '{catalog}'
                union all select 'macro', schema_name, function_name from duckdb_functions()
                          where database_name = '{catalog}' and not internal and function_type like '%macro'
                order by all"""
        ).fetchall()
        return [(*o, con.execute(f'select count(*) from "{catalog}"."{o[1]}"."{o[2]}"').fetchall()[0][0])
                if o[0] == "table" else o for o in objects]
    if contents(old) != contents(new):
        raise RuntimeError("the rewritten warehouse differs from the original: kept the original")


def _remove_database_files(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _sql_text(value) -> str:
    return str(value).replace("'", "''")
