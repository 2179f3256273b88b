"""Quality gate + export stage: one asset per destination and audience.

The audience's Great Expectations suite runs on the mart in place; when it
passes the audience is written for the destination, when it fails nothing is
written and the asset fails naming each failed expectation. Every result goes
to quality.validation_results. A run that rejected a consent file or could not
read an erasure-request file holds every export (ingest.holds): nothing is
written and the previous exports stay as they were.
"""


import json

import dagster as dg

from dagster_project.config import AudienceConfig, CdpConfig, DestinationConfig
from dagster_project.defs.ingest import ERASURE_REQUESTS
from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.export.queries import destination_query, suppressed_query
from dagster_project.export.writer import export_audience
from dagster_project.ingest.holds import HELD_METADATA_KEY, export_hold_reasons
from dagster_project.progress import Counter
from dagster_project.quality.docs import write_data_docs
from dagster_project.quality.gates import SuiteRun, run_suites
from dagster_project.quality.params import audience_gate_run
from dagster_project.quality.results import record_gate_result
from dagster_project.spark.resource import SparkResource
from dagster_project.spark.tables import read_from_spark
from dagster_project.warehouse import connect

def build_export_assets(config: CdpConfig) -> list[dg.AssetsDefinition]:
    return [
        _export_asset(destination, config.audience(name), _hold_inputs(config))
        for destination in config.destinations
        for name in destination.audiences
    ]


def export_inputs(destination: DestinationConfig, audience: AudienceConfig) -> list[str]:
    """The tables an export reads: its query, its gates (a segment's members have traits) and the
    hold check on consent loads."""
    marts = [audience.model, "dim_customer", "customer_consent", "customer_suppressions", "customer_traits",
             *(["customer_enrichment"] if destination.enrichment else [])]
    return ["raw.load_log", *(f"marts.{name}" for name in marts)]


def size_band(folder, audience: AudienceConfig) -> dict:
    """Row bounds for an export: within audience.size_band of the previous export's size, if any."""
    manifest = folder / "manifest.json"
    if audience.size_band is None or not manifest.exists():
        return {"min_rows": 0, "max_rows": None}
    previous = json.loads(manifest.read_text())["row_count"]
    return {
        "min_rows": int(previous * max(0.0, 1 - audience.size_band)),
        "max_rows": int(previous * (1 + audience.size_band)) + 1,
    }


def _hold_if_consent_or_erasure_input_broken(config: CdpConfig, run_id: str) -> None:
    with connect(config.warehouse) as con:
        reasons = export_hold_reasons(con, config, run_id)
    if reasons:
        raise dg.Failure(
            description="Exports held, nothing written (the previous exports stay):\n" + "\n".join(reasons),
            metadata={HELD_METADATA_KEY: True},
        )


def _hold_inputs(config: CdpConfig) -> list[dg.AssetKey]:
    """The assets whose rejected files hold exports: explicit deps, so a hold is decided after they ran."""
    return [ERASURE_REQUESTS, *(dg.AssetKey(["raw", s.name]) for s in config.sources if s.kind == "consent")]


def _export_asset(destination: DestinationConfig, audience: AudienceConfig, hold_inputs: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["export", destination.name, audience.name]),
        deps=[dg.AssetKey(["marts", audience.model]), dg.AssetKey(["marts", "customer_suppressions"]), *hold_inputs,
              *([dg.AssetKey(["marts", "customer_enrichment"])] if destination.enrichment else [])],
        group_name="export",
        kinds={"parquet", "csv"} & set(destination.formats) or {"parquet"},
        description=f"Audience {audience.name} for {destination.name} (purpose {destination.purpose}, "
        f"channel {destination.channel}), written only when suite {audience.suite} passes.",
    )
    @retried_when_locked
    def export(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
        config = cdp.config()
        if config.engine == "spark":  # gated and written on DuckDB as with engine duckdb, from Spark's marts
            with connect(config.warehouse) as con:
                read_from_spark(spark.session(), con, export_inputs(destination, audience))
        with Counter(f"export {destination.name}/{audience.name}", 2, context.log) as steps:
            return _gate_and_write(context, config, steps)

    def _gate_and_write(context: dg.AssetExecutionContext, config: CdpConfig, steps: Counter) -> dg.MaterializeResult:
        _hold_if_consent_or_erasure_input_broken(config, context.run_id)
        suppressions = config.destination_suppressions(destination)
        query = destination_query(destination, audience, suppressions, config.enrichment_purposes)
        # Two gates: the audience's own suite on the mart, and the generic
        # destination gate on exactly the rows that would leave.
        audience_gate, destination_gate = run_suites(config.warehouse, [
            SuiteRun(config.expectations / f"{audience.suite}.json", f"select * from marts.{audience.model}",
                     {"min_rows": audience.min_rows, "max_rows": audience.max_rows}),
            audience_gate_run(config.expectations, query, destination.purpose,
                              suppressed_query=suppressed_query(suppressions),
                              **size_band(config.exports / destination.name / audience.name, audience),
                              target=f"export {destination.name}/{audience.name}"),
        ])
        gates = [audience_gate, destination_gate]
        docs = write_data_docs(gates, config.state_dir / "data_docs" / f"export_{destination.name}_{audience.name}")
        steps.advance("quality gates run")
        with connect(config.warehouse) as con:
            for gate in gates:
                record_gate_result(con, gate, context.run_id)
            failed = [gate for gate in gates if not gate.passed]
            if failed:
                raise dg.Failure(
                    description=f"Quality gate {', '.join(g.suite_name for g in failed)} failed; {audience.name} was not exported to "
                    f"{destination.name}:\n" + "\n".join(g.describe_failures() for g in failed),
                    metadata={"failed_expectations": sum(len(g.failures) for g in failed), "data_docs": dg.MetadataValue.path(str(docs))},
                )
            gate = audience_gate
            result = export_audience(
                con,
                query=query,
                folder=config.exports / destination.name / audience.name,
                destination=destination.name,
                audience=audience.name,
                purpose=destination.purpose,
                channel=destination.channel,
                formats=destination.formats,
                run_id=context.run_id,
                gate={"suites": [g.suite_name for g in gates], "passed": True, "evaluated_at": gate.evaluated_at.isoformat()},
            )
        steps.advance(f"{result.rows} rows written")
        return dg.MaterializeResult(
            metadata={
                "rows": result.rows,
                "files": dg.MetadataValue.json(result.files),
                "manifest": dg.MetadataValue.path(str(result.manifest_path)),
                "gates": ", ".join(g.suite_name for g in gates),
                "suppressions": ", ".join(suppressions) or "none",
                "data_docs": dg.MetadataValue.path(str(docs)),
                "added": (result.delta or {}).get("added"),
                "removed": (result.delta or {}).get("removed"),
            }
        )

    return export
