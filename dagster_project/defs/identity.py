"""Identity stage: cluster identity records into persons with stable ids."""


import dagster as dg

from dagster_project.defs.resources import CdpResource
from dagster_project.identity.resolve import resolve_identities
from dagster_project.warehouse import connect

PERSON_MAP = dg.AssetKey(["identity", "person_map"])


@dg.asset(
    key=PERSON_MAP,
    deps=[dg.AssetKey(["intermediate", "int_identity__records"]), dg.AssetKey(["intermediate", "int_identity__links"])],
    group_name="identity",
    kinds={"duckdb", "python"},
    description="One row per identity record naming its person; also writes identity.edges and identity.id_history.",
)
def person_map(context: dg.AssetExecutionContext, cdp: CdpResource) -> dg.MaterializeResult:
    config = cdp.config()
    with connect(config.warehouse) as con:
        report = resolve_identities(con, context.run_id)
    sizes = "\n".join(f"| {size} | {count} |" for size, count in report.cluster_size_counts.items())
    return dg.MaterializeResult(
        metadata={
            "records": report.records,
            "persons": report.persons,
            "links": report.links,
            "links_by_rule": dg.MetadataValue.json(report.links_by_rule),
            "largest_cluster": report.largest_cluster,
            "merges": report.merges,
            "splits": report.splits,
            "new_persons": report.created,
            "cluster_sizes": dg.MetadataValue.md("| records per person | persons |\n|---|---|\n" + sizes),
        }
    )


@dg.asset_check(asset=PERSON_MAP, description="Exactly one person_map row per identity record, and none for anything else.")
def one_row_per_identity_record(cdp: CdpResource) -> dg.AssetCheckResult:
    with connect(cdp.config().warehouse) as con:
        missing, extra, duplicated = con.execute(
            """
            select
                (select count(*) from intermediate.int_identity__records r
                  where not exists (select 1 from identity.person_map m where m.record_key = r.record_key)),
                (select count(*) from identity.person_map m
                  where not exists (select 1 from intermediate.int_identity__records r where r.record_key = m.record_key)),
                (select count(*) - count(distinct record_key) from identity.person_map)
            """
        ).fetchall()[0]
    return dg.AssetCheckResult(
        passed=missing == 0 and extra == 0 and duplicated == 0,
        metadata={"records_without_person": missing, "rows_without_record": extra, "duplicated_rows": duplicated},
    )
