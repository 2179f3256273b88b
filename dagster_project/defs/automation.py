"""Orchestration: the full-run job, a daily schedule and a landing-folder sensor.

Neither starts a run while one is going on the workspace: they skip while the
run lock is held (a `cdp run`) or a run of the job is queued or in progress,
and the workspace instance queues at most one run at a time
(pipeline.INSTANCE_DEFAULTS).
"""


import hashlib
import json

import dagster as dg

from dagster_project.config import CdpConfig
from dagster_project.ingest.load import landing_files
from dagster_project.run_lock import current_holder

FULL_RUN_JOB = "cdp_full_run"

full_run_job = dg.define_asset_job(
    FULL_RUN_JOB,
    selection=dg.AssetSelection.all(),
    description="The whole pipeline: ingest, staging, identity, marts, quality gates, exports.",
)

# Statuses of a run that has not ended yet.
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def busy_reason(instance: dg.DagsterInstance, config: CdpConfig) -> str | None:
    """Why a new run must not start now, or None."""
    holder = current_holder(config.state_dir)
    if holder:
        return f"the workspace is busy: a run by {holder.describe()} holds its run lock"
    unfinished = instance.get_run_records(dg.RunsFilter(job_name=FULL_RUN_JOB, statuses=UNFINISHED), limit=1)
    if unfinished:
        run = unfinished[0].dagster_run
        return f"run {run.run_id} of {FULL_RUN_JOB} has not ended ({run.status.value.lower()})"
    return None


def build_daily_schedule(config: CdpConfig) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="cdp_daily",
        job=full_run_job,
        cron_schedule="0 3 * * *",
        execution_timezone="UTC",
        description="Every day at 03:00 UTC: load what landed, rebuild, export (skipped while a run is going on).",
    )
    def cdp_daily(context: dg.ScheduleEvaluationContext):
        reason = busy_reason(context.instance, config)
        return dg.SkipReason(reason) if reason else dg.RunRequest()

    return cdp_daily


def landing_signature(config: CdpConfig) -> dict[str, str]:
    """Landing file -> size and modification time, for every configured source
    and for erasure request files."""
    paths = [path for source in config.sources for path in landing_files(source, config.landing)]
    if config.landing.is_dir():
        paths += sorted(config.landing.glob(config.erasure_requests))
    signature = {}
    for path in paths:
        stat = path.stat()
        signature[str(path.relative_to(config.landing))] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return signature


def build_landing_sensor(config: CdpConfig) -> dg.SensorDefinition:
    @dg.sensor(
        name="new_landing_files",
        job=full_run_job,
        minimum_interval_seconds=60,
        description="Starts a full run when files are added to or changed in the landing folder "
        "(once no run is going on: the files wait).",
    )
    def new_landing_files(context: dg.SensorEvaluationContext):
        reason = busy_reason(context.instance, config)
        if reason:
            return dg.SkipReason(reason)  # cursor unchanged: these files start the next run
        current = landing_signature(config)
        seen = json.loads(context.cursor) if context.cursor else {}
        new = sorted(name for name, stamp in current.items() if seen.get(name) != stamp)
        if not new:
            return dg.SkipReason(f"no new landing files ({len(current)} known)")
        context.update_cursor(json.dumps(current, sort_keys=True))
        run_key = hashlib.sha256(json.dumps({n: current[n] for n in new}, sort_keys=True).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=run_key, tags={"cdp/new_files": str(len(new))})

    return new_landing_files
