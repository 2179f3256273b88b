"""Ingest stage: one asset per source in cdp.yml, keyed raw/<source> like its dbt source."""


import dagster as dg

from dagster_project.config import CdpConfig, SourceConfig
from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.governance.requests import process_erasure_requests
from dagster_project.ingest.tombstones import tombstone_keys
from dagster_project.ingest.load import load_source
from dagster_project.progress import track
from dagster_project.spark.erasure import erasure_tables
from dagster_project.spark.ingest import load_source_to_spark
from dagster_project.spark.resource import SparkResource
from dagster_project.warehouse import connect

ERASURE_REQUESTS = dg.AssetKey(["governance", "erasure_requests"])


def build_ingest_assets(config: CdpConfig) -> list[dg.AssetsDefinition]:
    return [erasure_requests, *(_ingest_asset(source, config.engine) for source in config.sources)]


@dg.asset(
    key=ERASURE_REQUESTS,
    group_name="ingest",
    kinds={"duckdb"},
    description="Right-to-erasure request files (erasure_requests glob in cdp.yml), carried out before any "
    "source loads so this run's files are already filtered by the new tombstones; "
    "governance.erasure_requests records each request with hashed identifiers only.",
)
@retried_when_locked
def erasure_requests(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
    config = cdp.config()
    report = process_erasure_requests(config, context.run_id, erasure_tables(config, spark))
    for file, reason in report.rejected_files.items():
        context.log.warning(f"erasure request file {file} rejected, this run's exports are held: {reason}")
    return dg.MaterializeResult(metadata={
        "files_processed": report.files_processed,
        "files_skipped_already_processed": report.files_skipped,
        "files_rejected": len(report.rejected_files),
        "rejected_files": dg.MetadataValue.json(report.rejected_files),
        "persons_erased": report.persons_erased,
        **{f"requests_{status}": count for status, count in report.statuses.items()},
    })


def build_ingest_checks(config: CdpConfig) -> list[dg.AssetChecksDefinition]:
    return [_reconciliation_check(source) for source in config.sources]


def _ingest_asset(source: SourceConfig, engine: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["raw", source.name]),
        deps=[ERASURE_REQUESTS],
        group_name="ingest",
        kinds={"polars", engine},
        description=f"Landing files {source.glob} ({source.format}, kind {source.kind}) checked against their "
        "contract: valid rows to raw, the rest to raw.quarantine with the reason.",
    )
    @retried_when_locked
    def load(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
        config = cdp.config()
        def progress(files):
            return track(files, f"ingest {source.name}", context.log, describe=lambda p: p.name)

        if config.engine == "spark":
            report = load_source_to_spark(spark.session(), config, source, context.run_id, tombstone_keys(config), progress)
        else:
            with connect(config.warehouse) as con:
                report = load_source(con, source, config.landing, context.run_id, tombstone_keys(config), track=progress)
        metadata = {
            "files_loaded": report.count("loaded"),
            "files_skipped_already_loaded": report.count("skipped"),
            "files_rejected": report.count("rejected"),
            "rows_read": report.total("rows_read"),
            "rows_loaded": report.total("rows_loaded"),
            "rows_quarantined": report.total("rows_quarantined"),
        }
        for file, columns in report.absent_columns.items():
            context.log.warning(f"{file}: contract column(s) {', '.join(columns)} not in the file; loaded as null")
        if report.absent_columns:
            metadata["contract_columns_absent"] = dg.MetadataValue.json(report.absent_columns)
        # A rejected file fails only itself: the source's other files are loaded and the run goes on.
        for error in report.errors:
            context.log.warning(f"rejected {error}")
        if report.errors:
            metadata["rejected_files"] = dg.MetadataValue.json(report.errors)
        return dg.MaterializeResult(metadata=metadata)

    return load


def _reconciliation_check(source: SourceConfig) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source.name]),
        name="loaded_plus_quarantined_equals_read",
        description="For every loaded file: rows loaded + quarantined + erased (tombstoned people) = rows read, and the raw table and quarantine hold exactly those rows.",
    )
    def reconcile(cdp: CdpResource, spark: SparkResource) -> dg.AssetCheckResult:
        config = cdp.config()
        if config.engine == "spark":
            rows = spark.session().sql(reconciliation_sql(source, ":source"), args={"source": source.name}).collect()
            mismatches = [tuple(row) for row in rows]
        else:
            with connect(config.warehouse) as con:
                mismatches = con.execute(reconciliation_sql(source, "?"), [source.name, source.name]).fetchall()
        return dg.AssetCheckResult(
            passed=not mismatches,
            metadata={"files_not_reconciling": len(mismatches), "examples": str(mismatches[:5])},
        )

    return reconcile


def reconciliation_sql(source: SourceConfig, parameter: str) -> str:
    """Files of `source` whose logged counts disagree with each other or with the raw and quarantine
    tables; the same SQL on DuckDB and Spark, the source's name bound as `parameter` (? or :source)."""
    return f"""
        with logged as (
            select sha256, file, rows_read, rows_loaded, rows_quarantined, rows_erased
            from raw.load_log where source = {parameter} and status = 'loaded'
        ),
        in_raw as (select _file_sha256 as sha256, count(*) as n from raw.{source.name} group by 1),
        in_quarantine as (
            select file_sha256 as sha256, count(distinct row_number) as n
            from raw.quarantine where source = {parameter} and action = 'row' group by 1
        )
        select logged.file, rows_read, rows_loaded, rows_quarantined,
               coalesce(in_raw.n, 0) as raw_rows, coalesce(in_quarantine.n, 0) as quarantine_rows
        from logged
        left join in_raw using (sha256)
        left join in_quarantine using (sha256)
        where rows_loaded + rows_quarantined + rows_erased <> rows_read
           or coalesce(in_raw.n, 0) <> rows_loaded
           or coalesce(in_quarantine.n, 0) <> rows_quarantined
    """
