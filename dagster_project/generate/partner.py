"""A partner's customer list (an airline's loyalty programme), as the partner
sends it: encoded match keys only (identity/partner_keys.py), never names,
emails or phones.

About half of our people are the partner's members too, each typed by the
partner's own system: typos, nicknames, a missing email or phone, and the
address of today (a customer who moved since our records were written is a
near-miss on postcode). The partner also has members who are not ours.
The raw rows exist only in memory here; the truth file says which partner
record is which of our people (blank: not ours).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dagster_project.identity import partner_keys

from . import noise
from .copies import Profile, identity_copy
from .identity import ACCOUNTS, CRM
from .people import EmailRegistry, person_chunk

PARTNER = Profile(nick=0.15, typo=0.08, swap=0.01, email_missing=0.2, email_stale=0.3, email_family=0.1,
                  phone_missing=0.5, dob_missing=0.05, addr_missing=0.02)
SHARE_OF_OURS = 0.5  # of our people, the share who are partner members
OTHERS_PER_CHUNK_SHARE = 0.5  # partner members who are not ours, per person of ours
TIERS = pl.Series(["blue", "silver", "gold"])
SPEND_BANDS = pl.Series(["low", "mid", "high"])


def partner_rows(people: pl.DataFrame, seed: int, chunk: int, now: int,
                 others_share: float = OTHERS_PER_CHUNK_SHARE) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw partner rows (canonical PII + partner attributes) and truth for one chunk of our people;
    `others_share` partner members who are not ours per person of ours."""
    rng = np.random.default_rng([seed, chunk, 17])
    ours = people.filter(pl.Series(rng.random(people.height) < SHARE_OF_OURS))
    strangers = _strangers(seed, chunk, int(people.height * others_share), rng)
    frames, truth = [], []
    for rows, is_ours in ((ours, True), (strangers, False)):
        if rows.is_empty():
            continue
        copy = identity_copy(rows, np.full(rows.height, now), rng, PARTNER)
        ids = pl.Series([f"AIR-{seed}-{chunk}-{int(is_ours)}-{i}" for i in range(rows.height)])
        frames.append(pl.DataFrame({
            "partner_record_id": ids,
            "first_name": copy["first_name"], "last_name": copy["last_name"], "email": copy["email"],
            "phone": noise.phone(copy["phone_nsn"], copy["ie"].to_numpy(), "national"),
            "date_of_birth": copy["dob"].cast(pl.String), "postcode": copy["postcode"],
            "country": pl.Series(np.where(copy["ie"].to_numpy(), "IE", "GB")),
            "partner_tier": TIERS.gather(rng.integers(0, 3, rows.height)),
            "partner_spend_band": SPEND_BANDS.gather(rng.integers(0, 3, rows.height)),
        }))
        person = rows["person_id"] if is_ours else pl.Series([None] * rows.height, dtype=pl.String)
        truth.append(pl.DataFrame({"partner_record_id": ids, "person_id": person}))
    return pl.concat(frames), pl.concat(truth)


def _strangers(seed: int, chunk: int, wanted: int, rng) -> pl.DataFrame:
    """People who are not ours: drawn from other seeds' chunks of the same generator."""
    parts, have, draw = [], 0, 0
    while have < wanted:
        draw += 1
        more = person_chunk(seed + 7_919 * draw, chunk, EmailRegistry(seed + 7_919 * draw))
        parts.append(more.head(wanted - have))
        have += parts[-1].height
    return pl.concat(parts) if parts else person_chunk(seed + 7_919, chunk, EmailRegistry(seed)).head(0)


def brand_records(people: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Our own records of our people for a match check without the pipeline: a CRM
    copy from when they became customers (the old address, if they moved since) and
    an online account copy, each with our systems' typos. Columns: person_id + PII."""
    rng = np.random.default_rng([seed, 29])
    copies = []
    for profile, when in ((CRM, people["since"].to_numpy()), (ACCOUNTS, people["hi"].to_numpy())):
        copy = identity_copy(people, when, rng, profile)
        copies.append(pl.DataFrame({
            "person_id": people["person_id"], "first_name": copy["first_name"], "last_name": copy["last_name"],
            "email": copy["email"], "phone": noise.phone(copy["phone_nsn"], copy["ie"].to_numpy(), "intl"),
            "date_of_birth": copy["dob"].cast(pl.String), "postcode": copy["postcode"],
            "country": pl.Series(np.where(copy["ie"].to_numpy(), "IE", "GB")),
        }))
    return pl.concat(copies)


def encoded_file(raw: pl.DataFrame, secret: str) -> pl.DataFrame:
    """What the partner sends: its record id, match keys and its attributes."""
    keys = partner_keys.encode(raw, secret)
    return pl.concat([raw.select("partner_record_id"), keys, raw.select("partner_tier", "partner_spend_band")],
                     how="horizontal")
