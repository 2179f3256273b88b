"""Churn and propensity models on a synthetic snapshot table with a planted signal (no pipeline run)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from dagster_project.config import load_config
from dagster_project.defs.ml import ML_ASSETS
from dagster_project.defs.resources import CdpResource
from dagster_project.ml import models
from dagster_project.ml.cli import train_command
from dagster_project.ml.models import (
    FEATURES, ModelTrainingError, ensure_models, model_paths, score_people, train_model,
)
from dagster_project.spark.resource import SparkResource
from dagster_project.warehouse import connect
from tests.conftest import make_workspace

AS_OF = datetime(2025, 6, 30)
PEOPLE = 1200


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _snapshot(rng, offset: int, config) -> pd.DataFrame:
    """One snapshot: churn rises with days since the last order; buying follows recency and cart adds."""
    n = PEOPLE
    cutoff = AS_OF - timedelta(days=offset)
    ordered = rng.random(n) < 0.8
    order_count = np.where(ordered, rng.integers(1, 12, n), 0)
    since_last = np.where(ordered, np.minimum(rng.exponential(150, n), 900).round(), np.nan)
    since_first = since_last + rng.integers(0, 700, n)
    cart_adds = rng.poisson(1.0, n)
    revenue = order_count * rng.uniform(20, 80, n)
    churn_p = _sigmoid((since_last - 150) / 40)
    buy_p = np.where(ordered, _sigmoid(1.5 - since_last / 60 + 0.5 * cart_adds), _sigmoid(-2.5 + 0.6 * cart_adds))
    churned = np.where(ordered, (rng.random(n) < churn_p).astype(float), np.nan)
    purchased = (rng.random(n) < buy_p).astype(float)
    if offset < config.models.churn_horizon_days:
        churned[:] = np.nan
    if offset < config.models.propensity_horizon_days:
        purchased[:] = np.nan
    since_event = rng.integers(0, 120, n).astype(float)
    days = lambda values: [cutoff - timedelta(days=v) if v == v else None for v in values]  # noqa: E731
    return pd.DataFrame({
        "person_id": [f"p{i:05d}" for i in range(n)],
        "days_before_as_of": offset,
        "cutoff_at": cutoff,
        "order_count": order_count,
        "revenue": revenue,
        "first_order_at": days(since_first),
        "last_order_at": days(since_last),
        "days_since_last_order": since_last,
        "days_since_first_order": since_first,
        "orders_90d": np.where(since_last < 90, 1, 0),
        "orders_365d": np.where(since_last < 365, np.minimum(order_count, 3), 0),
        "revenue_365d": np.where(since_last < 365, revenue / 2, 0),
        "average_order_value": np.where(ordered, revenue / np.maximum(order_count, 1), np.nan),
        "store_order_share": np.where(ordered, rng.random(n), np.nan),
        "distinct_categories": np.minimum(order_count, 4),
        "last_event_at": days(since_event),
        "days_since_last_event": since_event,
        "events_recent": rng.poisson(5, n),
        "page_views_recent": rng.poisson(4, n),
        "cart_adds_recent": cart_adds,
        "sessions_recent": rng.poisson(2, n),
        "tickets_180d": rng.poisson(0.2, n),
        "open_tickets": rng.poisson(0.05, n),
        "last_nps_score": np.where(rng.random(n) < 0.3, rng.integers(0, 11, n), np.nan),
        "campaign_opens_90d": rng.poisson(2, n),
        "campaign_clicks_90d": rng.poisson(0.5, n),
        "is_loyalty_member": (rng.random(n) < 0.3).astype(int),
        "churned_in_horizon": churned,
        "purchased_in_horizon": purchased,
    })


def _write_snapshots(config, frame: pd.DataFrame) -> None:
    with connect(config.warehouse) as con:
        con.execute("create schema if not exists marts")
        con.register("frame", frame)
        con.execute(
            """create or replace table marts.customer_activity_snapshots as
               select * replace (days_before_as_of::integer as days_before_as_of,
                                 churned_in_horizon::integer as churned_in_horizon,
                                 purchased_in_horizon::integer as purchased_in_horizon)
               from frame"""
        )


def _workspace(folder):
    config = load_config(make_workspace(folder))
    rng = np.random.default_rng(7)
    frames = [_snapshot(rng, offset, config) for offset in config.models.snapshot_offsets]
    _write_snapshots(config, pd.concat(frames, ignore_index=True))
    return config


@pytest.fixture
def config(tmp_path):
    """A workspace with snapshots and no models."""
    return _workspace(tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workspace with both models trained once (training is the slow part), and their cards."""
    config = _workspace(tmp_path_factory.mktemp("trained"))
    with connect(config.warehouse) as con:
        return config, ensure_models(con, config)


