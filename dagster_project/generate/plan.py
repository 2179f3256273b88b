"""Which people a batch touches, their activity windows, and shared id schemes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from . import ids
from .catalog import STORES, Catalog, campaign_days, make_catalog
from .people import CHUNK
from .timeline import DAY, END, FAR, batch_window, diurnal

NEW_SHARE = 0.02  # new people per later batch, as a share of `people`
CHANGED_SHARE = 0.05  # existing people with new records in a later batch
MAX_BATCHES = 200  # id spaces are sized for this many batches


@dataclass
class Ctx:
    """Everything a source needs besides the people of the current chunk."""

    seed: int
    batch: int
    people: int
    defect_rate: float
    noise: float = 1.0  # multiplies the record-level corruption rates (copies.NOISY)
    lo: int = 0
    hi: int = 0
    catalog: Catalog = None
    campaigns: tuple = None
    seq: dict = field(default_factory=dict)
    store_day: np.ndarray = None
    chunk: int = 0

    def __post_init__(self):
        self.lo, self.hi = batch_window(self.batch)
        self.catalog = make_catalog(self.seed)
        self.campaigns = campaign_days(self.seed, self.lo, self.hi)
        self.n_new = max(1, round(self.people * NEW_SHARE))
        # persons created before this batch / after it
        self.existing = 0 if self.batch == 1 else self.people + (self.batch - 2) * self.n_new
        self.total = self.people + (self.batch - 1) * self.n_new
        self.capacity = self.people + MAX_BATCHES * self.n_new
        self.store_day = np.zeros((len(STORES), (self.hi - self.lo) // DAY), dtype=np.int64)
        if self.batch > MAX_BATCHES:
            raise ValueError(f"batch must be <= {MAX_BATCHES}")

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.total / CHUNK)

    def rng(self, tag: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.batch, self.chunk, tag])

    def key(self, *tags: int) -> int:
        return ids.key_of(self.seed, *tags)

    def sequence(self, name: str, count: int) -> np.ndarray:
        """Unique numbers for records created in this batch (event-like ids)."""
        start = self.seq.get(name, 0)
        self.seq[name] = start + count
        if start + count >= 1 << 40:
            raise ValueError("sequence overflow")
        return (np.int64(self.batch) << np.int64(40)) + np.arange(start, start + count, dtype=np.int64)

    def decimal_id(self, name: str, prefix: str, count: int, per_person: int, width: int) -> pl.Series:
        """prefix + fixed-width number; each batch owns a disjoint range, shuffled by a bijection."""
        stride = max(per_person * self.people, 1000)
        digits = ids.digits_for(stride * MAX_BATCHES, width)
        start = self.seq.get(name, 0)
        if start + count > stride:
            raise ValueError(f"too many {name} records for the id space")
        self.seq[name] = start + count
        n = (self.batch - 1) * stride + np.arange(start, start + count, dtype=np.int64)
        number = ids.dec_series(ids.permute(n, 10**digits, self.key(_tag(name))), digits)
        return pl.select(pl.lit(prefix) + number).to_series()


def _tag(name: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(name))


def id_digits(ctx: Ctx, per_person: int, minimum: int = 7) -> tuple[int, int]:
    """(space, digits) of a person-derived decimal id."""
    space = 10 ** ids.digits_for(ctx.capacity * per_person, minimum)
    return space, len(str(space)) - 1


def contact_ids(ctx: Ctx, pidx: np.ndarray, slot: np.ndarray) -> pl.Series:
    space, w = id_digits(ctx, 2)
    n = ids.permute(pidx * 2 + slot, space, ctx.key(0xC0))
    return pl.select(pl.lit("C-") + ids.dec_series(n, w)).to_series()


def account_ids(ctx: Ctx, pidx: np.ndarray, slot: np.ndarray) -> pl.Series:
    h = ids.permute(pidx * 2 + slot, 1 << 48, ctx.key(0xACC))  # 12 hex digits, bijective
    return pl.select(pl.lit("acc_") + ids.hex_series(h, 12)).to_series()


def member_ids(ctx: Ctx, pidx: np.ndarray) -> pl.Series:
    space, w = id_digits(ctx, 1)
    return pl.select(pl.lit("M") + ids.dec_series(ids.permute(pidx, space, ctx.key(0x3E3)), w)).to_series()


def card_numbers(ctx: Ctx, pidx: np.ndarray) -> pl.Series:
    body = ids.permute(pidx, 10**11, ctx.key(0xCA4D)).astype(np.int64)
    return ids.luhn_append(6338 * 10**11 + body, 15)


def device_ids(ctx: Ctx, pidx: np.ndarray, slot: np.ndarray) -> pl.Series:
    return ids.uuid_series(pidx * 4 + slot, ctx.key(0xDE7))


def explode(df: pl.DataFrame, counts: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
    """Repeat row i counts[i] times; also return the 0-based copy number."""
    counts = np.asarray(counts, dtype=np.int64)
    idx = np.repeat(np.arange(df.height), counts)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(counts) - counts, counts)
    return df[idx] if len(idx) else df.clear(), k


def between(rng, lo, hi, hours: np.ndarray | None = None) -> np.ndarray:
    """Uniform time in [lo, hi); with `hours`, time of day follows that profile."""
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo + 1)
    t = lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)
    return t if hours is None else diurnal(rng, t, hours, lo, hi)


def cohort(ctx: Ctx, persons: pl.DataFrame) -> pl.DataFrame:
    """People with records in this batch, with is_new / forced and windows lo..hi, act_hi."""
    p = persons.filter(pl.col("pidx") < ctx.total)
    p = _created_later(ctx, p)
    if ctx.batch == 1:
        return p.with_columns(
            is_new=pl.lit(True), forced=pl.lit(False), lo=pl.col("since"), hi=pl.lit(END),
            act_hi=pl.min_horizontal("churn_at", pl.lit(END)),
        )
    pidx = p["pidx"].to_numpy()
    is_new = pidx >= ctx.existing
    # movers and email changers of the day re-appear in the CRM that day
    today = pl.col("move_at").is_between(ctx.lo, ctx.hi - 1) | pl.col("change_at").is_between(ctx.lo, ctx.hi - 1)
    picked = ids.uniform(ctx.key(0xC4A, ctx.batch), pidx) < CHANGED_SHARE
    p = p.with_columns(is_new=pl.Series(is_new), picked=pl.Series(picked))
    p = p.with_columns(forced=today & ~pl.col("is_new"))
    p = p.filter(pl.col("is_new") | pl.col("picked") | pl.col("forced")).drop("picked")
    return p.with_columns(
        lo=pl.lit(ctx.lo), hi=pl.lit(ctx.hi),
        act_hi=pl.when(pl.col("churn_at") > ctx.lo).then(pl.lit(ctx.hi)).otherwise(pl.lit(ctx.lo)),
    )


def _created_later(ctx: Ctx, p: pl.DataFrame) -> pl.DataFrame:
    """People added by batch b >= 2 start that day: one account/contact, joined that day."""
    born = pl.col("pidx") >= ctx.people
    day = pl.lit(END) + ((pl.col("pidx") - ctx.people) // ctx.n_new) * DAY
    jitter = (pl.col("eng") * 7919).mod(1.0) * (DAY - 3600)  # deterministic time of day
    t0 = day + jitter.cast(pl.Int64)
    return p.with_columns(
        since=pl.when(born).then(day).otherwise("since"),
        n_acc=pl.when(born).then(pl.min_horizontal("n_acc", 1)).otherwise("n_acc"),
        n_crm=pl.when(born).then(pl.min_horizontal("n_crm", 1)).otherwise("n_crm"),
        n_dev=pl.when(born).then(pl.min_horizontal("n_dev", 2)).otherwise("n_dev"),
        acc1_at=pl.when(born).then(t0).otherwise("acc1_at"),
        acc2_at=pl.when(born).then(pl.lit(FAR)).otherwise("acc2_at"),
        joined_at=pl.when(born).then(t0).otherwise("joined_at"),
        churn_at=pl.when(born).then(pl.max_horizontal("churn_at", day + 60 * DAY)).otherwise("churn_at"),
    )
