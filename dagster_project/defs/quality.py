"""Quality stage: Great Expectations gates on the warehouse as asset checks.

The raw load log, identity.person_map and marts.dim_customer are validated
in place (suites in expectations/): in the DuckDB warehouse, or with engine
spark in Spark's tables through GX's Spark execution engine (quality.spark_gates).
Results go to quality.validation_results (the run's DuckDB database either way)
and Data Docs HTML under <workspace>/.cdp/data_docs/<suite>/.
"""

import dagster as dg

from dagster_project.defs.resources import CdpResource
from dagster_project.quality.docs import write_data_docs
from dagster_project.quality.gates import GateResult, run_suites
from dagster_project.quality.params import warehouse_gate_runs
from dagster_project.quality.results import record_gate_result
from dagster_project.quality.spark_gates import run_suites_on_spark
from dagster_project.spark.resource import SparkResource
from dagster_project.warehouse import connect

SUITE_ASSETS = {
    "raw_load": dg.AssetKey(["raw", "load_log"]),
    "identity_person_map": dg.AssetKey(["identity", "person_map"]),
    "marts_dim_customer": dg.AssetKey(["marts", "dim_customer"]),
}


def gate_check_result(result: GateResult, docs) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.describe_failures() or f"suite {result.suite_name} passed",
        metadata={
            "suite": result.suite_name,
            "expectations": len(result.results),
            "failed": len(result.failures),
            "rows": result.row_count,
            "data_docs": dg.MetadataValue.path(str(docs)),
        },
    )


def run_gate(context, cdp: CdpResource, spark: SparkResource, suite: str) -> dg.AssetCheckResult:
    config = cdp.config()
    runs = [r for r in warehouse_gate_runs(
        config.expectations, max_cluster_size=config.max_cluster_size
    ) if r.suite_path.stem == suite]
    if config.engine == "spark":
        (result,) = run_suites_on_spark(spark.session(), runs)
    else:
        (result,) = run_suites(config.warehouse, runs)
    with connect(config.warehouse) as con:
        record_gate_result(con, result, context.run.run_id)
    docs = write_data_docs([result], config.state_dir / "data_docs" / suite)
    return gate_check_result(result, docs)


# Blocking: a person map that fails (a cluster holding conflicting records,
# one above the size limit) stops everything downstream of it in the run,
# so no mart is rebuilt and no audience is exported from a wrong graph; the
# previous exports stay as they were.
@dg.asset_check(asset=SUITE_ASSETS["identity_person_map"], name="ge_identity_person_map", blocking=True,
                description="GE suite identity_person_map (graph health, blocks marts and exports when it fails): complete, "
                "no stale rows, no person holding clearly conflicting records, cluster size limit.")
def identity_gate(context, cdp: CdpResource, spark: SparkResource) -> dg.AssetCheckResult:
    return run_gate(context, cdp, spark, "identity_person_map")


@dg.asset_check(asset=SUITE_ASSETS["marts_dim_customer"], name="ge_marts_dim_customer",
                description="GE suite marts_dim_customer: unique person_id, valid email and phone formats, consent coverage.")
def marts_gate(context, cdp: CdpResource, spark: SparkResource) -> dg.AssetCheckResult:
    return run_gate(context, cdp, spark, "marts_dim_customer")


def build_raw_load_gate(config) -> dg.AssetChecksDefinition:
    """The raw load log suite: run once, reported on every ingest asset (the log is shared)."""
    keys = [dg.AssetKey(["raw", source.name]) for source in config.sources]

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec("ge_raw_load", asset=key, description="GE suite raw_load over raw.load_log: every loaded file reconciles, valid status and hashes.") for key in keys],
    )
    def raw_load_gate(context, cdp: CdpResource, spark: SparkResource):
        result = run_gate(context, cdp, spark, "raw_load")
        for key in keys:
            yield dg.AssetCheckResult(
                asset_key=key, check_name="ge_raw_load", passed=result.passed, severity=result.severity,
                description=result.description, metadata=result.metadata,
            )

    return raw_load_gate
