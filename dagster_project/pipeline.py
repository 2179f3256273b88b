"""Run the whole asset graph of a workspace in process, through Dagster."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml

from dagster_project.config import CdpConfig
from dagster_project.dbt_workspace import prune_invocation_folders, record_models_built
from dagster_project.freshness import RunTimeline, record_file_freshness, run_timeline
from dagster_project.ingest.holds import HELD_METADATA_KEY
from dagster_project.publish import publish_warehouse
from dagster_project.report import write_run_report
from dagster_project.run_mode import full_run_tags, is_full_run
from dagster_project.run_storage import new_run_id, storage_kept_open
from dagster_project.run_summary import RunSummary, summarise_run
from dagster_project.spark.resource import SparkResource
from dagster_project.spark.tables import copy_for_readers
from dagster_project.stale_runs import workspace_tags
from dagster_project.warehouse import connect
from dagster_project.warm_dbt import warm_dbt


REPORT_TAG = "cdp/report"  # the Dagster run's tag holding its run report's path


@dataclass
class PipelineResult:
    success: bool  # every step succeeded (a held export is a failed step)
    run_id: str
    summary: RunSummary  # its exit_status tells completed / with rejected files / exports held / failed


# The workspace instance's settings, unless its dagster.yaml sets them
# otherwise: no telemetry (a privacy product phones nobody), and the run queue
# launches one run at a time (one DuckDB writer; schedule and sensor runs queue).
INSTANCE_DEFAULTS = {
    "telemetry": {"enabled": False},
    "concurrency": {"runs": {"max_concurrent_runs": 1}},
}


def dagster_instance(config: CdpConfig) -> dg.DagsterInstance:
    """$DAGSTER_HOME's instance if set, else one kept in the workspace so that
    `make dev` shows the history of `cdp run`."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.from_config(str(workspace_dagster_home(config)))


def workspace_dagster_home(config: CdpConfig) -> Path:
    """The workspace's Dagster home, its dagster.yaml holding INSTANCE_DEFAULTS
    (settings already in the file are kept)."""
    home = config.state_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    settings_file = home / "dagster.yaml"
    settings = (yaml.safe_load(settings_file.read_text()) if settings_file.exists() else None) or {}
    wanted = dict(settings)
    wanted.setdefault("telemetry", INSTANCE_DEFAULTS["telemetry"])
    if not {"concurrency", "run_queue", "run_coordinator"} & settings.keys():
        wanted["concurrency"] = INSTANCE_DEFAULTS["concurrency"]
    if wanted != settings:
        settings_file.write_text(yaml.safe_dump(wanted, sort_keys=False))
    return home


def run_pipeline(config: CdpConfig, assets: list[dg.AssetKey] | None = None, full: bool = False) -> PipelineResult:
    """The whole graph, or only `assets` without asset checks (upstream assets are taken as they are in the warehouse).
    Incremental unless `full` (run_mode)."""
    from dagster_project.definitions import build_definitions
    from dagster_project.defs.automation import FULL_RUN_JOB

    config.check_ready_to_run()
    with warm_dbt():  # dbt's parse of a changed project (building the definitions), then the run's dbt steps
        definitions = build_definitions(config)
        job = definitions.resolve_job_def(FULL_RUN_JOB)
        if assets is not None:
            job = job.get_subset(asset_selection=set(assets), asset_check_selection=set())
        run_id = new_run_id()
        with dagster_instance(config) as instance:
            with storage_kept_open(instance, run_id):
                result = job.execute_in_process(
                    instance=instance,
                    run_id=run_id,
                    raise_on_error=False,
                    tags={**workspace_tags(config), **full_run_tags(full)},
                    run_config={"loggers": {"console": {"config": {"log_level": os.environ.get("CDP_LOG_LEVEL", "INFO")}}}},
                )
            end = finish_run(config, instance, result.run_id, result.all_events)
    summary = summarise_run(config, result.run_id, end.failures, materialized_assets(result))
    summary.published_now = end.published is not None
    summary.step_seconds = end.timeline.step_seconds
    summary.mode = end.mode
    summary.report_path, summary.report_seconds = end.report_path, end.report_seconds
    summary.publish_seconds = end.publish_seconds
    return PipelineResult(result.success and end.published is not None, result.run_id, summary)


@dataclass
class RunEnd:
    timeline: RunTimeline
    failures: list[str]  # failed steps, then what failed after them
    after_steps: list[str]  # what failed after the steps: recording freshness, publishing
    published: Path | None  # the snapshot readers now get; None: the last good one stays
    report_path: str | None
    report_seconds: float
    mode: str = ""  # full or incremental (run_mode_text)
    publish_seconds: float | None = None  # copying the warehouse for readers (None: not published)


