"""The DuckDB warehouse: one file, its path from cdp.yml.

DuckDB allows one writing process at a time, so every Python step opens its
connection, does its work and closes it before dbt (a separate process) runs.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

# DuckDB locks the whole file per process, readers included: a BI tool's query
# on the working warehouse (rather than the published copy) blocks a step for
# as long as it runs. A lock that goes away within this time is waited for,
# with growing pauses, instead of failing the run.
LOCK_WAIT_SECONDS = 30.0


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
            return duckdb.connect(str(path), read_only=read_only)
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
