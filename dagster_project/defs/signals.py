"""Signals stage: text sentiment of survey comments (Python, between staging and marts)."""

import dagster as dg

from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.signals.sentiment import score_survey_sentiment
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
    def survey_sentiment(context: dg.AssetExecutionContext, cdp: CdpResource) -> dg.MaterializeResult:
        with connect(cdp.config().warehouse) as con:
            counts = score_survey_sentiment(con, cdp.config())
        return dg.MaterializeResult(metadata=counts)

    return [survey_sentiment]
