"""Identity stage: cluster identity records into persons with stable ids."""

import os

import dagster as dg

from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.identity.partner_keys import SECRET_ENV
from dagster_project.identity.partner_match import match_partner_sources
from dagster_project.identity.conflicts import NICKNAME_TABLES
from dagster_project.identity.graph import LINKS_TABLE, RECORDS_TABLE
from dagster_project.identity.households import HOUSEHOLD_SAFETY_TABLE
from dagster_project.identity.resolve import RESOLVE_STAGES, ensure_model, resolve_identities
from dagster_project.identity.spark_scoring import spark_scorer
from dagster_project.identity.step_times import timing_line
from dagster_project.progress import Counter
from dagster_project.run_mode import is_full_run
from dagster_project.spark.resource import SparkResource
from dagster_project.spark.tables import read_from_spark, write_to_spark
from dagster_project.warehouse import connect

PERSON_MAP = dg.AssetKey(["identity", "person_map"])
MODEL = dg.AssetKey(["identity", "model"])
RECORDS = dg.AssetKey(["intermediate", "int_identity__records"])

# engine: spark. The identity steps run on the DuckDB working database as with engine duckdb:
# they read these Spark tables into it first (the nickname seeds the conflict rule reads; the
# previous person_map and id_history keep ids stable), and write what the dbt models and the
# next run read back to Spark (spark/tables.py).
RESOLVE_INPUTS = [RECORDS_TABLE, LINKS_TABLE, *NICKNAME_TABLES, "identity.person_map", "identity.id_history"]
# identity.record_phonetics: for the person map's quality gate, which runs on Spark too
RESOLVE_OUTPUTS = ["identity.person_map", "identity.edges", "identity.id_history", "identity.decisions",
                   "identity.one_record_sources", "identity.household_safety", "identity.accepted_conflicts",
                   "identity.record_phonetics"]


@dg.asset(
    key=MODEL,
    deps=[RECORDS],
    group_name="identity",
    kinds={"splink", "duckdb"},
    description="The Splink model (JSON beside cdp.yml). Trained unsupervised when missing, or when it has household "
    "levels and household safety is off (identity.household_safe, or the records show no households); reused by every "
    "run until retrained with `cdp identity train`.",
)
@retried_when_locked
def identity_model(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
    config = cdp.config()
    with connect(config.warehouse) as con:
        if config.engine == "spark":
            # Training stays on DuckDB. Whether to train reads Spark's tables too: the last household
            # safety, else the records and nickname lists (e.g. a model trained elsewhere, first Spark run).
            read_from_spark(spark.session(), con, [RECORDS_TABLE, *NICKNAME_TABLES, HOUSEHOLD_SAFETY_TABLE])
        summary = ensure_model(con, config)
    if summary is None:
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(config.identity_model)), "trained_this_run": False})
    return dg.MaterializeResult(metadata=training_metadata(summary, config.identity_model))


def training_metadata(summary: dict, path) -> dict:
    return {
        "path": dg.MetadataValue.path(str(path)),
        "trained_this_run": True,
        "records": summary["records"],
        "fields_used": dg.MetadataValue.json(summary["fields_used"]),
        "comparisons_to_score": summary["comparisons_to_score"],
        "comparisons_per_record": summary["comparisons_per_record"],
        "probability_two_random_records_match": summary["probability_two_random_records_match"],
        "training_seconds": summary["training_seconds"],
    }


