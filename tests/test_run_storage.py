"""Dagster's SQLite storage is held open during a run, so storing an event does not checkpoint the WAL,
its commits do not wait for an fsync, and it opens no connection of its own."""

from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy
from sqlalchemy import event

from dagster_project.run_storage import new_run_id, storage_kept_open


@dg.op
def _three_events(context):
    for name in ("a", "b", "c"):
        context.log_event(dg.AssetMaterialization(asset_key=name))


@dg.job
def _job():
    _three_events()


def test_the_run_stores_its_events_while_the_storage_is_held_open(tmp_path):
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        run_id = new_run_id()
        with storage_kept_open(instance, run_id) as held:
            shard = Path(instance.event_log_storage.path_for_shard(run_id))
            assert shard in held and Path(tmp_path, "history", "runs.db") in held
            with storage_kept_open(instance, run_id):  # nested, as `cdp run` and its executor hold it
                with _connections_opened() as opened:
                    assert _job.execute_in_process(instance=instance, run_id=run_id).success
            # Dagster closed its connections, but not the last one: the WAL was not checkpointed away.
            assert Path(f"{shard}-wal").stat().st_size > 0
            assert _synchronous(shard) == 1  # NORMAL
        assert not Path(f"{shard}-wal").exists()  # the holder's close was the last: checkpointed then
        assert _synchronous(shard) == 2  # FULL, SQLite's default, again
        stored = [r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run_id).records]
        assert stored.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 3
        # about 20 events stored, in the run's shard and the index: one pooled connection to each
        assert len(stored) > 10 and opened[str(shard)] <= 1 and opened[str(Path(tmp_path, "history", "runs", "index.db"))] <= 1
        assert "_connect" not in vars(instance.event_log_storage)  # Dagster's own connections again


@contextmanager
def _connections_opened():
    """Counts the SQLite connections this process opens, per database file."""
    opened = Counter()

    def on_connect(connection, _record):
        opened[connection.execute("pragma database_list").fetchone()[2]] += 1

    event.listen(sqlalchemy.engine.Engine, "connect", on_connect)
    try:
        yield opened
    finally:
        event.remove(sqlalchemy.engine.Engine, "connect", on_connect)


def _synchronous(database: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}", poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as con:
        return con.execute(sqlalchemy.text("pragma synchronous")).scalar()
