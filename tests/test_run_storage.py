"""Dagster's SQLite storage is held open during a run, so storing an event does not checkpoint the WAL,
and its commits do not wait for an fsync."""

from pathlib import Path

import dagster as dg
import sqlalchemy

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
            assert _job.execute_in_process(instance=instance, run_id=run_id).success
            # Dagster closed its connections, but not the last one: the WAL was not checkpointed away.
            assert Path(f"{shard}-wal").stat().st_size > 0
            assert _synchronous(shard) == 1  # NORMAL
        assert not Path(f"{shard}-wal").exists()  # the holder's close was the last: checkpointed then
        assert _synchronous(shard) == 2  # FULL, SQLite's default, again
        stored = [r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run_id).records]
        assert stored.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 3


def _synchronous(database: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}", poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as con:
        return con.execute(sqlalchemy.text("pragma synchronous")).scalar()
