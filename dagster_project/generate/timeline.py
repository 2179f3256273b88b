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


# relative activity by hour of day (UTC): shoppers online in the evening, staff in office hours
ONLINE = np.array([1, .6, .4, .3, .3, .5, 1.2, 2.5, 3.5, 4, 4.2, 4.5,
                   5, 4.8, 4.5, 4.5, 4.7, 5, 5.5, 6, 6.2, 5.5, 4, 2.2])
OFFICE = np.array([0, 0, 0, 0, 0, 0, .1, .5, 3, 5, 5, 5, 4, 5, 5, 5, 4.5, 3, 1, .5, .2, .1, 0, 0])
ONLINE = ONLINE / ONLINE.sum()
OFFICE = OFFICE / OFFICE.sum()


def diurnal(rng, t: np.ndarray, hours: np.ndarray, lo, hi) -> np.ndarray:
    """Keep the day of t, redraw its time of day from an hourly profile, stay in [lo, hi)."""
    t = np.asarray(t, dtype=np.int64)
    day = t // DAY * DAY
    out = day + rng.choice(24, len(t), p=hours) * 3600 + rng.integers(0, 3600, len(t))
    return np.clip(out, lo, np.asarray(hi, dtype=np.int64) - 1)


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
