"""Web/app events per device; a login ties a device to an ecommerce account."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import ids, texts
from .catalog import pick_skus
from .noise import choose
from .plan import Ctx, account_ids, device_ids, explode
from .timeline import DAY, ONLINE, diurnal

BASE_URL = "https://www.example-retail.co.uk"
PLATFORMS = pl.Series(["web", "ios", "android"])
TYPES = pl.Series(["page_view", "cart_add", "search", "login"])


def _devices(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(device rows, slot, is_new_device); later batches revisit one known device."""
    new = p.filter(pl.col("is_new") & (pl.col("n_dev") > 0))
    d_new, s_new = explode(new, new["n_dev"].to_numpy())
    old = p.filter(~pl.col("is_new") & (pl.col("n_dev") > 0) & (pl.col("act_hi") > pl.col("lo")))
    old = old.filter(pl.Series(rng.random(old.height) < 0.6))
    s_old = (rng.random(old.height) * old["n_dev"].to_numpy()).astype(np.int64)
    d = pl.concat([d_new, old], how="vertical_relaxed")
    return d, np.r_[s_new, s_old], np.r_[np.ones(d_new.height, bool), np.zeros(old.height, bool)]


def events(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    d, slot, fresh = _devices(ctx, p, rng)
    if d.height == 0:
        return None, None
    pidx = d["pidx"].to_numpy()
    dev_no = pidx * 4 + slot
    dev_id = device_ids(ctx, pidx, slot)
    lo, hi = d["lo"].to_numpy(), np.maximum(d["act_hi"].to_numpy(), d["lo"].to_numpy() + DAY)
    hi = np.minimum(hi, d["hi"].to_numpy())
    if ctx.batch == 1:
        # extra devices appear some time after the first one
        lo = np.where(slot > 0, lo + (rng.random(len(lo)) * (hi - lo) * 0.7).astype(np.int64), lo)
        n_ev = 1 + np.minimum(rng.poisson(7 * np.sqrt(d["eng"].to_numpy())), 120)
    else:
        n_ev = np.where(fresh, 2, 1) + rng.poisson(4, len(lo))
    dev = pl.DataFrame({
        "dev": np.arange(d.height), "device_id": dev_id, "pidx": pidx, "lo": lo, "hi": hi,
        "platform": (ids.uniform(ctx.key(0x91A7), dev_no)[:, None] > [0.55, 0.83]).sum(axis=1),
        "logs_in": (d["n_acc"].to_numpy() > 0) & (ids.uniform(ctx.key(0x1061), dev_no) < 0.8),
        "n_acc": d["n_acc"], "acc1_at": d["acc1_at"], "acc2_at": d["acc2_at"], "pref_cat": d["pref_cat"],
        "k0": (rng.random(d.height) * n_ev).astype(np.int64),
    })
    e, j = explode(dev, n_ev)
    ts = _timestamps(rng, e, j)
    order = np.lexsort((ts, e["dev"].to_numpy()))
    e, ts = e[order], ts[order]
    out = _event_rows(ctx, e, ts, rng)
    fresh = pl.Series(fresh)
    truth = pl.DataFrame({"source_record_id": dev_id.filter(fresh), "person_id": d["person_id"].filter(fresh)})
    return out, truth


def _timestamps(rng, e: pl.DataFrame, j: np.ndarray) -> np.ndarray:
    """Milliseconds; events come in sessions of 2-6 a few seconds to minutes apart."""
    n = e.height
    L = rng.integers(2, 7, n)[e["dev"].to_numpy()]
    lo, hi = e["lo"].to_numpy(), e["hi"].to_numpy()
    start = lo + (rng.random(n) * np.maximum(hi - lo - 1800, 1)).astype(np.int64)
    start = diurnal(rng, start, ONLINE, lo, np.maximum(hi - 1800, lo + 1))
    first = np.arange(n) - (j % L)
    gaps = rng.integers(3_000, 180_000, n)
    cs = np.cumsum(gaps)
    return start[first] * 1000 + (cs - cs[first]) + rng.integers(0, 1000, n)


def _event_rows(ctx: Ctx, e: pl.DataFrame, ts: np.ndarray, rng) -> pl.DataFrame:
    n = e.height
    dev = e["dev"].to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(dev)) + 1]
    j = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    t = ts // 1000
    acc_slot = np.where((e["n_acc"].to_numpy() == 2) & (t >= e["acc2_at"].to_numpy()), 1, 0)
    logged = e["logs_in"].to_numpy() & (j >= e["k0"].to_numpy()) & (t >= e["acc1_at"].to_numpy())
    first_of_dev = j == 0
    prev_logged = np.r_[False, logged[:-1]] & ~first_of_dev
    prev_slot = np.r_[-1, acc_slot[:-1]]
    is_login = logged & (~prev_logged | (prev_slot != acc_slot))
    kind = np.where(is_login, 3, rng.choice(3, n, p=[0.62, 0.16, 0.22]))
    sku = pick_skus(rng, ctx.catalog, e["pref_cat"].to_numpy())
    product = (kind == 1) | ((kind == 0) & (rng.random(n) < 0.55))
    home = (kind == 0) & ~product & (rng.random(n) < 0.55)
    cat = ctx.catalog.category.gather(sku)
    sku_s = ctx.catalog.sku.gather(sku)
    term = pl.Series(texts.SEARCH_TERMS).gather(rng.integers(0, len(texts.SEARCH_TERMS), n))
    platform = e["platform"].to_numpy()
    df = pl.DataFrame({"kind": kind, "product": product, "home": home, "sku": sku_s, "cat": cat, "term": term})
    url = df.select(
        pl.when(pl.col("kind") == 3).then(pl.lit(BASE_URL + "/account/login"))
        .when(pl.col("kind") == 2).then(BASE_URL + "/search?q=" + pl.col("term").str.replace_all(" ", "+"))
        .when(pl.col("product")).then(BASE_URL + "/p/" + pl.col("sku").str.to_lowercase())
        .when(pl.col("home")).then(pl.lit(BASE_URL + "/"))
        .otherwise(BASE_URL + "/c/" + pl.col("cat"))
    ).to_series()
    none = pl.Series([None] * n, dtype=pl.String)
    user = choose(logged, account_ids(ctx, e["pidx"].to_numpy(), acc_slot), none)
    web_fmt = pl.from_epoch(pl.Series(ts), time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    app_fmt = pl.from_epoch(pl.Series(t), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pl.DataFrame({
        "event_id": ids.uuid_series(ctx.sequence("event", n), ctx.key(0xE7E)),
        "device_id": e["device_id"], "event_type": TYPES.gather(kind),
        "ts": choose(platform == 0, web_fmt, app_fmt), "user_id": user, "page_url": url,
        "product_sku": choose(product, sku_s, none), "product_category": choose(product, cat, none),
    }).with_columns(context=pl.struct(platform=PLATFORMS.gather(platform)))

