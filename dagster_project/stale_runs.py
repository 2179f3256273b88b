"""Runs killed outside Dagster's control (kill -9, a power cut) stay STARTED in
the run history forever: nothing is left to report their end.

Every run of a workspace carries WORKSPACE_TAG, set while it holds the
workspace's run lock (`cdp run` creates its run inside the lock, a run that
Dagster launches is tagged by the locking executor). When a later process
takes over a lock whose holder died (run_lock.workspace_lock yields that
holder), no run of the workspace can still be going on, so every one of them
still marked as going on is reported failed. Tags keep a shared $DAGSTER_HOME
instance's runs of other workspaces out of it.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.config import CdpConfig
from dagster_project.run_lock import Holder

WORKSPACE_TAG = "cdp/workspace"
GOING_ON = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def workspace_tags(config: CdpConfig) -> dict[str, str]:
    return {WORKSPACE_TAG: str(config.state_dir.resolve())}


def fail_stale_runs(instance: dg.DagsterInstance, config: CdpConfig, dead_holder: Holder,
                    current_run_id: str | None = None) -> list[str]:
    """Report this workspace's runs still marked as going on as failed (call
    holding the run lock taken over from `dead_holder`); returns their ids."""
    records = instance.get_run_records(dg.RunsFilter(statuses=GOING_ON, tags=workspace_tags(config)))
    stale = [record.dagster_run for record in records if record.dagster_run.run_id != current_run_id]
    for run in stale:
        instance.report_run_failed(run, f"The process running this run ended without reporting its end "
                                        f"(killed?): run lock left by {dead_holder.describe()}.")
    return [run.run_id for run in stale]
