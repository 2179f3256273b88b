"""The published warehouse readers query, and runs that survive kill -9.

The reader test uses the multi_day runs (readers query throughout its second
run). The others work on a copy of the multi_day workspace as its third run
left it: a run killed with SIGKILL during dbt, then run again, must end where
that uninterrupted identical run ended.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.config import PROJECT_ROOT, load_config
from dagster_project.pipeline import dagster_instance, run_pipeline
from dagster_project.warehouse import connect


def _persons(path: Path) -> int:
    with connect(path, read_only=True) as con:
        return con.execute("select count(distinct person_id) from identity.person_map").fetchone()[0]


def test_readers_of_the_published_warehouse_are_never_refused_during_a_run(multi_day):
    config = multi_day["config"]
    ids_first, ids_second, _ = multi_day["ids"]
    before, after = ids_first["person_id"].n_unique(), ids_second["person_id"].n_unique()
    assert before != after  # the second day's batch adds people: the snapshots differ
    reads = multi_day["reads_during_second"]
    for mode, seen in reads.items():
        assert seen["errors"] == [] and seen["queries"] >= 20, (mode, seen)
    assert reads["held"]["persons"] == [before]  # a connected reader keeps its snapshot, whole
    assert reads["fresh"]["persons"] == sorted({before, after})  # a new reader gets the newest one
    assert _persons(config.published) == _persons(config.warehouse)
    assert "Published for readers: " + str(config.published) in multi_day["runs"][2].summary.render()


# ---- a copy of the multi_day workspace, killed mid-run and run again ----

def _dbt_processes(project_dir: Path, command: str = "") -> list[int]:
    """Live dbt processes working in the workspace's dbt project (dagster-dbt starts dbt there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            alive = (entry / "stat").read_text().split(")")[1].split()[0] != "Z"
            if alive and os.readlink(entry / "cwd") == str(project_dir) and command in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue  # ended meanwhile, or another user's
    return found


def _mart_counts(path: Path) -> dict[str, int]:
    with connect(path, read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'").fetchall()]
        return {table: con.execute(f'select count(*) from marts."{table}"').fetchone()[0] for table in sorted(tables)}


def _export_files(folder: Path) -> dict[str, str]:
    """Audience files (not manifests: they name the run) -> sha256, and any file left under a temporary name."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != "manifest.json"}


@pytest.fixture(scope="module")
def killed(multi_day, tmp_path_factory):
    source = multi_day["config"]
    folder = tmp_path_factory.mktemp("killed") / "w"
    shutil.copytree(source.root, folder, ignore=shutil.ignore_patterns(".cdp", "exports_after_second_run"))
    config = load_config(folder / "cdp.yml")
    dbt_dir = config.state_dir / "dbt"
    run = subprocess.Popen([sys.executable, "-m", "dagster_project.cli", "run", "--config", str(config.path)],
                           cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not _dbt_processes(dbt_dir, "\0build\0") and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before dbt started"
    started = _dbt_processes(dbt_dir)
    time.sleep(1)  # dbt is writing the warehouse
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while _dbt_processes(dbt_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _dbt_processes(dbt_dir)
    published_after_kill = _persons(config.published)
    with dagster_instance(config) as instance:
        killed_runs = [r.dagster_run.run_id for r in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))]
    status = main(["run", "--config", str(config.path)])
    return {"config": config, "source": source, "multi_day": multi_day, "dbt_started": started, "survivors": survivors,
            "published_after_kill": published_after_kill, "killed_runs": killed_runs, "status": status}


def test_killing_a_run_kills_its_dbt_and_the_rerun_ends_as_an_uninterrupted_run(killed):
    config, source, multi_day = killed["config"], killed["source"], killed["multi_day"]
    assert killed["dbt_started"] and killed["survivors"] == []
    assert killed["published_after_kill"] == _persons(source.published)  # the last good snapshot stayed
    assert killed["status"] == multi_day["runs"][2].summary.exit_status

    with connect(config.warehouse, read_only=True) as con:
        rerun_ids = con.sql("select record_key, person_id from identity.person_map order by record_key").pl()
    assert rerun_ids.equals(multi_day["ids"][2].sort("record_key"))
    assert _mart_counts(config.warehouse) == _mart_counts(source.warehouse)
    assert _export_files(config.exports) == _export_files(source.exports)  # no torn or leftover files
    assert _persons(config.published) == _persons(config.warehouse)

    assert len(killed["killed_runs"]) == 1  # the killed run was left STARTED, and is failed now
    with dagster_instance(config) as instance:
        assert instance.get_run_by_id(killed["killed_runs"][0]).status == dg.DagsterRunStatus.FAILURE


def test_a_failed_run_leaves_the_last_good_snapshot(killed, monkeypatch):
    config = killed["config"]
    before = os.stat(config.published)

    def broken_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("dagster_project.defs.export.export_audience", broken_disk)
    result = run_pipeline(config, assets=[dg.AssetKey(["export", "ad_platform", "known_customers"])])
    assert not result.success and result.summary.exit_status == 1
    assert "Not published: readers keep the previous snapshot" in result.summary.render()
    after = os.stat(config.published)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def _tables_holding(path: Path, email: str) -> list[str]:
    """Tables of the database with a text column equal to `email` (any case)."""
    found = []
    with connect(path, read_only=True) as con:
        columns = con.execute(
            """select c.table_schema, c.table_name, c.column_name from information_schema.columns c
               join information_schema.tables t using (table_catalog, table_schema, table_name)
               where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'""").fetchall()
        for schema, table, column in columns:
            if con.execute(f'select count(*) from "{schema}"."{table}" where lower("{column}") = ?', [email]).fetchone()[0]:
                found.append(f"{schema}.{table}")
    return sorted(set(found))


def test_erasure_republishes_without_the_person(killed):
    config = killed["config"]
    with connect(config.published, read_only=True) as con:
        email = con.execute("select email from marts.dim_customer where email is not null order by person_id limit 1").fetchone()[0]
    assert _tables_holding(config.published, email)  # the check can see them before the erasure
    reader = duckdb.connect(str(config.published), read_only=True)  # a reader connected meanwhile
    try:
        assert main(["erase", "--email", email, "--config", str(config.path)]) == 0
        assert reader.execute("select count(*) from marts.dim_customer").fetchone()[0] > 0
    finally:
        reader.close()
    assert _tables_holding(config.published, email) == []
