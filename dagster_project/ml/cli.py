"""`cdp models train`: (re)train both models and say how well they did."""

from __future__ import annotations

from dagster_project.config import CdpConfig
from dagster_project.ml.models import ensure_models, load_card, model_paths
from dagster_project.warehouse import connect


def train_command(config: CdpConfig, retrain: bool = True) -> str:
    """Train both models (only missing ones unless retrain); one summary line per model."""
    with connect(config.warehouse) as con:
        cards = ensure_models(con, config, retrain=retrain)
    lines = []
    for name, card in cards.items():
        status = "trained" if card else "kept existing"
        card = card or load_card(config, name)
        lines.append(
            f"{name}: {status}, hold-out ROC AUC {card['holdout_auc']:.3f} "
            f"(average precision {card['holdout_average_precision']:.3f}, base rate {card['holdout_positive_rate']:.1%}; "
            f"{card['n_train']} training rows, {card['n_holdout']} hold-out rows), card {model_paths(config, name)[1]}"
        )
    return "\n".join(lines)
