"""A source system's copy of a person's identity, as of the record's time.

The copy is what a form, a cashier or a call-centre agent typed: the
person's true attributes at that moment (old address before a move, new
email after a change) plus the noise typical of that system (Profile).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from . import names, noise
from .noise import choose


@dataclass(frozen=True)
class Profile:
    nick: float = 0.2  # of people who have a nickname (~10% of records overall)
    typo: float = 0.04  # a 1-char edit in the first or last name
    swap: float = 0.02  # first and last name swapped
    upper: float = 0.02
    lower: float = 0.02
    space: float = 0.02
    ascii: float = 0.15  # accents dropped (José -> Jose)
    email_missing: float = 0.05
    email_stale: float = 0.15  # old address still on file after a change
    email_family: float = 0.4  # shared household address used instead
    email_typo: float = 0.008
    email_caps: float = 0.03
    email_upper: float = 0.01
    email_space: float = 0.015
    phone_missing: float = 0.4
    landline: float = 0.4  # home landline given instead of the mobile
    dob_missing: float = 0.2
    dob_swap: float = 0.01  # day and month entered the wrong way round
    addr_missing: float = 0.03
    abbrev: float = 0.3  # "Rd" for "Road"
    street_typo: float = 0.02
    pc_variant: float = 0.1  # "sw1a1aa", "SW1A1AA"
    city_upper: float = 0.03
    ocr: float = 0.002  # a look-alike character (0/O, 1/l, 5/S) in a name, street or postcode
    phonetic: float = 0.004  # a name spelt as it sounds (Stephen -> Stefen)
    phone_digit: float = 0.003  # one digit of the phone number keyed wrong
    dob_transpose: float = 0.005  # two digits of the year or the day transposed (1987 -> 1978)
    suffix: float = 0.15  # Jr / Sr written after the last name, for people who have one

    def at(self, level: float) -> "Profile":
        """This profile at noise LEVEL (1 = as declared): see noise.at_level."""
        if level == 1:
            return self
        return replace(self, **{f: noise.at_level(getattr(self, f), level) for f in NOISY})


# Rates `cdp generate --noise` scales: typos, look-alikes, sound-alikes,
# nicknames, blanks and wrong digits (not formats, case or stale values).
NOISY = ("nick", "typo", "swap", "email_missing", "email_typo", "phone_missing", "dob_missing", "dob_swap",
         "addr_missing", "street_typo", "ocr", "phonetic", "phone_digit", "dob_transpose")


def identity_copy(rows: pl.DataFrame, t: np.ndarray, rng, p: Profile) -> pl.DataFrame:
    first, last = _names(rows, rng, p)
    street, postcode, city_idx = _address(rows, t, rng, p)
    city = noise.case_space(names.CITY_S.gather(city_idx), rng, p.city_upper, 0.0, 0.0)
    gone = rng.random(rows.height) < p.addr_missing
    none = pl.Series([None] * rows.height, dtype=pl.String)
    return pl.DataFrame({
        "first_name": first, "last_name": last,
        "email": _email(rows, t, rng, p), "phone_nsn": _phone(rows, rng, p),
        "dob": _dob(rows, rng, p),
        "street": choose(gone, none, street), "postcode": choose(gone, none, postcode),
        "city": choose(gone, none, city), "region": names.REGION_S.gather(city_idx),
        "ie": rows["ie"],
    })


def _names(rows: pl.DataFrame, rng, p: Profile) -> tuple[pl.Series, pl.Series]:
    n = rows.height
    fi, ni, li = (rows[c].to_numpy() for c in ("first", "nick", "last"))
    idx = np.where((ni >= 0) & (rng.random(n) < p.nick), ni, fi)
    folded = rng.random(n) < p.ascii
    first = names.FIRST_S.gather(idx + folded * len(names.ALL_FIRST))
    last = names.SURNAME_S.gather(li + folded * len(names.SURNAME))
    swap = rng.random(n) < p.swap
    first, last = choose(swap, last, first), choose(swap, first, last)
    first, last = (noise.confuse(noise.confuse(x, rng, p.phonetic, noise.PHONETIC_PAIRS), rng, p.ocr, noise.OCR_PAIRS)
                   for x in (first, last))
    last = with_suffix(rows, last, rng.random(n) < p.suffix)
    first = noise.case_space(noise.typo(first, rng, p.typo / 2), rng, p.upper, p.lower, p.space)
    last = noise.case_space(noise.typo(last, rng, p.typo / 2), rng, p.upper, p.lower, p.space)
    return first, last


SUFFIXES = pl.Series([None, "Jr", "Sr"], dtype=pl.String)


def suffix_of(rows: pl.DataFrame) -> pl.Series:
    """Jr for a son named after his father, Sr for that father, else null."""
    return SUFFIXES.gather(rows["gen"].to_numpy())


def with_suffix(rows: pl.DataFrame, last: pl.Series, written: np.ndarray) -> pl.Series:
    """'Smith Jr': the generational suffix typed into the last name."""
    suffix = suffix_of(rows)
    return choose(written & suffix.is_not_null().to_numpy(), last + " " + suffix, last)


def _email(rows: pl.DataFrame, t: np.ndarray, rng, p: Profile) -> pl.Series:
    n = rows.height
    e2 = rows["email2"]
    changed = (t >= rows["change_at"].to_numpy()) & e2.is_not_null().to_numpy() & (rng.random(n) >= p.email_stale)
    e = choose(changed, e2, rows["email1"])
    fam = rows["family_email"]
    e = choose(fam.is_not_null().to_numpy() & (rng.random(n) < p.email_family), fam, e)
    e = noise.blank(e, rng, p.email_missing)
    e = noise.typo(e, rng, p.email_typo)
    e = noise.capitalise(e, rng, p.email_caps)
    return noise.case_space(e, rng, p.email_upper, 0.0, p.email_space)


def _phone(rows: pl.DataFrame, rng, p: Profile) -> pl.Series:
    land = rows["landline"]
    use_land = land.is_not_null().to_numpy() & (rng.random(rows.height) < p.landline)
    nsn = noise.wrong_digit(choose(use_land, land, rows["mobile"]), rng, p.phone_digit)
    return noise.blank(nsn, rng, p.phone_missing)


def _dob(rows: pl.DataFrame, rng, p: Profile) -> pl.Series:
    d = rows["dob"].cast(pl.Date)
    swap = rng.random(rows.height) < p.dob_swap
    df = pl.DataFrame({"d": d, "swap": swap})
    # only when the day is a valid month, as real swapped entries are
    flipped = pl.date(pl.col("d").dt.year(), pl.col("d").dt.day(), pl.col("d").dt.month())
    out = df.select(pl.when(pl.col("swap") & (pl.col("d").dt.day() <= 12)).then(flipped).otherwise(pl.col("d")))
    out = _transpose_digits(out.to_series(), rng, p.dob_transpose)
    return noise.blank(out, rng, p.dob_missing)


def _transpose_digits(d: pl.Series, rng, p: float) -> pl.Series:
    """1987 -> 1978 or day 12 -> 21, where the result is still a date."""
    n = len(d)
    df = pl.DataFrame({"d": d, "hit": rng.random(n) < p, "year": rng.random(n) < 0.5})
    y, day = pl.col("d").dt.year(), pl.col("d").dt.day()
    year2 = y - y % 100 + (y % 10) * 10 + (y // 10) % 10
    day2 = (day % 10) * 10 + day // 10
    leap_day = (pl.col("d").dt.month() == 2) & (day == 29)  # 29 February may not exist in the other year
    year_ok = pl.col("year") & (year2 <= 2007) & (year2 >= 1920) & ~leap_day
    day_ok = ~pl.col("year") & (day2 >= 1) & (day2 <= 28)
    out = (pl.when(pl.col("hit") & year_ok).then(pl.date(year2, pl.col("d").dt.month(), day))
           .when(pl.col("hit") & day_ok).then(pl.date(y, pl.col("d").dt.month(), day2))
           .otherwise(pl.col("d")))
    return df.select(out).to_series()


def _address(rows: pl.DataFrame, t: np.ndarray, rng, p: Profile):
    n = rows.height
    moved = t >= rows["move_at"].to_numpy()

    def pick(k: str) -> np.ndarray:
        return np.where(moved, rows[f"a1_{k}"].to_numpy(), rows[f"a0_{k}"].to_numpy())

    city, street, stype, house, flat = pick("city"), pick("street"), pick("type"), pick("house"), pick("flat")
    stype = stype + (rng.random(n) < p.abbrev) * len(names.STREET_TYPES)
    df = pl.DataFrame({
        "flat": flat, "house": house,
        "street": names.STREET_S.gather(street), "type": names.STREET_TYPE_S.gather(stype),
    })
    line = df.select(
        pl.when(pl.col("flat") > 0).then(pl.lit("Flat ") + pl.col("flat").cast(pl.String) + ", ").otherwise(pl.lit(""))
        + pl.col("house").cast(pl.String) + " " + pl.col("street") + " " + pl.col("type")
    ).to_series()
    line = noise.confuse(noise.typo(line, rng, p.street_typo), rng, p.ocr, noise.OCR_PAIRS)
    line = noise.case_space(line, rng, p.upper, p.lower / 2, p.space / 2)
    pc = noise.confuse(choose(moved, rows["a1_postcode"], rows["a0_postcode"]), rng, p.ocr, noise.OCR_PAIRS)
    u = rng.random(n)
    pc = noise._subset(pc, u < p.pc_variant * 0.6, lambda x, k: x.str.replace(" ", "", literal=True))
    pc = noise._subset(pc, (u >= p.pc_variant * 0.6) & (u < p.pc_variant), lambda x, k: x.str.to_lowercase())
    return line, pc, city


def postcode_region(rows: pl.DataFrame, t: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """Clean postcode and region at time t (shipping labels are not typed by hand)."""
    moved = t >= rows["move_at"].to_numpy()
    city = np.where(moved, rows["a1_city"].to_numpy(), rows["a0_city"].to_numpy())
    return choose(moved, rows["a1_postcode"], rows["a0_postcode"]), names.REGION_S.gather(city)
