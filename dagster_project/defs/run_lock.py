"""Runs that Dagster launches (UI, schedule, sensor) hold the workspace's run lock.

The lock is taken by the executor, around the whole run, in the process that
runs every step: whatever assets a run selects, it cannot overlap a `cdp run`
or another run on the workspace. A step-level hook or the first asset could
not do this (a run of only some assets skips them), nor could a run status
sensor (it reacts after the run started). `cdp run` takes the lock itself:
`execute_in_process` uses its own executor.

Holding the lock, the executor also keeps Dagster's SQLite storage open
(run_storage.py), starts dbt warm (warm_dbt.py), tags the run with its workspace, reports
runs a killed holder left marked as going on as failed (stale_runs), and
ends the run as `cdp run` does (pipeline.finish_run): the freshness of the
files it loaded, the warehouse published for readers when every step
succeeded, and its run report.
"""

import dagster as dg

from dagster_project.config import CdpConfig
from dagster_project.pipeline import finish_run
from dagster_project.run_lock import workspace_lock
from dagster_project.run_storage import storage_kept_open
from dagster_project.stale_runs import fail_stale_runs, workspace_tags
from dagster_project.warm_dbt import warm_dbt


def workspace_locked_executor(config: CdpConfig) -> dg.ExecutorDefinition:
    """Dagster's in-process executor (same config), holding the workspace's
    run lock while the run executes; a busy workspace fails the run at once,
    naming the process that holds it."""

    @dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema)
    def in_process_with_workspace_lock(init_context):
        return WorkspaceLockedExecutor(dg.in_process_executor.executor_creation_fn(init_context), config)

    return in_process_with_workspace_lock


class WorkspaceLockedExecutor(dg.Executor):
    def __init__(self, inner: dg.Executor, config: CdpConfig):
        self._inner, self._config = inner, config

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        run_id, instance = plan_context.run_id, plan_context.instance
        with workspace_lock(self._config.state_dir, f"Dagster run {run_id}") as dead_holder:
            instance.add_run_tags(run_id, workspace_tags(self._config))
            if dead_holder:
                for stale in fail_stale_runs(instance, self._config, dead_holder, current_run_id=run_id):
                    plan_context.log.warning(f"run {stale} ended without reporting its end: marked failed")
            events = []
            with storage_kept_open(instance, run_id), warm_dbt():  # as `cdp run` does: no fsyncs per event, dbt warm
                for event in self._inner.execute(plan_context, execution_plan):
                    events.append(event)
                    yield event
            end = finish_run(self._config, instance, run_id, events)  # as `cdp run` does after its steps
            if end.published:
                plan_context.log.info(f"published for readers: {end.published}")
            for problem in end.after_steps:  # recording freshness, publishing
                plan_context.log.warning(problem)
            if end.report_path:
                plan_context.log.info(f"run report: {end.report_path}")
