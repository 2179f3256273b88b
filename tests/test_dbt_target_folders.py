"""Each dbt command of a run gets a target folder of its own (dagster-dbt): after a run, the folders of
all but the latest runs are deleted, so a workspace run daily does not grow by gigabytes a year."""

import os
from pathlib import Path

from dagster_project.dbt_workspace import KEPT_RUNS, prune_invocation_folders


def _run_folders(target: Path, run_id: str, when: int) -> list[Path]:
    folders = [target / f"{step}-{run_id[:7]}-{n:07x}" for n, step in enumerate(("dbt_marts", "dbt_activation"))]
    for folder in folders:
        (folder / "compiled").mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (when, when))
    return folders


def test_the_latest_runs_folders_and_the_current_runs_are_kept(tmp_path):
    target = tmp_path / "target"
    runs = [f"{n:07x}" + "-0000-0000" for n in range(KEPT_RUNS + 3)]  # the first is the oldest
    folders = {run: _run_folders(target, run, when=1_000_000 + 100 * n) for n, run in enumerate(runs)}
    current = "fedcba9-1111"  # this run's folders: older on disk than some (a clock moved), kept all the same
    folders[current] = _run_folders(target, current, when=900_000)
    (target / "manifest.json").write_text("{}")  # the project's own parse, and dbt's other folders, stay
    (target / "compiled").mkdir()

    deleted = prune_invocation_folders(tmp_path, current)

    assert sorted(deleted) == sorted(f for run in runs[:3] for f in folders[run])
    assert all(not f.exists() for f in deleted)
    kept = [f for run in [*runs[3:], current] for f in folders[run]]
    assert all(f.exists() for f in kept) and (target / "manifest.json").exists() and (target / "compiled").exists()
    assert prune_invocation_folders(tmp_path, current) == []  # nothing more to delete
    assert prune_invocation_folders(tmp_path / "no-project", current) == []
