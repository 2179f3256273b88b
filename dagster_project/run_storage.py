"""Dagster's SQLite storage kept open for the length of a run.

The workspace's Dagster instance stores runs and events in SQLite files in
WAL mode, and opens and closes a connection for each event it stores. When the
last connection to a WAL database closes, SQLite checkpoints it: two or three
fsyncs per event. A run of the whole graph stores about 2,000 events (each dbt
test is an asset check: planned, output and evaluation), so on a busy disk
that cost more than the run's identity resolution. One idle connection held to
each file means Dagster's are never the last: each event costs its commit's
own write, and SQLite checkpoints as usual when the WAL grows.

That commit still waited for an fsync of the WAL (SQLite's default,
synchronous=FULL): about 9 ms each on a busy disk, 30 s a run. During the run
Dagster's connections to its WAL files use synchronous=NORMAL, SQLite's
advice for WAL: a commit survives a crash of the process and the file is
never corrupted; only a power loss can roll back the last commits (of the run
history, not of the warehouse).

Opening the connection was the next cost: Dagster's SQLite event log builds
an engine and opens a connection per event stored (in the run's shard, and
in the index for asset and check events). During the run each shard has one
engine whose connections are pooled, so an event costs its insert and
commit: a run with nothing new of an 800-person workspace took about 2 s
less (34.4 s against 36.7 s, the medians of four).
"""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine


def new_run_id() -> str:
    return str(uuid.uuid4())  # what Dagster itself uses


@contextmanager
def storage_kept_open(instance: dg.DagsterInstance, run_id: str) -> Iterator[list[Path]]:
    """While inside: one idle connection to each SQLite file of `instance`, the run's own event shard
    included (created here, before the run stores its first event). Yields the files held."""
    if not isinstance(instance.event_log_storage, SqliteEventLogStorage):
        yield []  # e.g. Postgres configured in $DAGSTER_HOME's dagster.yaml
        return
    instance.get_records_for_run(run_id, limit=1)  # creates the run's shard (Dagster initialises it on first use)
    root = Path(instance.root_directory).resolve()
    files = sorted(root.rglob("*.db"))
    with ExitStack() as stack:
        for path in files:
            con = stack.enter_context(closing(sqlite3.connect(path)))
            con.execute("select count(*) from sqlite_master").fetchall()  # joins the WAL; no transaction stays open
        stack.enter_context(_wal_commits_without_fsync(root))
        stack.enter_context(_pooled_connections(instance.event_log_storage))
        yield files


@contextmanager
def _pooled_connections(storage: SqliteEventLogStorage) -> Iterator[None]:
    """While inside: `storage` connects to each shard through one engine whose connections are
    pooled (SQLAlchemy's default pool), instead of Dagster's new engine and connection per call.
    Dagster's own lock and first-use initialisation of a shard are kept. Nested (`cdp run` holds
    the storage, and so does the workspace's executor inside it): the outer pool serves both."""
    if "_connect" in vars(storage):
        yield
        return
    engines: dict[str, Engine] = {}

    @contextmanager
    def connect(shard: str) -> Iterator[Connection]:
        with storage._db_lock:
            engine = engines.get(shard)
            if engine is None:
                engine = engines[shard] = create_engine(
                    storage.conn_string_for_shard(shard),
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
                if shard not in storage._initialized_dbs:
                    storage._initdb(engine)
                    storage._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    storage._connect = connect  # read by run_connection and index_connection
    try:
        yield
    finally:
        del storage._connect
        for engine in engines.values():
            engine.dispose()


@contextmanager
def _wal_commits_without_fsync(root: Path) -> Iterator[None]:
    """synchronous=NORMAL on each connection this process opens to a WAL database under `root`."""
    def on_connect(connection, _record) -> None:
        if isinstance(connection, sqlite3.Connection) and _wal_file_under(connection, root):
            connection.execute("pragma synchronous=NORMAL")

    event.listen(Engine, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", on_connect)


def _wal_file_under(connection: sqlite3.Connection, root: Path) -> bool:
    file = connection.execute("pragma database_list").fetchone()[2]
    in_wal = connection.execute("pragma journal_mode").fetchone()[0] == "wal"
    return in_wal and bool(file) and Path(file).resolve().is_relative_to(root)