@pytest.fixture
def trained_copy(trained, tmp_path):
    """A private copy of the trained workspace, free to change."""
    shutil.copytree(trained[0].root, tmp_path / "workspace")
    return load_config(tmp_path / "workspace" / "cdp.yml")


def test_training_writes_a_card_with_an_honest_hold_out_auc(trained):
    config, cards = trained
    for name, card in cards.items():
        model_path, card_path = model_paths(config, name)
        assert model_path.exists() and card_path.exists()
        assert json.loads(card_path.read_text()) == json.loads(json.dumps(card, default=str))
        assert card["features"] == FEATURES
        assert card["trained_at"].endswith("+00:00")
        assert card["holdout_period"]["days_before_as_of"] == [
            {"churn": config.models.churn_horizon_days, "propensity": config.models.propensity_horizon_days}[name]
        ]
        assert card["n_train"] > card["n_holdout"] > 500
        assert card["holdout_auc"] > 0.75, (name, card["holdout_auc"])
        assert 0 < card["holdout_positive_rate"] < 1
    assert next(iter(cards["churn"]["top_feature_importances"])) == "days_since_last_order"


def test_random_labels_give_a_chance_level_auc(config):
    with connect(config.warehouse) as con:
        con.execute(
            """create or replace table marts.customer_activity_snapshots as
               select * replace (case when churned_in_horizon is not null
                                      then (hash(person_id || days_before_as_of) % 3 = 0)::integer end
                                 as churned_in_horizon)
               from marts.customer_activity_snapshots"""
        )
        card = train_model(con, config, "churn")
    assert abs(card["holdout_auc"] - 0.5) < 0.08


def test_existing_models_are_reused_unless_retrain(trained_copy):
    config = trained_copy
    with connect(config.warehouse) as con:
        paths = [path for name in ("churn", "propensity") for path in model_paths(config, name)]
        for path in paths:
            os.utime(path, (1_000_000, 1_000_000))  # far in the past: any rewrite shows
        assert ensure_models(con, config) == {"churn": None, "propensity": None}
        assert all(path.stat().st_mtime == 1_000_000 for path in paths)
        retrained = ensure_models(con, config, retrain=True)
    assert all(card is not None for card in retrained.values())
    assert all(path.stat().st_mtime > 1_000_000 for path in paths)


def test_scores_one_row_per_person_with_churn_only_for_customers(trained_copy):
    with connect(trained_copy.warehouse) as con:
        report = score_people(con, trained_copy)
        people, rows, out_of_range, wrong_nulls = con.execute(
            """select
                   (select count(distinct person_id) from marts.customer_activity_snapshots where days_before_as_of = 0),
                   count(*),
                   count(*) filter (where churn_risk not between 0 and 1
                                       or purchase_propensity not between 0 and 1
                                       or purchase_propensity is null),
                   count(*) filter (where (churn_risk is null) <> (s.order_count = 0))
               from ml.customer_scores
               join marts.customer_activity_snapshots as s using (person_id)
               where s.days_before_as_of = 0"""
        ).fetchone()
        trained_at = con.execute("select distinct churn_model_trained_at from ml.customer_scores").fetchall()
    assert rows == people == report.people == PEOPLE
    assert out_of_range == 0 and wrong_nulls == 0
    assert 0 < report.churn_scored < report.people
    assert 0 < report.mean_churn_risk < 1 and 0 < report.mean_purchase_propensity < 1
    assert len(trained_at) == 1 and trained_at[0][0] is not None


