"""Orchestration: the full-run job, a daily schedule and a landing-folder sensor."""


import hashlib
import json

import dagster as dg

from dagster_project.config import CdpConfig
from dagster_project.ingest.load import landing_files

FULL_RUN_JOB = "cdp_full_run"

full_run_job = dg.define_asset_job(
    FULL_RUN_JOB,
    selection=dg.AssetSelection.all(),
    description="The whole pipeline: ingest, staging, identity, marts, quality gates, exports.",
)

daily_schedule = dg.ScheduleDefinition(
    name="cdp_daily",
    job=full_run_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    description="Every day at 03:00 UTC: load what landed, rebuild, export.",
)


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
        description="Starts a full run when files are added to or changed in the landing folder.",
    )
    def new_landing_files(context: dg.SensorEvaluationContext):
        current = landing_signature(config)
        seen = json.loads(context.cursor) if context.cursor else {}
        new = sorted(name for name, stamp in current.items() if seen.get(name) != stamp)
        if not new:
            return dg.SkipReason(f"no new landing files ({len(current)} known)")
        context.update_cursor(json.dumps(current, sort_keys=True))
        run_key = hashlib.sha256(json.dumps({n: current[n] for n in new}, sort_keys=True).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=run_key, tags={"cdp/new_files": str(len(new))})

    return new_landing_files
