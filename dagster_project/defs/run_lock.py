"""Runs that Dagster launches (UI, schedule, sensor) hold the workspace's run lock.

The lock is taken by the executor, around the whole run, in the process that
runs every step: whatever assets a run selects, it cannot overlap a `cdp run`
or another run on the workspace. A step-level hook or the first asset could
not do this (a run of only some assets skips them), nor could a run status
sensor (it reacts after the run started). `cdp run` takes the lock itself:
`execute_in_process` uses its own executor.
"""

import dagster as dg

from dagster_project.config import CdpConfig
from dagster_project.run_lock import workspace_lock


def workspace_locked_executor(config: CdpConfig) -> dg.ExecutorDefinition:
    """Dagster's in-process executor (same config), holding the workspace's
    run lock while the run executes; a busy workspace fails the run at once,
    naming the process that holds it."""
    state_dir = config.state_dir

    @dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema)
    def in_process_with_workspace_lock(init_context):
        return WorkspaceLockedExecutor(dg.in_process_executor.executor_creation_fn(init_context), state_dir)

    return in_process_with_workspace_lock


class WorkspaceLockedExecutor(dg.Executor):
    def __init__(self, inner: dg.Executor, state_dir):
        self._inner, self._state_dir = inner, state_dir

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        with workspace_lock(self._state_dir, f"Dagster run {plan_context.run_id}"):
            yield from self._inner.execute(plan_context, execution_plan)