def finish_run(config: CdpConfig, instance: dg.DagsterInstance, run_id: str, events) -> RunEnd:
    """What every run does once its steps have ended, whoever started it (`cdp run`, or the
    Dagster UI, schedule and sensor through the workspace executor): record the freshness of
    the files it loaded, publish the warehouse when every step succeeded, write its report."""
    timeline = run_timeline(instance, run_id)
    failed_steps, after_steps = step_failures(events), []
    _record_freshness(config, run_id, timeline, after_steps)
    published, publish_seconds = None, None
    if not failed_steps + after_steps and config.warehouse.exists():  # else the last good snapshot stays
        started = time.perf_counter()
        try:
            if config.engine == "spark":
                _copy_spark_tables_for_readers(config)
            published = publish_warehouse(config)
            publish_seconds = round(time.perf_counter() - started, 2)
        except Exception as error:  # e.g. a process holds the working warehouse open
            after_steps.append(f"publish {config.published}: {type(error).__name__}: {error}")
    failures = failed_steps + after_steps
    if not failed_steps:  # every dbt model of this run was built from the models it has now
        record_models_built(config.state_dir / "dbt")
    prune_invocation_folders(config.state_dir / "dbt", run_id)
    run = instance.get_run_by_id(run_id)
    mode = run_mode_text(run is not None and is_full_run(run.tags), events)
    started = time.perf_counter()
    report = _write_report(config, instance, run_id, failures, timeline.steps(), mode)
    return RunEnd(timeline, failures, after_steps, published, report, round(time.perf_counter() - started, 2), mode,
                  publish_seconds)


def _copy_spark_tables_for_readers(config: CdpConfig) -> None:
    """engine: spark. The marts and segment history, from Spark into the run's DuckDB database,
    which is then published as with engine duckdb (spark.tables.copy_for_readers)."""
    spark = SparkResource.for_workspace(config).session()
    with connect(config.warehouse) as con:
        copy_for_readers(spark, con)


def _record_freshness(config: CdpConfig, run_id: str, timeline: RunTimeline, failures: list[str]) -> None:
    """ops.file_freshness for the files this run loaded, before publishing so readers see it too."""
    if not config.warehouse.exists():
        return
    try:
        with connect(config.warehouse) as con:
            record_file_freshness(con, config, run_id, timeline)
    except Exception as error:  # the run's data stands; only its freshness record is missing
        failures.append(f"record freshness: {type(error).__name__}: {error}")


def _write_report(config: CdpConfig, instance: dg.DagsterInstance, run_id: str, failures: list[str],
                  steps: list[dict], mode: str) -> str | None:
    """The run report (reports/run-<run_id>.html), linked from the Dagster run's tags; a report that
    cannot be written is a warning, never a failed run."""
    try:
        path = write_run_report(config, run_id, failures, steps, mode)
        instance.add_run_tags(run_id, {REPORT_TAG: str(path)})
        return str(path)
    except Exception as error:
        print(f"warning: run report not written: {type(error).__name__}: {error}", file=sys.stderr)
        return None


def run_mode_text(full: bool, events) -> str:
    """'full' or 'incremental', with how identity resolution scored pairs when it ran."""
    text = "full (cdp run --full)" if full else "incremental"
    for event in events:
        if event.is_step_materialization and tuple(event.asset_key.path) == ("identity", "person_map"):
            scoring = event.step_materialization_data.materialization.metadata.get("splink_scoring")
            if scoring is not None:
                text += f"; identity scoring: {scoring.value}"
    return text


def materialized_assets(result) -> set[tuple[str, ...]]:
    """Asset key paths this run materialized: the summary tells this run's figures from earlier ones."""
    return {tuple(event.asset_key.path) for event in result.get_asset_materialization_events()}


def step_failures(events) -> list[str]:
    """Why each step failed; exports held on purpose (ingest.holds) are not failures, the summary reports them."""
    messages = []
    for event in events:
        if not is_real_failure(event):
            continue
        data = event.step_failure_data
        description = data.user_failure_data.description if data.user_failure_data else None
        messages.append(f"{event.step_key}: {description or _root_cause(data.error)}")
    return messages


def is_real_failure(event: dg.DagsterEvent) -> bool:
    """A step failure other than an export held on purpose."""
    if not event.is_step_failure:
        return False
    held = event.step_failure_data.user_failure_data
    return not (held and HELD_METADATA_KEY in held.metadata)


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps the user's exception."""
    if error is None:
        return "unknown error"
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}"
