"""dbt stage, in three selections of one manifest, because Python steps sit
between them:

  staging + intermediate/identity  ->  identity resolution, survey sentiment (Python)
  marts (golden record, facts, activity snapshots) + intermediate/customer
      (per-person features over the facts)  ->  churn/propensity scoring (Python)
  activation (traits, next best action, segments, membership history, audiences)

dbt tests become asset checks. The incremental models (int_identity__records,
fct_orders, fct_events: dbt/macros/incremental.sql) rebuild only what new
rows touch, except on `cdp run --full`, which passes --full-refresh.
"""


import logging
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.dbt_manifest import validate_manifest

from dagster_project.child_process import announce_parent
from dagster_project.config import CdpConfig
from dagster_project.dbt_workspace import models_changed_since_last_build
from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.progress import Counter
from dagster_project.run_mode import is_full_run
from dagster_project.spark.resource import SparkResource
from dagster_project.warehouse import connect


# A test between two selections (an audience's relationship to dim_customer)
# runs with the later one, once both of its parents exist.
BUILD = ["build", "--indirect-selection", "buildable"]


class CdpDbtTranslator(DagsterDbtTranslator):
    """Sources keep their dbt key (raw/crm, identity/person_map), so the ingest
    and identity assets are the same nodes; models are keyed <schema>/<name>
    and grouped by their folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"].get("schema") or "main", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        if dbt_resource_props["resource_type"] == "snapshot":
            return "activation"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"


# name -> dbt selection, in pipeline order.
SELECTIONS = {
    "dbt_staging_and_intermediate": "fqn:staging fqn:intermediate.identity resource_type:seed",
    "dbt_marts": "fqn:marts fqn:intermediate.customer",
    "dbt_activation": "fqn:activation resource_type:snapshot",
}


# Data tests that hold by construction of the model's SQL whatever the data (a
# staging model's grain: row_number() = 1 per non-null key). They can only fail
# when the SQL changes, and then the run is a full one, so incremental runs skip them.
BY_CONSTRUCTION = "tag:cdp_by_construction"
# The data tests an incremental run leaves to full runs: all but those marked cdp_every_run in
# dbt_project.yml (what the exports read, consent, the grain of the models rows are merged into).
FULL_RUNS_ONLY = "config.meta.cdp_every_run:false"
# The staging models are views and the seeds are tables of the seed files: both change only with
# the models and seeds (then the run is a full one), so an incremental run leaves those of the
# last run in place, and with the seeds their data tests.
KEPT_IN_PLACE = "fqn:staging resource_type:seed"
KEPT_SCHEMAS = ("staging", "reference")  # of the staging views and the seeds (dbt_project.yml)


def build_args(run_tags: Mapping[str, str], project_dir: Path, staging_in_place: bool = False) -> list[str]:
    """dbt build, with --full-refresh on `cdp run --full` and when the models, seeds or
    mappings changed since the last complete run (an incremental model would keep rows
    computed the old way: another currency rate, another mapping); otherwise without
    the tests that hold by construction or are left to full runs, nor the staging views and seeds
    when the warehouse has them.
    The same on Spark (its snapshot: dbt/macros/spark_snapshot.sql)."""
    full = is_full_run(run_tags) or models_changed_since_last_build(project_dir)
    if full:
        return BUILD + ["--full-refresh"]
    excluded = [BY_CONSTRUCTION, FULL_RUNS_ONLY] + ([KEPT_IN_PLACE] if staging_in_place else [])
    return BUILD + ["--exclude", " ".join(excluded)]


def staging_in_place(config: CdpConfig) -> bool:
    """Whether the warehouse holds the staging view of every source and the table of every seed
    of the workspace's dbt project (a DuckDB warehouse)."""
    if config.engine != "duckdb" or not config.warehouse.exists():
        return False
    seeds = {path.stem for path in (config.state_dir / "dbt" / "seeds").glob("*.csv")}
    wanted = {("staging", source.staging_model) for source in config.sources} | {("reference", seed) for seed in seeds}
    with connect(config.warehouse) as con:
        relations = set(con.execute(
            """select table_schema, table_name from information_schema.tables
            where (table_schema = 'staging' and table_type = 'VIEW') or table_schema = 'reference'""").fetchall())
    return wanted <= relations