@dg.asset(
    key=PERSON_MAP,
    deps=[RECORDS, dg.AssetKey(["intermediate", "int_identity__links"]), MODEL],
    group_name="identity",
    kinds={"duckdb", "python"},
    description="One row per identity record naming its person; also writes identity.edges and identity.id_history.",
)
@retried_when_locked
def person_map(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
    config = cdp.config()
    on_spark = config.engine == "spark"
    with connect(config.warehouse) as con, Counter("identity", len(RESOLVE_STAGES), context.log) as stages:
        scorer = None
        if on_spark:  # Splink's predict runs on Spark; preparing and clustering stay on DuckDB
            session = spark.session()
            read_from_spark(session, con, RESOLVE_INPUTS)
            scorer = spark_scorer(session, config.identity_model)
        report = resolve_identities(con, config, context.run_id, done=stages.advance, full=is_full_run(context.run.tags),
                                    scorer=scorer)
        if on_spark:
            write_to_spark(session, con, config, RESOLVE_OUTPUTS)
    context.log.info(f"identity sub-steps: {timing_line(report.step_seconds)}")
    context.log.info(f"identity clustered again: {report.region}")
    for decision, key, other in report.decisions_unknown:
        context.log.warning(f"identity decision {decision} {key} {other} names a record that is not an identity record (unknown or erased); not applied")
    sizes = "\n".join(f"| {size} | {count} |" for size, count in report.cluster_size_counts.items())
    return dg.MaterializeResult(
        metadata={
            "records": report.records,
            "persons": report.persons,
            "splink_scoring": report.scoring,
            "scored_pairs": report.pairs_scored,
            "clustered_region": report.region,
            "links": report.links,
            "links_by_rule": dg.MetadataValue.json(report.links_by_rule),
            "vetoed_links": report.vetoed_links,
            "conflicted_clusters_separated": report.conflicted_clusters,
            "refused_links": report.refused_links,
            "clusters_with_two_records_of_a_one_record_source": report.crowded_clusters,
            "one_record_per_person_sources": dg.MetadataValue.json(report.one_record_sources),
            "household_safety": report.household_safety,
            "source_min_ages": dg.MetadataValue.json(report.min_ages),
            "pairs_joined_despite_a_conflict": report.accepted_conflicts,
            "ambiguous_links": report.ambiguous_links,
            "persons_joined_by_the_household_pass": report.household_joins,
            "persons_joined_by_the_best_link_pass": report.best_link_joins,
            "decisions_applied": report.decisions_applied,
            "decisions_not_applied_unknown_record": len(report.decisions_unknown),
            "splink_match_weights": dg.MetadataValue.md(_histogram(report.match_weights)),
            "largest_cluster": report.largest_cluster,
            "merges": report.merges,
            "splits": report.splits,
            "new_persons": report.created,
            "cluster_sizes": dg.MetadataValue.md("| records per person | persons |\n|---|---|\n" + sizes),
            "step_seconds": dg.MetadataValue.json(report.step_seconds),
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


def _histogram(weights: list[float], width: int = 2) -> str:
    """Markdown table of Splink match weights in bins of `width`."""
    if not weights:
        return "no Splink links"
    bins: dict[int, int] = {}
    for weight in weights:
        start = int(weight // width) * width
        bins[start] = bins.get(start, 0) + 1
    rows = "\n".join(f"| {start} to {start + width} | {count} |" for start, count in sorted(bins.items()))
    return "| match weight | links |\n|---|---|\n" + rows


PARTNER_MATCHES = dg.AssetKey(["identity", "partner_matches"])


@dg.asset(
    key=PARTNER_MATCHES,
    deps=[PERSON_MAP],
    group_name="identity",
    kinds={"duckdb", "python"},
    description="Partner (second-party) records matched to persons on hashed email/phone keys and Bloom-filter Dice "
    "similarity; our side is encoded in memory with $CDP_PARTNER_SECRET, never stored.",
)
@retried_when_locked
def partner_matches(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
    config = cdp.config()
    secret = os.environ.get(SECRET_ENV)
    partners = [s for s in config.sources if s.kind == "partner"]
    if not secret and partners:
        context.log.warning(f"{SECRET_ENV} is not set: partner records are not matched this run")
    with connect(config.warehouse) as con:
        if config.engine == "spark" and secret and partners:
            inputs = [RECORDS_TABLE, "identity.person_map", *(f"staging.{s.staging_model}" for s in partners)]
            read_from_spark(spark.session(), con, inputs)
        counts = match_partner_sources(con, config, secret)
        if config.engine == "spark":
            write_to_spark(spark.session(), con, config, ["identity.partner_matches"])
    return dg.MaterializeResult(metadata={"matches_by_source": dg.MetadataValue.json(counts)})
