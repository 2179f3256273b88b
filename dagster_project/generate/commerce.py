"""Transactions: ecommerce orders (by account) and store receipts (POS)."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import ids, names
from .catalog import EUR_PER_GBP, STORE_REGION_S, pick_skus
from .copies import postcode_region
from .noise import choose
from .plan import Ctx, account_ids, between, card_numbers, explode
from .timeline import DAY, ONLINE, YEAR, seconds

ORDER_RATE = 3.5  # orders per year for engagement 1
RECEIPT_RATE = 0.77  # store visits per year for engagement 1


def _lines(rng, n: int) -> np.ndarray:
    return rng.choice([1, 2, 3], n, p=[0.55, 0.3, 0.15])


def _account_windows(p: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """One row per account with the period it was the one used to shop."""
    h = p.filter(pl.col("n_acc") > 0)
    rows, slot = explode(h, h["n_acc"].to_numpy())
    two = rows["n_acc"].to_numpy() == 2
    lo = np.where(slot == 1, rows["acc2_at"].to_numpy(), np.maximum(rows["acc1_at"].to_numpy(), rows["lo"].to_numpy()))
    hi = np.where(two & (slot == 0), rows["acc2_at"].to_numpy(), rows["act_hi"].to_numpy())
    return rows, slot, lo, np.minimum(hi, rows["act_hi"].to_numpy())


def _later_counts(ctx: Ctx, p: pl.DataFrame, rng, p_changed: float, p_new: float) -> np.ndarray:
    """Later batches: at most one transaction for an active person that day."""
    active = p["act_hi"].to_numpy() > p["lo"].to_numpy()
    share = np.where(p["is_new"].to_numpy(), p_new, p_changed)
    return (active & (rng.random(p.height) < share)).astype(np.int64)


def orders(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame | None, None]:
    rows, slot, lo, hi = _account_windows(p)
    if ctx.batch == 1:
        years = np.maximum(hi - lo, 0) / YEAR
        n = np.minimum(rng.poisson(ORDER_RATE * rows["eng"].to_numpy() * years), 60)
    else:
        # the account in use today: the newest one that exists
        latest = np.where((rows["n_acc"].to_numpy() == 2) & (rows["acc2_at"].to_numpy() <= ctx.lo), 1, 0)
        n = _later_counts(ctx, rows, rng, 0.5, 0.5) * (slot == latest) * (hi > lo)
    o, _ = explode(rows.with_columns(slot=pl.Series(slot), wlo=pl.Series(lo), whi=pl.Series(hi)), n)
    if o.height == 0:
        return None, None
    t = between(rng, o["wlo"].to_numpy(), o["whi"].to_numpy(), ONLINE)
    o = o.with_columns(order_id=ctx.decimal_id("order", "ORD-", o.height, 60, 9), t=pl.Series(t))
    acc = account_ids(ctx, o["pidx"].to_numpy(), o["slot"].to_numpy())
    o = o.with_columns(account_id=acc)
    lines, k = explode(o, _lines(rng, o.height))
    return _order_lines(ctx, lines, k, rng), None


def _order_lines(ctx: Ctx, o: pl.DataFrame, k: np.ndarray, rng) -> pl.DataFrame:
    n = o.height
    t = o["t"].to_numpy()
    cat = ctx.catalog
    sku = pick_skus(rng, cat, o["pref_cat"].to_numpy())
    postcode, region = postcode_region(o, t)
    # ~4% ship elsewhere (gifts, work): another customer's postcode
    gift = rng.random(n) < 0.04
    other = rng.permutation(n)
    postcode = choose(gift, postcode.gather(other), postcode)
    region = choose(gift, region.gather(other), region)
    ie = o["ie"].to_numpy()
    usd = rng.random(n) < 0.01
    cur = np.where(usd, 2, np.where(ie, 0, 1))
    fx = np.array([EUR_PER_GBP, 1.0, 1.27])[cur]
    sale = np.where(rng.random(n) < 0.12, 0.8, 1.0)
    cents = np.round(cat.price_cents[sku] * fx * sale).astype(np.int64)
    return pl.DataFrame({
        "order_id": o["order_id"], "line_number": k + 1, "account_id": o["account_id"],
        "ordered_at": seconds(t).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sku": cat.sku.gather(sku), "category": cat.category.gather(sku),
        "quantity": rng.choice([1, 2, 3, 4], n, p=[0.82, 0.12, 0.04, 0.02]),
        "unit_price": cents / 100.0, "currency": pl.Series(["EUR", "GBP", "USD"]).gather(cur),
        "ship_postcode": postcode, "ship_region": region,
    })


def receipts(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    if ctx.batch == 1:
        rate = RECEIPT_RATE * p["eng"].to_numpy() * np.where(p["member"].to_numpy(), 2.5, 1.0)
        rate *= np.where(p["ie"].to_numpy(), 0.15, 1.0)
        years = np.maximum(p["act_hi"].to_numpy() - p["lo"].to_numpy(), 0) / YEAR
        n = np.minimum(rng.poisson(rate * years), 80)
    else:
        n = _later_counts(ctx, p, rng, 0.4, 0.3)
    r, _ = explode(p, n)
    if r.height == 0:
        return None, None
    m = r.height
    day = (between(rng, r["lo"].to_numpy(), r["act_hi"].to_numpy()) // DAY) * DAY
    # opening hours 08:00-21:00, minute resolution as tills print it
    t = day + 8 * 3600 + rng.integers(0, 13 * 60, m) * 60
    store = np.where(rng.random(m) < 0.75, r["home_store"].to_numpy(), rng.integers(0, len(STORE_REGION_S), m))
    rid = _receipt_ids(ctx, store, day, t)
    member_then = r["member"].to_numpy() & (t >= r["joined_at"].to_numpy())
    card = choose(member_then & (rng.random(m) < 0.93), card_numbers(ctx, r["pidx"].to_numpy()),
                  pl.Series([None] * m, dtype=pl.String))
    # cashiers sometimes key the surname for a receipt or a return: "SMITH"
    surname = names.SURNAME_S.gather(r["last"].to_numpy() + len(names.SURNAME)).str.to_uppercase()
    cust = choose(rng.random(m) < 0.1, surname, pl.Series([None] * m, dtype=pl.String))
    rec = pl.DataFrame({"receipt_id": rid, "store": store, "t": t, "card": card, "cust": cust,
                        "pref_cat": r["pref_cat"], "person_id": r["person_id"]})
    lines, k = explode(rec, _lines(rng, m))
    sku = pick_skus(rng, ctx.catalog, lines["pref_cat"].to_numpy())
    out = pl.DataFrame({
        "receipt_id": lines["receipt_id"], "line_no": k + 1,
        "store_id": pl.select(pl.lit("S") + ids.dec_series(lines["store"].to_numpy() + 1, 3)).to_series(),
        "store_region": STORE_REGION_S.gather(lines["store"].to_numpy()),
        "purchased_at": seconds(lines["t"].to_numpy()).dt.strftime("%d.%m.%Y %H:%M"),
        "loyalty_card": lines["card"], "customer_name": lines["cust"],
        "sku": ctx.catalog.sku.gather(sku), "category": ctx.catalog.category.gather(sku),
        "qty": rng.choice([1, 2, 3, 4, 6], len(k), p=[0.78, 0.14, 0.04, 0.02, 0.02]),
        "price": ctx.catalog.price_cents[sku] / 100.0,
    })
    return out, pl.DataFrame({"source_record_id": rec["receipt_id"], "person_id": rec["person_id"]})


def _receipt_ids(ctx: Ctx, store: np.ndarray, day: np.ndarray, t: np.ndarray) -> pl.Series:
    """S012-20240105-00042: store, date, running number within that store and day."""
    day_i = (day - ctx.lo) // DAY
    key = store * ctx.store_day.shape[1] + day_i
    order = np.lexsort((t, key))
    ks = key[order]
    first = np.r_[0, np.flatnonzero(np.diff(ks)) + 1]
    rank_sorted = np.arange(len(ks)) - np.repeat(first, np.diff(np.r_[first, len(ks)]))
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    flat = ctx.store_day.reshape(-1)
    seq = flat[key] + rank + 1
    np.add.at(flat, key, 1)
    if seq.max(initial=0) > 99_999:
        raise ValueError("more than 99999 receipts in one store on one day")
    df = pl.DataFrame({"s": store + 1, "d": day, "q": seq})
    return df.select(
        pl.lit("S") + pl.col("s").cast(pl.String).str.zfill(3) + "-"
        + pl.from_epoch("d", time_unit="s").dt.strftime("%Y%m%d") + "-" + pl.col("q").cast(pl.String).str.zfill(5)
    ).to_series()
