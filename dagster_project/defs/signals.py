"""Signals stage: text sentiment of survey comments (Python, between staging and marts)."""

import dagster as dg

from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.signals.sentiment import TABLE, score_survey_sentiment
from dagster_project.spark.resource import SparkResource
from dagster_project.spark.tables import read_from_spark, write_to_spark
from dagster_project.warehouse import connect

SURVEY_SENTIMENT = dg.AssetKey(["signals", "survey_sentiment"])


def build_signal_assets(config) -> list[dg.AssetsDefinition]:
    staging = [dg.AssetKey(["staging", s.staging_model]) for s in config.sources if s.kind == "survey"]

    @dg.asset(
        key=SURVEY_SENTIMENT,
        deps=staging,
        group_name="signals",
        kinds={"python", "duckdb"},
        description="VADER sentiment (compound score -1..1 and label) of every survey comment; "
        "feeds fct_survey_responses and the last-NPS sentiment trait.",
    )
    @retried_when_locked
    def survey_sentiment(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
        config = cdp.config()
        with connect(config.warehouse) as con:
            if config.engine == "spark":  # scored on DuckDB, from and to Spark's tables
                read_from_spark(spark.session(), con, [".".join(key.path) for key in staging])
            counts = score_survey_sentiment(con, config)
            if config.engine == "spark":
                write_to_spark(spark.session(), con, config, [TABLE])
        return dg.MaterializeResult(metadata=counts)

    return [survey_sentiment]