def test_one_label_class_is_a_clear_error(config):
    with connect(config.warehouse) as con:
        con.execute("update marts.customer_activity_snapshots set churned_in_horizon = 0 where churned_in_horizon = 1")
        with pytest.raises(ModelTrainingError, match=r"churn model: the training label has one class only"):
            train_model(con, config, "churn")
    assert not model_paths(config, "churn")[0].exists()


def test_beyond_max_rows_a_model_learns_from_a_deterministic_sample_and_says_so(trained, trained_copy, monkeypatch):
    monkeypatch.setattr(models, "MAX_ROWS", 600)
    with connect(trained_copy.warehouse) as con:
        first, again = train_model(con, trained_copy, "churn"), train_model(con, trained_copy, "churn")
    full = trained[1]["churn"]
    assert (first["n_train"], first["n_holdout"]) == (600, 600) < (full["n_train"], full["n_holdout"])
    assert first["rows_available"] == {"train": full["n_train"], "holdout": full["n_holdout"]}
    assert full["rows_available"] == {"train": full["n_train"], "holdout": full["n_holdout"]}
    assert first["holdout_auc"] == again["holdout_auc"] > 0.7  # the same sample each time, still learning


def test_too_few_rows_is_a_clear_error(config):
    with connect(config.warehouse) as con:
        holdout = config.models.periods(config.models.propensity_horizon_days)["holdout"][0]
        con.execute(f"delete from marts.customer_activity_snapshots where days_before_as_of = {holdout}")
        with pytest.raises(ModelTrainingError, match=r"propensity model: only 0 labelled hold-out rows"):
            train_model(con, config, "propensity")


def _trained_flags(result) -> list[bool]:
    events = [event.materialization for event in result.get_asset_materialization_events()]
    return [e.metadata["trained_this_run"].value for e in events if "trained_this_run" in e.metadata]


def test_assets_train_only_a_missing_model_then_score(trained_copy):
    # the spark resource is only used with engine: spark (a session is started on first use only)
    resources = {"cdp": CdpResource(config_path=str(trained_copy.path)), "spark": SparkResource.for_workspace(trained_copy)}
    kept = dg.materialize(ML_ASSETS, resources=resources)
    model_paths(trained_copy, "churn")[1].unlink()  # a missing card means a missing model
    retrained = dg.materialize(ML_ASSETS, resources=resources)
    assert kept.success and retrained.success
    assert (_trained_flags(kept), _trained_flags(retrained)) == ([False, False], [True, False])


def test_train_command_summarises_each_model(trained_copy):
    model_paths(trained_copy, "propensity")[0].unlink()
    summary = train_command(trained_copy, retrain=False).splitlines()
    assert summary[0].startswith("churn: kept existing, hold-out ROC AUC 0.")
    assert summary[1].startswith("propensity: trained, hold-out ROC AUC 0.")
    assert summary[1].endswith("propensity.card.json")


def test_openmp_threads_sleep_when_idle():
    """scikit-learn's OpenMP runtime starts with passive waiting (no spinning), unless the user chose."""
    import subprocess
    import sys

    def spin_count(**env) -> str:
        environ = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env | {"OMP_DISPLAY_ENV": "VERBOSE"}
        shown = subprocess.run([sys.executable, "-c", "import dagster_project.ml.models"], env=environ,
                               capture_output=True, text=True, check=True).stderr
        return next(line.split("=")[1].strip(" '") for line in shown.splitlines() if "GOMP_SPINCOUNT" in line)

    assert spin_count() == "0"
    assert spin_count(OMP_WAIT_POLICY="ACTIVE") != "0"
