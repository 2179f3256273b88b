"""Models stage: churn and propensity models (trained when missing) and the scores they give."""

import json

import dagster as dg

from dagster_project.defs.resources import CdpResource
from dagster_project.defs.retry import retried_when_locked
from dagster_project.ml.models import MODELS, ModelTrainingError, ensure_model, load_card, model_paths, score_people
from dagster_project.run_mode import is_full_run
from dagster_project.spark.resource import SparkResource
from dagster_project.spark.tables import read_from_spark, write_to_spark
from dagster_project.warehouse import connect

SNAPSHOTS = dg.AssetKey(["marts", "customer_activity_snapshots"])
CHURN_MODEL = dg.AssetKey(["ml", "churn_model"])
PROPENSITY_MODEL = dg.AssetKey(["ml", "propensity_model"])
CUSTOMER_SCORES = dg.AssetKey(["ml", "customer_scores"])


def snapshots_from_spark(con, config, spark: SparkResource) -> None:
    """engine: spark. The models learn and score on DuckDB as with engine duckdb, from Spark's snapshots."""
    if config.engine == "spark":
        read_from_spark(spark.session(), con, [".".join(SNAPSHOTS.path)])


def _model_asset(name: str, key: dg.AssetKey) -> dg.AssetsDefinition:
    @dg.asset(
        key=key,
        deps=[SNAPSHOTS],
        group_name="models",
        kinds={"scikitlearn", "duckdb"},
        description=f"{MODELS[name].description} Trained with a time-based split when its files are missing "
        "(in the models folder beside cdp.yml), older than models.max_age_days, or on `cdp run --full`; "
        "else reused (retrain with `cdp models train`).",
    )
    @retried_when_locked
    def _model(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
        config = cdp.config()
        try:
            with connect(config.warehouse) as con:
                snapshots_from_spark(con, config, spark)
                trained = ensure_model(con, config, name, retrain=is_full_run(context.run.tags))
        except ModelTrainingError as error:
            # Too little history to learn from (a new workspace): scores stay
            # null until there is; everything else runs.
            context.log.warning(f"{error}; {name} scores stay empty until the model can be trained")
            return dg.MaterializeResult(metadata={"trained_this_run": False, "not_trained_because": str(error)})
        card = trained or load_card(config, name)
        return dg.MaterializeResult(metadata={
            "trained_this_run": trained is not None,
            "holdout_auc": card["holdout_auc"],
            "n_train": card["n_train"],
            "trained_at": card["trained_at"],
            "card_path": dg.MetadataValue.path(str(model_paths(config, name)[1])),
            "card": dg.MetadataValue.json(json.loads(json.dumps(card, default=str))),
        })

    return _model


churn_model = _model_asset("churn", CHURN_MODEL)
propensity_model = _model_asset("propensity", PROPENSITY_MODEL)


@dg.asset(
    key=CUSTOMER_SCORES,
    deps=[SNAPSHOTS, CHURN_MODEL, PROPENSITY_MODEL],
    group_name="models",
    kinds={"scikitlearn", "duckdb"},
    description="One row per person at as_of: churn_risk (customers only), purchase_propensity, and when "
    "each model was trained.",
)
@retried_when_locked
def customer_scores(context: dg.AssetExecutionContext, cdp: CdpResource, spark: SparkResource) -> dg.MaterializeResult:
    config = cdp.config()
    with connect(config.warehouse) as con:
        snapshots_from_spark(con, config, spark)
        report = score_people(con, config)
        if config.engine == "spark":  # the activation models (dbt on Spark) read the scores there
            write_to_spark(spark.session(), con, config, [".".join(CUSTOMER_SCORES.path)])
    return dg.MaterializeResult(metadata={
        "people": report.people,
        "customers_with_churn_risk": report.churn_scored,
        "mean_churn_risk": report.mean_churn_risk,
        "mean_purchase_propensity": report.mean_purchase_propensity,
    })


ML_ASSETS = [churn_model, propensity_model, customer_scores]
