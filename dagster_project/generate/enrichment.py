"""A third-party data provider's file by postcode (household size, income
band, property type, life stage), as a brand buys it: one row per postcode
our people live or lived at, with the provider, the date the data is true
for and the purpose its licence names. A fifth of the postcodes carry an
older survey, so the pipeline has stale rows to flag.
"""

from __future__ import annotations

import numpy as np
import polars as pl

PROVIDER = "acme_geodata"
PURPOSE = "enrichment"
RECENT, OLD = "2025-03-31", "2023-06-30"
STALE_SHARE = 0.2
INCOME_BANDS = pl.Series(["under_25k", "25k_50k", "50k_100k", "over_100k"])
PROPERTY_TYPES = pl.Series(["flat", "terraced", "semi_detached", "detached"])
LIFE_STAGES = pl.Series(["young_single", "young_family", "established_family", "empty_nester", "retired"])


def postcodes(people: pl.DataFrame) -> pl.Series:
    """Every postcode a person of the chunk lives or lived at."""
    return pl.concat([people["a0_postcode"], people["a1_postcode"]]).drop_nulls().unique()


def enrichment_rows(codes: pl.Series, seed: int) -> pl.DataFrame:
    """One row per postcode, attributes drawn reproducibly from the seed."""
    codes = codes.unique().sort()
    rng = np.random.default_rng([seed, 31])
    n = codes.len()
    return pl.DataFrame({
        "postcode": codes,
        "household_size": rng.integers(1, 6, n),
        "income_band": INCOME_BANDS.gather(rng.integers(0, INCOME_BANDS.len(), n)),
        "property_type": PROPERTY_TYPES.gather(rng.integers(0, PROPERTY_TYPES.len(), n)),
        "life_stage": LIFE_STAGES.gather(rng.integers(0, LIFE_STAGES.len(), n)),
        "provider": PROVIDER,
        "as_of": np.where(rng.random(n) < STALE_SHARE, OLD, RECENT),
        "purpose": PURPOSE,
    })
