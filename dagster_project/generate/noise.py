"""Record-level noise: typos, case/whitespace variants, phone formats.

Each function takes a Series and returns a new one; edits touch a random
subset only, so clean values stay byte-identical to the person's truth.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def _subset(s: pl.Series, hit: np.ndarray, fn) -> pl.Series:
    """Apply fn to the rows in hit, keep the rest as they are."""
    idx = np.flatnonzero(hit & s.is_not_null().to_numpy())
    if len(idx) == 0:
        return s
    return s.clone().scatter(idx, fn(s.gather(idx), len(idx)))


def typo(s: pl.Series, rng, p: float) -> pl.Series:
    """One keyboard slip (substitute, drop, insert or swap a character), never the first one."""
    hit = rng.random(len(s)) < p
    op = rng.integers(0, 4, len(s))[hit & s.is_not_null().to_numpy()]
    u = rng.random(len(s))[hit & s.is_not_null().to_numpy()]

    def edit(sub: pl.Series, n: int) -> pl.Series:
        ch = pl.Series(np.ascontiguousarray(_LETTERS[rng.integers(0, 26, n)]).view("S1")).cast(pl.String)
        df = pl.DataFrame({"s": sub, "op": op, "u": u, "c": ch})
        v, c = pl.col("s"), pl.col("c")
        size = v.str.len_chars()
        k = (pl.col("u") * (size - 1)).floor().cast(pl.Int64) + 1
        left = v.str.slice(0, k)
        out = (pl.when(size < 3).then(v)
               .when(pl.col("op") == 0).then(left + c + v.str.slice(k + 1))
               .when(pl.col("op") == 1).then(left + v.str.slice(k + 1))
               .when(pl.col("op") == 2).then(left + c + v.str.slice(k))
               .otherwise(left + v.str.slice(k + 1, 1) + v.str.slice(k, 1) + v.str.slice(k + 2)))
        return df.select(out).to_series()

    return _subset(s, hit, edit)


def case_space(s: pl.Series, rng, upper: float, lower: float, space: float) -> pl.Series:
    """'  JOSÉ ', 'josé': how the same value arrives from different forms."""
    u = rng.random(len(s))
    s = _subset(s, u < upper, lambda x, n: x.str.to_uppercase())
    s = _subset(s, (u >= upper) & (u < upper + lower), lambda x, n: x.str.to_lowercase())
    pad = rng.random(len(s)) < space
    return _subset(s, pad, lambda x, n: pl.select(pl.concat_str(pl.lit("  "), x, pl.lit(" "))).to_series())


def capitalise(s: pl.Series, rng, p: float) -> pl.Series:
    """'John.Smith@Gmail.com' style: first letter of the address upper-cased."""
    return _subset(s, rng.random(len(s)) < p,
                   lambda x, n: pl.select(x.str.slice(0, 1).str.to_uppercase() + x.str.slice(1)).to_series())


def blank(s: pl.Series, rng, p: float) -> pl.Series:
    """Missing values: exported as empty fields."""
    hit = rng.random(len(s)) < p
    return s.zip_with(pl.Series(~hit), pl.Series([None] * len(s), dtype=s.dtype))


def choose(mask: np.ndarray, yes: pl.Series, no: pl.Series) -> pl.Series:
    return yes.zip_with(pl.Series(np.asarray(mask, dtype=bool)), no)


# Phone styles: "intl" +44 7700 900123, "national" 07700900123, "spaced" 07700 900123,
# "paren" (07700) 900 123, "intl00" 0044 7700 900123, "e164" +447700900123
PHONE_STYLES = ("intl", "national", "spaced", "paren", "intl00", "e164")


def phone(nsn: pl.Series, ie: np.ndarray, style: str) -> pl.Series:
    """Format national significant numbers (GB/IE) in one of PHONE_STYLES."""
    df = pl.DataFrame({"n": nsn, "ie": np.asarray(ie, dtype=bool)})
    n = pl.col("n")
    cc = pl.when(pl.col("ie")).then(pl.lit("353")).otherwise(pl.lit("44"))
    # area/mobile prefix length: 020 London, 07xxx/01xxx GB, 08x IE mobile, 01 Dublin
    g = (pl.when(pl.col("ie")).then(pl.when(n.str.len_chars() == 9).then(2).otherwise(1))
         .otherwise(pl.when(n.str.starts_with("20")).then(2).otherwise(4)))
    head, rest = n.str.slice(0, g), n.str.slice(g)
    r = rest.str.len_chars()
    split = pl.when(r == 8).then(4).when(r == 7).then(3).otherwise(r)
    rest_sp = pl.when(split < r).then(rest.str.slice(0, split) + " " + rest.str.slice(split)).otherwise(rest)
    rest_paren = pl.when(r == 6).then(rest.str.slice(0, 3) + " " + rest.str.slice(3)).otherwise(rest_sp)
    expr = {
        "intl": "+" + cc + " " + head + " " + rest_sp,
        "national": "0" + n,
        "spaced": "0" + head + " " + rest_sp,
        "paren": "(0" + head + ") " + rest_paren,
        "intl00": "00" + cc + " " + head + " " + rest_sp,
        "e164": "+" + cc + n,
    }[style]
    return df.select(expr).to_series()


def phone_mixed(nsn: pl.Series, ie: np.ndarray, rng, styles: dict[str, float]) -> pl.Series:
    """Each system has a main phone format plus a tail of whatever users typed."""
    names = list(styles)
    p = np.array([styles[k] for k in names], dtype=float)
    pick = rng.choice(len(names), len(nsn), p=p / p.sum())
    out = phone(nsn, ie, names[0])
    for i in range(1, len(names)):
        if (pick == i).any():
            out = choose(pick == i, phone(nsn, ie, names[i]), out)
    return out


def at_level(p: float, level: float) -> float:
    """A corruption rate at noise LEVEL: the chance of escaping it is raised to
    the power LEVEL, so small rates multiply by LEVEL and large ones approach 1."""
    return p if level == 1 else 1.0 - (1.0 - p) ** level


# Scanned forms: characters the OCR reads as their look-alikes.
OCR_PAIRS = (("0", "O"), ("O", "0"), ("o", "0"), ("1", "l"), ("l", "1"), ("I", "1"), ("5", "S"), ("S", "5"),
             ("rn", "m"), ("m", "rn"), ("B", "8"))
# Names written down as they sound.
PHONETIC_PAIRS = (("ph", "f"), ("ck", "k"), ("C", "K"), ("K", "C"), ("ey", "y"), ("ie", "y"), ("y", "ie"),
                  ("th", "t"), ("ee", "ea"), ("ou", "ow"), ("ai", "ay"), ("Mac", "Mc"), ("Mc", "Mac"),
                  ("nn", "n"), ("ll", "l"), ("tt", "t"), ("ss", "s"), ("an", "en"))


def confuse(s: pl.Series, rng, p: float, pairs: tuple) -> pl.Series:
    """Replace, in a share p of values, the first look- or sound-alike found
    (pairs tried in an order drawn per call; values with none stay as they are)."""
    hit = (rng.random(len(s)) < p) & s.is_not_null().to_numpy()
    order = rng.permutation(len(pairs))
    if not hit.any():
        return s
    idx = np.flatnonzero(hit)
    sub = s.gather(idx)
    done = np.zeros(len(idx), dtype=bool)
    for k in order:
        old, new = pairs[k]
        here = ~done & sub.str.contains(old, literal=True).to_numpy()
        if here.any():
            sub = sub.zip_with(pl.Series(~here), sub.str.replace(old, new, literal=True))
            done |= here
    return s.clone().scatter(idx, sub)


def wrong_digit(s: pl.Series, rng, p: float) -> pl.Series:
    """One digit of a digit string keyed wrong (never the first one)."""
    hit = rng.random(len(s)) < p
    u = rng.random(len(s))[hit & s.is_not_null().to_numpy()]

    def edit(sub: pl.Series, n: int) -> pl.Series:
        shift = pl.Series(rng.integers(1, 10, n))
        df = pl.DataFrame({"s": sub, "u": u, "d": shift})
        v = pl.col("s")
        k = (pl.col("u") * (v.str.len_chars() - 1)).floor().cast(pl.Int64) + 1
        old = v.str.slice(k, 1).cast(pl.Int64, strict=False)
        new = ((old + pl.col("d")) % 10).cast(pl.String)
        return df.select(pl.when(old.is_null()).then(v).otherwise(v.str.slice(0, k) + new + v.str.slice(k + 1))).to_series()

    return _subset(s, hit, edit)
