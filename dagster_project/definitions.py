"""Dagster definitions for one workspace (the config from $CDP_CONFIG or ./cdp.yml).

`dagster dev -m dagster_project.definitions` (make dev) loads `defs` from here.
`defs` is lazy: importing this module builds nothing (a `cdp run` on another
workspace imports it and must not render the default workspace's dbt project).
"""

from __future__ import annotations

import os

import dagster as dg

from dagster_project.config import CdpConfig, load_config
from dagster_project.dbt_workspace import CdpDbtCliResource, dbt_launcher, workspace_dbt_project
from dagster_project.defs.automation import build_daily_schedule, build_landing_sensor, full_run_job
from dagster_project.defs.dbt import build_dbt_assets
from dagster_project.defs.export import build_export_assets
from dagster_project.defs.identity import identity_model, one_row_per_identity_record, partner_matches, person_map
from dagster_project.defs.ml import ML_ASSETS
from dagster_project.defs.ingest import build_ingest_assets, build_ingest_checks
from dagster_project.defs.quality import build_raw_load_gate, identity_gate, marts_gate
from dagster_project.defs.resources import CdpResource
from dagster_project.defs.run_lock import workspace_locked_executor
from dagster_project.defs.signals import build_signal_assets
from dagster_project.spark.resource import SparkResource


def build_definitions(config: CdpConfig) -> dg.Definitions:
    project = workspace_dbt_project(config)  # its manifest is built before the dbt assets read it
    return dg.Definitions(
        assets=[
            *build_ingest_assets(config),
            *build_dbt_assets(project),
            identity_model,
            partner_matches,
            person_map,
            *build_signal_assets(config),
            *ML_ASSETS,
            *build_export_assets(config),
        ],
        asset_checks=[
            *build_ingest_checks(config),
            build_raw_load_gate(config),
            one_row_per_identity_record,
            identity_gate,
            marts_gate,
        ],
        jobs=[full_run_job],
        schedules=[build_daily_schedule(config)],
        sensors=[build_landing_sensor(config)],
        resources={
            "cdp": CdpResource(config_path=str(config.path)),
            # dbt dies with the process running the step, even under kill -9
            "dbt": CdpDbtCliResource(project_dir=project, dbt_executable=dbt_launcher(config)),
            "spark": SparkResource.for_workspace(config),  # used when cdp.yml says engine: spark
        },
        # DuckDB has one writer: steps run one after another in one process,
        # which holds the workspace's run lock (runs launched by Dagster).
        executor=workspace_locked_executor(config),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_config(os.environ.get("CDP_CONFIG")))
