"""Freshness records of a run (ops.file_freshness) and the progress of long steps."""

from __future__ import annotations

import sys

import pytest

from dagster_project import progress
from dagster_project.run_summary import stage_seconds
from dagster_project.warehouse import connect


class Log:
    def __init__(self):
        self.lines = []

    def info(self, message):
        self.lines.append(message)


def test_progress_writes_log_lines_and_nothing_to_stderr_when_not_a_terminal(capsys):
    log = Log()
    assert list(progress.track(["a.csv", "b.csv"], "ingest crm", log)) == ["a.csv", "b.csv"]
    with progress.Counter("identity", 2, log) as stages:
        stages.advance("scored")
        stages.advance()
    assert log.lines == ["ingest crm 1/2: a.csv", "ingest crm 2/2: b.csv", "identity 1/2: scored", "identity 2/2"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("tty, ci, expected", [(True, None, True), (True, "true", False), (False, None, False)])
def test_bars_only_on_a_terminal_outside_ci(monkeypatch, tty, ci, expected):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert progress.interactive() is expected


def test_stage_times_sum_steps_by_stage_in_running_order():
    steps = {"governance__erasure_requests": 1.0, "raw__crm": 2.0, "dbt_staging_and_intermediate": 5.0,
             "raw__pos": 0.5, "identity__model": 1.5, "identity__person_map": 3.0, "export__email_platform__vip": 0.25}
    assert stage_seconds(steps) == {"ingest": 3.5, "dbt_staging_and_intermediate": 5.0, "identity": 4.5, "exports": 0.25}


def test_each_loaded_file_has_one_freshness_row_with_ordered_times(multi_day):
    config, runs = multi_day["config"], multi_day["runs"]
    with connect(config.warehouse, read_only=True) as con:
        for run in runs:
            loaded = set(con.execute(
                "select source, file, sha256 from raw.load_log where run_id = ? and status = 'loaded'", [run.run_id]).fetchall())
            rows = con.execute(
                """select source, file, sha256, landed_at, loaded_at, profiled_at, audience_at, landed_to_audience_seconds
                   from ops.file_freshness where run_id = ?""", [run.run_id]).fetchall()
            assert {row[:3] for row in rows} == loaded and len(rows) == len(loaded)
            for *_, landed, loaded_at, profiled, audience, seconds in rows:
                assert landed <= loaded_at <= profiled <= audience
                assert seconds == pytest.approx((audience - landed).total_seconds(), abs=0.01)
            files, fastest, slowest = run.summary.freshness
            assert files == len(rows)
            if rows:
                assert slowest == pytest.approx(max(r[-1] for r in rows)) and "landed -> audience" in run.summary.render()
    first, second, third = runs
    assert first.summary.freshness[0] > 0 and second.summary.freshness[0] > 0
    assert third.summary.freshness[0] == 0  # nothing new landed: nothing to record
