"""Products, stores and marketing campaigns of the sample retailer (seed-dependent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import polars as pl

from . import names
from .timeline import DAY, END, START

# (category, sku prefix, median price in GBP, price spread)
CATEGORIES = [
    ("womenswear", "WMN", 32.0, 0.6), ("menswear", "MEN", 30.0, 0.6), ("kidswear", "KID", 14.0, 0.5),
    ("footwear", "FTW", 45.0, 0.5), ("beauty", "BTY", 12.0, 0.7), ("home", "HOM", 25.0, 0.8),
    ("kitchen", "KTC", 22.0, 0.8), ("electronics", "ELC", 80.0, 0.9), ("garden", "GDN", 18.0, 0.8),
    ("sports", "SPT", 28.0, 0.7),
]
SKUS_PER_CATEGORY = 20
EUR_PER_GBP = 1.17

# (store city, store region); 30 stores across UK regions
STORES = [
    ("London", "London"), ("London", "London"), ("London", "London"), ("London", "London"),
    ("London", "London"), ("Birmingham", "West Midlands"), ("Coventry", "West Midlands"),
    ("Manchester", "North West"), ("Manchester", "North West"), ("Liverpool", "North West"),
    ("Preston", "North West"), ("Leeds", "Yorkshire and the Humber"), ("Sheffield", "Yorkshire and the Humber"),
    ("York", "Yorkshire and the Humber"), ("Newcastle upon Tyne", "North East"), ("Sunderland", "North East"),
    ("Nottingham", "East Midlands"), ("Leicester", "East Midlands"), ("Cambridge", "East of England"),
    ("Norwich", "East of England"), ("Reading", "South East"), ("Brighton", "South East"),
    ("Southampton", "South East"), ("Oxford", "South East"), ("Bristol", "South West"),
    ("Exeter", "South West"), ("Cardiff", "Wales"), ("Glasgow", "Scotland"),
    ("Edinburgh", "Scotland"), ("Belfast", "Northern Ireland"),
]
STORE_REGION_S = pl.Series([r for _, r in STORES], dtype=pl.String)
STORE_CITY_S = pl.Series([c for c, _ in STORES], dtype=pl.String)


def _stores_by_city() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each city, the stores of its region (all Irish cities -> Belfast)."""
    flat, start, count = [], [], []
    for city, region, ie in zip(names.CITIES, names.REGIONS, names.CITY_IE):
        local = [i for i, (_, r) in enumerate(STORES) if r == (("Northern Ireland") if ie else region)]
        local = local or list(range(len(STORES)))
        start.append(len(flat))
        count.append(len(local))
        flat.extend(local)
    return np.array(flat), np.array(start), np.array(count)


CITY_STORES, CITY_STORE_START, CITY_STORE_COUNT = _stores_by_city()


@dataclass(frozen=True)
class Catalog:
    sku: pl.Series
    category: pl.Series  # category name per sku
    price_cents: np.ndarray
    cat_of_sku: np.ndarray
    n_categories: int = len(CATEGORIES)


def make_catalog(seed: int) -> Catalog:
    rng = np.random.default_rng([seed, 0xCA7])
    sku, cat, cents = [], [], []
    for ci, (name, prefix, median, spread) in enumerate(CATEGORIES):
        nums = rng.choice(np.arange(1000, 9999), size=SKUS_PER_CATEGORY, replace=False)
        prices = median * np.exp(rng.normal(0.0, spread, SKUS_PER_CATEGORY))
        # retail price points: x.99 / x.49 / x.00
        ends = rng.choice([0.99, 0.49, 0.0], size=SKUS_PER_CATEGORY, p=[0.6, 0.25, 0.15])
        for num, price, end in zip(sorted(nums), prices, ends):
            sku.append(f"{prefix}-{num}")
            cat.append(name)
            cents.append(int(max(1.0, np.floor(price)) * 100 + round(end * 100)))
    cat_of_sku = np.repeat(np.arange(len(CATEGORIES)), SKUS_PER_CATEGORY)
    return Catalog(pl.Series(sku), pl.Series(cat), np.array(cents), cat_of_sku)


def pick_skus(rng, cat: Catalog, pref_cat: np.ndarray) -> np.ndarray:
    """A sku per row: half from the person's favourite category (a later-model signal)."""
    n = len(pref_cat)
    c = np.where(rng.random(n) < 0.5, pref_cat, rng.integers(0, cat.n_categories, n))
    # within a category popularity is skewed: low indices sell more
    within = np.minimum((rng.pareto(1.2, n) * 3).astype(np.int64), SKUS_PER_CATEGORY - 1)
    return c * SKUS_PER_CATEGORY + within


_THEMES = ["NEW-IN", "SALE", "WEEKEND-DEAL", "LOYALTY-BONUS", "BACK-IN-STOCK", "SEASONAL", "FREE-DELIVERY",
           "VIP-PREVIEW"]


def campaign_days(seed: int, lo: int, hi: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Campaign send times, ids and channels in [lo, hi): one every ~10 days, one per later day."""
    rng = np.random.default_rng([seed, 0xCA3, lo // DAY])
    if hi - lo <= DAY:
        sends = np.array([lo + 9 * 3600])
    else:
        sends = np.arange(lo + 3 * DAY, hi - DAY, 10 * DAY) + 9 * 3600 + rng.integers(0, 8, 1) * 3600
    themes = rng.choice(_THEMES, size=len(sends))
    ids = [
        f"CMP-{datetime.fromtimestamp(int(t), tz=timezone.utc):%y%m%d}-{th}" for t, th in zip(sends, themes)
    ]
    channel = rng.choice(3, size=len(sends), p=[0.85, 0.1, 0.05])  # email, sms, push
    return sends, ids, channel


CAMPAIGN_CHANNELS = pl.Series(["email", "sms", "push"])
assert START < END
