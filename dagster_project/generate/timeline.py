"""Time span of the sample and string formatting of epoch seconds/days."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import polars as pl

DAY = 86_400
YEAR = 365.25 * DAY
START = int(datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp())
END = int(datetime(2025, 7, 1, tzinfo=timezone.utc).timestamp())  # batch 1 ends 2025-06-30 23:59:59
FAR = 2**62  # "never" for move/churn/email-change times
REF_DAY = (date(2025, 6, 30) - date(1970, 1, 1)).days  # ages are computed on this day


def batch_window(batch: int) -> tuple[int, int]:
    """[lo, hi) of record times: the history for batch 1, one later day for batch b."""
    if batch == 1:
        return START, END
    lo = END + (batch - 2) * DAY
    return lo, lo + DAY


def ts_series(seconds: np.ndarray, fmt: str) -> pl.Series:
    return pl.from_epoch(pl.Series(np.asarray(seconds, dtype=np.int64)), time_unit="s").dt.strftime(fmt)


def ts_ms_series(millis: np.ndarray, fmt: str) -> pl.Series:
    return pl.from_epoch(pl.Series(np.asarray(millis, dtype=np.int64)), time_unit="ms").dt.strftime(fmt)


def date_series(days: np.ndarray, fmt: str) -> pl.Series:
    return pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date).dt.strftime(fmt)


def seconds(t: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(np.asarray(t, dtype=np.int64)), time_unit="s")


def fmt_mixed(values: pl.Series, fmts: list[str], probs: list[float], rng) -> pl.Series:
    """strftime each row with a format drawn per row (systems change over time)."""
    pick = rng.choice(len(fmts), size=len(values), p=np.asarray(probs) / np.sum(probs))
    out = values.dt.strftime(fmts[0])
    for i in range(1, len(fmts)):
        if (pick == i).any():
            out = values.dt.strftime(fmts[i]).zip_with(pl.Series(pick == i), out)
    return out
