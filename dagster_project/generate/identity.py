"""Identity sources: CRM contacts, ecommerce accounts, loyalty members, benefit and tax forms."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import ids, noise
from .copies import Profile, identity_copy, suffix_of
from .noise import choose
from .plan import Ctx, account_ids, between, card_numbers, contact_ids, explode, member_ids
from .timeline import OFFICE, ONLINE, YEAR, fmt_mixed, seconds

CRM = Profile(phone_missing=0.35, dob_missing=0.25, email_missing=0.08)
# a duplicate contact was keyed in again later, by someone else, more sloppily
CRM_DUP = Profile(nick=0.45, typo=0.12, swap=0.04, ascii=0.4, upper=0.05, lower=0.05, email_stale=0.5,
                  email_missing=0.15, phone_missing=0.5, dob_missing=0.45, abbrev=0.6, pc_variant=0.3)
# a contact edited by staff later: cleaner than the first entry
CRM_EDIT = Profile(nick=0.1, typo=0.01, swap=0.0, email_missing=0.02, email_stale=0.05, phone_missing=0.2,
                   dob_missing=0.15, pc_variant=0.05)
ACCOUNTS = Profile(nick=0.1, typo=0.02, email_missing=0.0, email_stale=0.0, email_family=0.0, email_typo=0.003,
                   email_caps=0.02, email_upper=0.005, email_space=0.01, phone_missing=0.45, landline=0.1,
                   dob_missing=0.5, abbrev=0.4, pc_variant=0.08)
LOYALTY = Profile(nick=0.25, typo=0.05, ascii=0.6, upper=0.15, lower=0.01, email_missing=0.15, email_stale=0.3,
                  phone_missing=0.3, landline=0.25, dob_missing=0.35, pc_variant=0.15)

CRM_PHONES = {"intl": 0.75, "national": 0.1, "spaced": 0.1, "e164": 0.05}
GB_COUNTRY = {"GB": 0.6, "United Kingdom": 0.2, "UK": 0.15, "Great Britain": 0.05}
IE_COUNTRY = {"IE": 0.6, "Ireland": 0.35, "Republic of Ireland": 0.05}


def labels(rng, ie: np.ndarray, gb: dict, irl: dict) -> pl.Series:
    """Free-text country as CRM users type it."""
    def draw(d: dict) -> pl.Series:
        keys = list(d)
        p = np.array([d[k] for k in keys])
        return pl.Series(keys).gather(rng.choice(len(keys), len(ie), p=p / p.sum()))
    return choose(ie, draw(irl), draw(gb))


def _truth(ids_: pl.Series, rows: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame({"source_record_id": ids_, "person_id": rows["person_id"]})


def _reexport(p: pl.DataFrame, rng, has: pl.Expr, share: float) -> pl.DataFrame:
    """Existing people whose record is edited today (later batches only)."""
    old = p.filter(~pl.col("is_new") & has)
    return old.filter(pl.Series(old["forced"].to_numpy() | (rng.random(old.height) < share)))


def crm(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame, pl.DataFrame]:
    new = p.filter(pl.col("is_new") & (pl.col("n_crm") > 0))
    rows, slot = explode(new, new["n_crm"].to_numpy())
    t = between(rng, rows["lo"].to_numpy(), rows["hi"].to_numpy(), OFFICE)
    re = _reexport(p, rng, pl.col("n_crm") > 0, 0.3)
    re_slot = np.where((re["n_crm"].to_numpy() == 2) & (rng.random(re.height) < 0.3), 1, 0)
    re_t = between(rng, re["lo"].to_numpy(), re["hi"].to_numpy(), OFFICE)
    parts = [(rows, t, slot, True, CRM), (re, re_t, re_slot, False, CRM_EDIT)]
    out, truth = [], []
    for r, tt, s, is_truth, prof in parts:
        for dup in (False, True):
            m = (s == 1) == dup
            if not m.any():
                continue
            rr = r.filter(pl.Series(m))
            df = _crm_rows(ctx, rr, tt[m], s[m], rng, CRM_DUP if dup and is_truth else prof)
            out.append(df)
            if is_truth:
                truth.append(_truth(df["contact_id"], rr))
    return _cat(out), _cat(truth)


def _crm_rows(ctx, rows, t, slot, rng, prof) -> pl.DataFrame:
    c = identity_copy(rows, t, rng, prof.at(ctx.noise))
    ie = rows["ie"].to_numpy()
    return pl.DataFrame({
        "contact_id": contact_ids(ctx, rows["pidx"].to_numpy(), slot),
        "first_name": c["first_name"], "last_name": c["last_name"], "email": c["email"],
        "phone": noise.phone_mixed(c["phone_nsn"], ie, rng, CRM_PHONES),
        "birth_date": fmt_mixed(c["dob"], ["%d/%m/%Y", "%Y-%m-%d"], [0.85, 0.15], rng),
        "street": c["street"], "zip": c["postcode"], "city": c["city"],
        "country": labels(rng, ie, GB_COUNTRY, IE_COUNTRY),
        "updated_at": seconds(t).dt.strftime("%Y-%m-%d %H:%M:%S"),
    })


def accounts(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame, pl.DataFrame]:
    new = p.filter(pl.col("is_new") & (pl.col("n_acc") > 0))
    rows, slot = explode(new, new["n_acc"].to_numpy())
    created = np.where(slot == 1, rows["acc2_at"].to_numpy(), rows["acc1_at"].to_numpy())
    has_upd = rng.random(rows.height) < 0.55
    updated = between(rng, created, rows["hi"].to_numpy(), ONLINE)
    # an email changer opened a second account; the first keeps the old address
    rows = rows.with_columns(
        email2=pl.when(pl.Series((slot == 0) & (rows["n_acc"].to_numpy() == 2))).then(None).otherwise("email2"))
    df_new = _account_rows(ctx, rows, slot, created, np.where(has_upd, updated, -1), rng)

    re = _reexport(p, rng, (pl.col("n_acc") > 0) & pl.col("forced"), 0.0)
    re = re.filter(pl.Series(rng.random(re.height) < 0.6))
    re_slot = np.where((re["n_acc"].to_numpy() == 2) & (re["acc2_at"].to_numpy() < ctx.lo), 1, 0)
    re_created = np.where(re_slot == 1, re["acc2_at"].to_numpy(), re["acc1_at"].to_numpy())
    re_t = between(rng, re["lo"].to_numpy(), re["hi"].to_numpy(), ONLINE)
    df_re = _account_rows(ctx, re, re_slot, re_created, re_t, rng)
    return _cat([df_new, df_re]), _truth(df_new["account_id"], rows)


def _account_rows(ctx, rows, slot, created, updated, rng) -> pl.DataFrame:
    asof = np.where(updated >= 0, updated, created)
    c = identity_copy(rows, asof, rng, ACCOUNTS.at(ctx.noise))
    ie = rows["ie"].to_numpy()
    upd = seconds(np.maximum(updated, 0)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pl.DataFrame({
        "account_id": account_ids(ctx, rows["pidx"].to_numpy(), slot),
        "email": c["email"], "first_name": c["first_name"], "last_name": c["last_name"],
        "phone": noise.phone_mixed(c["phone_nsn"], ie, rng, {"national": 0.85, "spaced": 0.1, "intl": 0.05}),
        "date_of_birth": c["dob"].dt.strftime("%Y-%m-%d"),
        "address_line1": c["street"], "address_postcode": c["postcode"], "address_city": c["city"],
        "address_country": choose(ie, pl.Series(["IE"] * len(ie)), pl.Series(["GB"] * len(ie))),
        "created_at": seconds(created).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": choose(updated >= 0, upd, pl.Series([None] * len(ie), dtype=pl.String)),
    })


TIERS = pl.Series(["bronze", "silver", "gold", "platinum"])


def points_at(ctx: Ctx, rows: pl.DataFrame, t: np.ndarray) -> np.ndarray:
    """Points grow with engagement and membership age: same formula in every batch."""
    rate = 400 + 900 * ids.uniform(ctx.key(0x9017), rows["pidx"].to_numpy())
    years = np.maximum(t - rows["joined_at"].to_numpy(), 0) / YEAR
    return (50 + rows["eng"].to_numpy() * rate * years).astype(np.int64)


def loyalty(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame, pl.DataFrame]:
    new = p.filter(pl.col("is_new") & pl.col("member"))
    t = between(rng, new["joined_at"].to_numpy(), new["hi"].to_numpy(), ONLINE)
    re = _reexport(p, rng, pl.col("member"), 0.3)
    re_t = between(rng, re["lo"].to_numpy(), re["hi"].to_numpy(), ONLINE)
    df_new = _member_rows(ctx, new, t, rng)
    return _cat([df_new, _member_rows(ctx, re, re_t, rng)]), _truth(df_new["member_id"], new)


def _member_rows(ctx, rows, t, rng) -> pl.DataFrame:
    c = identity_copy(rows, t, rng, LOYALTY.at(ctx.noise))
    ie = rows["ie"].to_numpy()
    pidx = rows["pidx"].to_numpy()
    pts = points_at(ctx, rows, t)
    tier = np.searchsorted([1000, 3000, 8000], pts, side="right")
    return pl.DataFrame({
        "member_id": member_ids(ctx, pidx), "card_number": card_numbers(ctx, pidx),
        "first_name": c["first_name"], "last_name": c["last_name"], "email": c["email"],
        "mobile": noise.phone_mixed(c["phone_nsn"], ie, rng, {"paren": 0.8, "national": 0.1, "spaced": 0.1}),
        "dob": fmt_mixed(c["dob"], ["%m/%d/%Y", "%Y-%m-%d"], [0.8, 0.2], rng),
        "postcode": c["postcode"], "tier": TIERS.gather(tier), "points": pts,
        "joined_on": seconds(rows["joined_at"].to_numpy()).dt.strftime("%Y-%m-%d"),
        "last_updated": seconds(t).dt.strftime("%Y-%m-%d %H:%M:%S"),
    })


# Tax and benefit forms: on paper, scanned, no email or phone. They share
# only a name and an address with the other sources; the first name is often
# an initial or left out and the date of birth often blank, so a form can fit
# several people of one household.
BENEFITS = Profile(nick=0.15, typo=0.05, swap=0.01, ascii=0.5, upper=0.3, lower=0.02, email_missing=1.0,
                   phone_missing=1.0, dob_missing=0.5, abbrev=0.5, pc_variant=0.3, ocr=0.03, phonetic=0.01, suffix=0.0)
FILERS = 0.25  # share of people with a form in the history (new people of a later batch too)
REFILERS = 0.05  # existing people filing again in a later batch
FORM_INITIAL = 0.25  # first name reduced to its initial
FORM_NO_FIRST = 0.1  # first name left blank
FORM_SUFFIX = 0.6  # Jr / Sr written in the suffix box, for people who have one


def benefits(ctx: Ctx, p: pl.DataFrame, rng) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    share = np.where(p["is_new"].to_numpy(), FILERS, REFILERS)
    filers = p.filter(pl.Series(rng.random(p.height) < share))
    rows, _ = explode(filers, 1 + (rng.random(filers.height) < 0.2))  # some file both a tax and a benefit form
    if rows.height == 0:
        return None, None
    m = rows.height
    t = between(rng, rows["lo"].to_numpy(), rows["hi"].to_numpy(), OFFICE)
    c = identity_copy(rows, t, rng, BENEFITS.at(ctx.noise))
    u = rng.random(m)
    initial, blank = noise.at_level(FORM_INITIAL, ctx.noise), noise.at_level(FORM_NO_FIRST, ctx.noise)
    nulls = pl.Series([None] * m, dtype=pl.String)
    first = choose(u < initial, c["first_name"].str.strip_chars().str.slice(0, 1), c["first_name"])
    first = choose((u >= initial) & (u < initial + blank), nulls, first)
    form_id = ctx.decimal_id("benefit_form", "BF-", m, 2, 8)
    df = pl.DataFrame({
        "form_id": form_id, "form_type": pl.Series(["tax", "benefit"]).gather(rng.integers(0, 2, m)),
        "first_name": first, "last_name": c["last_name"],
        "suffix": choose(rng.random(m) < FORM_SUFFIX, suffix_of(rows), nulls),
        "date_of_birth": c["dob"].dt.strftime("%d/%m/%Y"),
        "address_line": c["street"], "postcode": c["postcode"], "city": c["city"],
        "submitted_at": seconds(t).dt.strftime("%Y-%m-%d %H:%M:%S"),
    })
    return df, _truth(form_id, rows)


def _cat(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    frames = [f for f in frames if f is not None and f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else None