def build_dbt_assets(project: DbtProject) -> list[dg.AssetsDefinition]:
    quiet_checks_left_to_full_runs(project.manifest_path)
    return [_dbt_selection(project, name, select) for name, select in SELECTIONS.items()]


def data_tests_left_to_full_runs(manifest_path: Path) -> set[str]:
    """The names of the data tests an incremental run leaves out (BY_CONSTRUCTION, FULL_RUNS_ONLY).
    The manifest as dagster-dbt read it for the dbt assets (it keeps it parsed)."""
    nodes = validate_manifest(Path(manifest_path))["nodes"].values()
    return {node["name"] for node in nodes if node["resource_type"] == "test" and (
        "cdp_by_construction" in node.get("tags", []) or not node["config"].get("meta", {}).get("cdp_every_run", False))}


# Where Dagster warns that a blocking asset check emitted no result (active.py).
_EXECUTION_LOGGER = "dagster._core.execution.plan.active"


class ChecksLeftToFullRuns(logging.Filter):
    """Drops Dagster's warning that a blocking check emitted no result, for the dbt tests an
    incremental run leaves to full runs: on purpose, and once per test and downstream step, about
    190 lines a day. Any other check that gives no result is still warned of."""

    def __init__(self, names: set[str]):
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Blocking asset check '") or "' emitted no result" not in message:
            return True
        check = message[len("Blocking asset check '"):message.index("' emitted no result")]
        return check.rpartition(":")[2] not in self.names


def quiet_checks_left_to_full_runs(manifest_path: Path) -> None:
    """Install (or replace) ChecksLeftToFullRuns for this manifest's tests."""
    logger = logging.getLogger(_EXECUTION_LOGGER)
    for old in [f for f in logger.filters if isinstance(f, ChecksLeftToFullRuns)]:
        logger.removeFilter(old)
    logger.addFilter(ChecksLeftToFullRuns(data_tests_left_to_full_runs(manifest_path)))


def _dbt_selection(project: DbtProject, name: str, select: str) -> dg.AssetsDefinition:
    @dbt_assets(manifest=project.manifest_path, project=project, select=select, name=name,
                dagster_dbt_translator=CdpDbtTranslator())
    @retried_when_locked  # dbt's connection fails at once when another process holds the warehouse
    def build(context: dg.AssetExecutionContext, dbt: DbtCliResource, cdp: CdpResource, spark: SparkResource):
        engine = cdp.config().engine
        if engine == "spark":
            spark.release()  # local mode: dbt-spark's session in the dbt process needs the metastore
        announce_parent()  # the dbt launcher (definitions.py) checks it was not orphaned before it started
        kept = name == "dbt_staging_and_intermediate" and staging_in_place(cdp.config())
        args = build_args(context.run.tags, Path(dbt.project_dir), staging_in_place=kept)
        if kept and "--full-refresh" not in args:  # the staging views and seeds are left out: they stand as they are
            yield from _kept_in_place(context)
        with Counter(f"dbt {name}", len(context.selected_asset_keys), context.log) as models:
            for event in dbt.cli(args, context=context).stream():
                if isinstance(event, dg.Output):  # a model, seed or snapshot built (tests are check results)
                    models.advance(event.output_name)
                yield event

    return build


def _kept_in_place(context: dg.AssetExecutionContext):
    """An output for each staging view and seed a run keeps, before the models that read them
    (Dagster skips the steps downstream of an output never yielded, e.g. survey sentiment)."""
    for output_name, key in context.assets_def.keys_by_output_name.items():
        if key.path[0] in KEPT_SCHEMAS and output_name in context.selected_output_names:
            yield dg.Output(None, output_name=output_name, metadata={"kept": "unchanged since the last complete run"})
