"""Full or incremental runs.

A run is incremental unless asked otherwise (`cdp run --full`, which tags
the Dagster run): identity resolution scores only the pairs of new or
changed records (identity.incremental) and the churn and propensity models
are reused unless missing or older than models.max_age_days. A full run
scores every pair and retrains those models. A run on an empty warehouse is
full on its own: nothing is stored to reuse.
"""

from __future__ import annotations

from collections.abc import Mapping

FULL_RUN_TAG = "cdp/full_recompute"


def full_run_tags(full: bool) -> dict[str, str]:
    return {FULL_RUN_TAG: "true"} if full else {}


def is_full_run(tags: Mapping[str, str]) -> bool:
    return tags.get(FULL_RUN_TAG) == "true"
