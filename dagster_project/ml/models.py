"""Churn-risk and purchase-propensity models: train, describe, score.

Both learn from `marts.customer_activity_snapshots` with a time-based split
(ModelsConfig.periods): fit on older snapshots, evaluate on the hold-out
snapshot whose label window ends at as_of, score the snapshot at as_of. The
model is NOT refitted on the hold-out, so the AUC in its card is what the
model that scores people actually achieved on data it never saw.

Each model is saved beside its card: `<folder>/<name>.joblib` (the estimator)
and `<folder>/<name>.card.json` (what it predicts, on what data, how well).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb
import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, roc_auc_score

from dagster_project.config import CdpConfig

SNAPSHOTS = "marts.customer_activity_snapshots"
SCORES = "ml.customer_scores"
SCORE_OFFSET = 0  # the snapshot at as_of: "now"

FEATURES = [
    "order_count", "revenue", "days_since_last_order", "days_since_first_order",
    "orders_90d", "orders_365d", "revenue_365d", "average_order_value", "store_order_share",
    "distinct_categories", "days_since_last_event", "events_recent", "page_views_recent",
    "cart_adds_recent", "sessions_recent", "tickets_180d", "open_tickets", "last_nps_score",
    "campaign_opens_90d", "campaign_clicks_90d", "is_loyalty_member",
]

# A null feature means "never": no order, no event, no survey answer. Filling
# it with a value outside the real range keeps that meaning for any estimator
# (a logistic regression as well as trees). No has_ordered indicator: that is
# order_count = 0 already. Everything not listed here falls back to 0 (no
# orders: no average order value, no store share).
NEVER_DAYS = 9999  # longer ago than any real gap
FILL = {
    "days_since_last_order": NEVER_DAYS,
    "days_since_first_order": NEVER_DAYS,
    "days_since_last_event": NEVER_DAYS,
    "last_nps_score": -1,  # below the 0-10 scale, so unlike a detractor's 0
}

MIN_ROWS = 50  # per period; fewer gives an AUC that means nothing
IMPORTANCE_SAMPLE = 2000  # hold-out rows for permutation importance (keeps it to about a second)
# Rows a model is fitted and evaluated on, at most per period: a deterministic sample beyond it
# (by a hash of person and snapshot). 200,000 rows pin 21 features' trees and a hold-out AUC to
# the third decimal; at 1,000,000 people fitting every row took 46 s of a 15-minute run.
MAX_ROWS = 200_000
TOP_FEATURES = 10
PARAMS = dict(
    max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
    l2_regularization=1.0, early_stopping=False, random_state=0,
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    description: str
    population: str  # SQL condition: the snapshot rows this model is about
    score_column: str  # its column in ml.customer_scores
    horizon: Callable[[CdpConfig], int]


MODELS = {
    "churn": ModelSpec(
        name="churn",
        label="churned_in_horizon",
        description="Probability that a customer (at least one order) places no order in the next horizon_days.",
        population="order_count > 0",  # churn is only defined for customers
        score_column="churn_risk",
        horizon=lambda config: config.models.churn_horizon_days,
    ),
    "propensity": ModelSpec(
        name="propensity",
        label="purchased_in_horizon",
        description="Probability that a person (customer or browser) places an order in the next horizon_days.",
        population="true",
        score_column="purchase_propensity",
        horizon=lambda config: config.models.propensity_horizon_days,
    ),
}


class ModelTrainingError(ValueError):
    """Why a model cannot be trained (or evaluated) on the data at hand."""

    def __init__(self, model: str, reason: str):
        self.model, self.reason = model, reason
        super().__init__(f"{model} model: {reason}")


@dataclass
class ScoreReport:
    people: int
    churn_scored: int  # people with orders, who get a churn risk
    mean_churn_risk: float | None
    mean_purchase_propensity: float | None
    scored_at: datetime


def model_paths(config: CdpConfig, name: str) -> tuple[Path, Path]:
    """(<folder>/<name>.joblib, <folder>/<name>.card.json)"""
    folder = config.models.folder
    return folder / f"{name}.joblib", folder / f"{name}.card.json"


def load_card(config: CdpConfig, name: str) -> dict:
    return json.loads(model_paths(config, name)[1].read_text(encoding="utf-8"))


def _features_sql(features: list[str]) -> str:
    # Cast to double: DuckDB sums can be DECIMAL or HUGEINT, which pandas keeps as objects.
    return ", ".join(f"cast(coalesce({f}, {FILL.get(f, 0)}) as double) as {f}" for f in features)


def _read_rows(con: duckdb.DuckDBPyConnection, spec: ModelSpec, days: tuple[int, ...]) -> tuple[pd.DataFrame, int]:
    """Labelled rows of the model's population in the given snapshots: all of them, or a
    deterministic sample of MAX_ROWS; and how many there are."""
    offsets = ", ".join(str(int(d)) for d in days)
    labelled = f"""from {SNAPSHOTS}
        where days_before_as_of in ({offsets}) and {spec.label} is not null and ({spec.population})"""
    available = con.execute(f"select count(*) {labelled}").fetchall()[0][0]
    rows = con.execute(
        f"""select {_features_sql(FEATURES)}, {spec.label} as label {labelled}
            order by hash(person_id, days_before_as_of), person_id, days_before_as_of
            limit {MAX_ROWS}"""
    ).df()
    return rows, available


def _period(con: duckdb.DuckDBPyConnection, days: tuple[int, ...]) -> dict:
    offsets = ", ".join(str(int(d)) for d in days)
    cutoffs = con.execute(
        f"select distinct cast(cutoff_at as date) from {SNAPSHOTS} where days_before_as_of in ({offsets}) order by 1"
    ).fetchall()
    return {"days_before_as_of": sorted(days), "cutoff_dates": [c.isoformat() for (c,) in cutoffs]}


def _check(name: str, period: str, rows: pd.DataFrame) -> None:
    if len(rows) < MIN_ROWS:
        raise ModelTrainingError(name, f"only {len(rows)} labelled {period} rows (need at least {MIN_ROWS}); "
                                       "is the history long enough for the horizon?")
    classes = rows["label"].nunique()
    if classes < 2:
        raise ModelTrainingError(name, f"the {period} label has one class only ({rows['label'].iloc[0]:g} in all "
                                       f"{len(rows)} rows); nothing to learn or evaluate")


def _importances(model, holdout: pd.DataFrame) -> dict[str, float]:
    """Drop in hold-out ROC AUC when a feature is shuffled, for the top features."""
    sample = holdout.sample(n=min(IMPORTANCE_SAMPLE, len(holdout)), random_state=0)
    result = permutation_importance(
        model, sample[FEATURES], sample["label"], scoring="roc_auc", n_repeats=3, random_state=0
    )
    ranked = sorted(zip(FEATURES, result.importances_mean), key=lambda pair: -pair[1])
    return {feature: round(float(value), 4) for feature, value in ranked[:TOP_FEATURES]}


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def train_model(con: duckdb.DuckDBPyConnection, config: CdpConfig, name: str) -> dict:
    """Fit one model on its training period, evaluate it on the hold-out, save it and its card."""
    spec = MODELS[name]
    horizon = spec.horizon(config)
    periods = config.models.periods(horizon)
    (train, train_available), (holdout, holdout_available) = (
        _read_rows(con, spec, periods["train"]), _read_rows(con, spec, periods["holdout"]))
    _check(name, "training", train)
    _check(name, "hold-out", holdout)

    model = HistGradientBoostingClassifier(**PARAMS).fit(train[FEATURES], train["label"])
    predicted = model.predict_proba(holdout[FEATURES])[:, 1]
    card = {
        "model": name,
        "label": spec.label,
        "description": spec.description,
        "population": spec.population,
        "horizon_days": horizon,
        "features": FEATURES,
        "missing_value_fill": {f: FILL.get(f, 0) for f in FEATURES},
        "algorithm": type(model).__name__,
        "params": model.get_params(),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_period": _period(con, periods["train"]),
        "holdout_period": _period(con, periods["holdout"]),
        "n_train": len(train),
        "n_holdout": len(holdout),
        # Labelled rows in each period; beyond MAX_ROWS the model saw a sample of them.
        "rows_available": {"train": train_available, "holdout": holdout_available},
        "train_positive_rate": round(float(train["label"].mean()), 4),
        "holdout_positive_rate": round(float(holdout["label"].mean()), 4),
        "holdout_auc": round(float(roc_auc_score(holdout["label"], predicted)), 4),
        "holdout_average_precision": round(float(average_precision_score(holdout["label"], predicted)), 4),
        "top_feature_importances": _importances(model, holdout),
        "importance_method": "permutation importance: drop in hold-out ROC AUC (sample, 3 repeats)",
        "versions": {
            "python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "duckdb": duckdb.__version__,
        },
    }
    model_path, card_path = model_paths(config, name)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # The bundle carries its card, so a scorer never pairs a model with another run's card.
    _write_atomic(model_path, lambda p: joblib.dump({"estimator": model, "features": FEATURES, "card": card}, p))
    _write_atomic(card_path, lambda p: p.write_text(json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8"))
    return card


def ensure_model(con: duckdb.DuckDBPyConnection, config: CdpConfig, name: str, retrain: bool = False) -> dict | None:
    """Train one model when its files are missing, older than models.max_age_days (or asked to);
    returns its card, or None when reused."""
    if not retrain and all(path.exists() for path in model_paths(config, name)) and not model_too_old(config, name):
        return None
    return train_model(con, config, name)


def model_too_old(config: CdpConfig, name: str, now: datetime | None = None) -> bool:
    """Whether the saved model was trained more than models.max_age_days ago."""
    trained_at = _utc_naive(load_card(config, name)["trained_at"])
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    return (now - trained_at).days > config.models.max_age_days


def ensure_models(con: duckdb.DuckDBPyConnection, config: CdpConfig, retrain: bool = False) -> dict[str, dict | None]:
    """Every model: the card of each trained this call, None for each reused."""
    return {name: ensure_model(con, config, name, retrain) for name in MODELS}


def _load_bundle(config: CdpConfig, name: str) -> dict:
    path = model_paths(config, name)[0]
    if not path.exists():
        raise FileNotFoundError(f"no {name} model at {path}: run `cdp models train` (or the ml/{name}_model asset)")
    return joblib.load(path)


def _utc_naive(iso: str) -> datetime:
    """Warehouse timestamps are naive UTC."""
    return datetime.fromisoformat(iso).astimezone(timezone.utc).replace(tzinfo=None)


def score_people(con: duckdb.DuckDBPyConnection, config: CdpConfig) -> ScoreReport:
    """Score everyone in the snapshot at as_of with the models into ml.customer_scores.

    A model that could not be trained (too little history yet, see the model
    asset's warning) leaves its score column null rather than stopping the
    run: traits, segments and exports still work without it."""
    bundles = {name: _load_bundle(config, name) for name in MODELS if model_paths(config, name)[0].exists()}
    features = sorted({f for bundle in bundles.values() for f in bundle["features"]})
    in_population = ", ".join(f"({spec.population}) as in_{name}" for name, spec in MODELS.items())
    rows = con.execute(
        f"""select person_id, {in_population}, {_features_sql(features)}
            from {SNAPSHOTS} where days_before_as_of = {SCORE_OFFSET} order by person_id"""
    ).df()
    if rows["person_id"].duplicated().any():
        raise ValueError(f"{SNAPSHOTS} has more than one row per person at days_before_as_of = {SCORE_OFFSET}")

    scored_at = datetime.now(timezone.utc).replace(tzinfo=None)
    scores = pd.DataFrame({"person_id": rows["person_id"]})
    for name, spec in MODELS.items():
        bundle, mask = bundles.get(name), rows[f"in_{name}"].astype(bool)
        scores[spec.score_column] = np.nan  # outside the population, or no model: no score (null)
        if bundle and mask.any():
            scores.loc[mask, spec.score_column] = bundle["estimator"].predict_proba(rows.loc[mask, bundle["features"]])[:, 1]
    scores["scored_at"] = scored_at
    for name in MODELS:
        scores[f"{name}_model_trained_at"] = _utc_naive(bundles[name]["card"]["trained_at"]) if name in bundles else pd.NaT

    con.execute("create schema if not exists ml")
    con.register("new_customer_scores", scores)
    try:
        con.execute(
            f"""create or replace table {SCORES} as
                select person_id::varchar as person_id, churn_risk::double as churn_risk,
                       purchase_propensity::double as purchase_propensity, scored_at::timestamp as scored_at,
                       churn_model_trained_at::timestamp as churn_model_trained_at,
                       propensity_model_trained_at::timestamp as propensity_model_trained_at
                from new_customer_scores"""
        )
    finally:
        con.unregister("new_customer_scores")
    return ScoreReport(
        people=len(scores),
        churn_scored=int(scores["churn_risk"].notna().sum()),
        mean_churn_risk=_mean(scores["churn_risk"]),
        mean_purchase_propensity=_mean(scores["purchase_propensity"]),
        scored_at=scored_at,
    )


def _mean(values: pd.Series) -> float | None:
    return None if values.notna().sum() == 0 else round(float(values.mean()), 4)
