"""Person attributes, regenerated deterministically per chunk of person indices.

Everything about person p depends only on (seed, p // CHUNK): any batch can
rebuild existing people without keeping earlier batches in memory.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import catalog, ids, names
from .timeline import DAY, END, FAR, ONLINE, REF_DAY, START, diurnal

CHUNK = 20_000
_INWARD = np.frombuffer(b"ABDEFGHJLNPQRSTUWXYZ", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_LONDON_LETTERS = np.frombuffer(b"ABCDEFGHJKPSTUVWXY", dtype=np.uint8)
_EIR = np.frombuffer(b"ACDEFHKNPRTVWXY0123456789", dtype=np.uint8)
_LONDON_SUB = {"EC", "WC"}
_LONDON_ANY = {"SW", "W", "E", "N", "NW", "SE"}

_NICK_COUNT = np.array([len(o) for o in names.NICK_OPTIONS])
_NICK_START = np.concatenate([[0], np.cumsum(_NICK_COUNT)[:-1]])
_NICK_FLAT = np.array([i for o in names.NICK_OPTIONS for i in o] + [0])


def _chars(rng, n: int, *alphabets: np.ndarray) -> pl.Series:
    """Random codes, one alphabet per character position."""
    raw = np.stack([a[rng.integers(0, len(a), n)] for a in alphabets], axis=1)
    return pl.Series(np.ascontiguousarray(raw).view(f"S{len(alphabets)}").ravel()).cast(pl.String)


def _gather(s: pl.Series, idx: np.ndarray) -> pl.Series:
    return s.gather(np.asarray(idx, dtype=np.int64))


def _households(rng, n: int):
    """Contiguous groups: ~30% of people live in households of 2-4."""
    size = np.where(rng.random(n) < 0.137, rng.choice([2, 3, 4], size=n, p=[0.5, 0.3, 0.2]), 1)
    ends = np.cumsum(size)
    groups = int(np.searchsorted(ends, n)) + 1
    group = np.repeat(np.arange(groups), size[:groups])[:n]
    gstart = ends[:groups] - size[:groups]
    pos = np.arange(n) - gstart[group]
    hsize = np.minimum(size[group], n - gstart[group])
    return group, gstart, pos, hsize


def _postcodes(rng, city: np.ndarray) -> tuple[np.ndarray, pl.Series]:
    """UK-style ('SW1A 1AA', 'M14 5TQ') or Eircode ('D02 X285') per address."""
    n = len(city)
    area = names.CITY_AREA_START[city] + (rng.random(n) * names.CITY_AREA_COUNT[city]).astype(np.int64)
    district = 1 + (rng.random(n) * np.maximum(names.AREA_MAXD[area], 1)).astype(np.int64)
    area_name = _gather(names.AREA_S, area)
    sub_u = rng.random(n)
    sub = _chars(rng, n, _LONDON_LETTERS)
    inward = _chars(rng, n, _DIGITS, _INWARD, _INWARD)
    eir = _chars(rng, n, _EIR[:15], _EIR, _EIR, _EIR)
    df = pl.DataFrame({"a": area_name, "d": district, "u": sub_u, "s": sub, "i": inward, "e": eir,
                       "ie": names.CITY_IE[city]})
    london_sub = pl.col("a").is_in(list(_LONDON_SUB)) | (
        pl.col("a").is_in(list(_LONDON_ANY)) & (pl.col("d") == 1) & (pl.col("u") < 0.5))
    d = pl.when(pl.col("a").is_in(list(_LONDON_SUB))).then(pl.col("d") % 4 + 1).otherwise(pl.col("d"))
    outward = pl.concat_str(pl.col("a"), d.cast(pl.String), pl.when(london_sub).then(pl.col("s")).otherwise(pl.lit("")))
    pc = df.select(pl.when(pl.col("ie")).then(pl.col("a") + " " + pl.col("e")).otherwise(outward + " " + pl.col("i")))
    return area, pc.to_series()


def _address(rng, ie: np.ndarray) -> dict:
    n = len(ie)
    city = np.where(ie, rng.choice(len(names.CITIES), n, p=names.CITY_P_IE),
                    rng.choice(len(names.CITIES), n, p=names.CITY_P_GB))
    _, pc = _postcodes(rng, city)
    return {
        "city": city,
        "street": rng.integers(0, len(names.STREETS), n),
        "type": rng.choice(len(names.STREET_TYPES), n, p=names.STREET_TYPE_P),
        "house": 1 + np.minimum(rng.geometric(1 / 40, n), 400),
        "flat": np.where(rng.random(n) < 0.12, rng.integers(1, 30, n), 0),
        "postcode": pc,
    }


def _neighbours(rng, a: dict, ie: np.ndarray) -> None:
    """~10% of households live next door to the previous one (same street/postcode)."""
    n = len(ie)
    nb = (rng.random(n) < 0.10) & (np.arange(n) > 0)
    nb[1:] &= ie[1:] == ie[:-1]
    src = np.where(nb, np.arange(n) - 1, np.arange(n))
    for k in ("city", "street", "type"):
        a[k] = a[k][src]
    a["house"] = np.where(nb, a["house"][src] + rng.choice([2, 4, 1], n), a["house"])
    a["postcode"] = _gather(a["postcode"], src)


def _moved_address(rng, a: dict, ie: np.ndarray) -> dict:
    """Where a household moves to: same city 60% of the time."""
    b = _address(rng, ie)
    keep_city = rng.random(len(ie)) < 0.6
    same_city = _postcodes(rng, a["city"])[1]
    b["postcode"] = b["postcode"].zip_with(pl.Series(~keep_city), same_city)
    b["city"] = np.where(keep_city, a["city"], b["city"])
    return b


def _uniform_between(rng, lo, hi) -> np.ndarray:
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo + 1)
    return lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)


def _ages(rng, pos: np.ndarray, head_of: np.ndarray) -> np.ndarray:
    """Head of household 18-85; partner close in age; others children or adults."""
    n = len(pos)
    head = 18 + rng.beta(2.0, 3.2, n) * 67
    age = head[head_of].copy()
    partner = np.clip(age + rng.normal(0, 4, n), 18, 95)
    child = rng.uniform(16, 26, n)
    other = np.clip(age + rng.normal(0, 8, n), 18, 95)
    age = np.where(pos == 1, partner, age)
    more = pos >= 2
    age = np.where(more & (age >= 42) & (rng.random(n) < 0.6), child, np.where(more, other, age))
    return age


def _names(rng, ie: np.ndarray, pos: np.ndarray, head_of: np.ndarray) -> dict:
    n = len(ie)
    female = rng.random(n) < 0.52
    female = np.where(pos == 1, ~female[head_of] ^ (rng.random(n) < 0.15), female)
    f_gb = rng.choice(names.N_FEMALE, n, p=names.FEMALE_P[0])
    f_ie = rng.choice(names.N_FEMALE, n, p=names.FEMALE_P[1])
    m_gb = names.N_FEMALE + rng.choice(len(names.MALE), n, p=names.MALE_P[0])
    m_ie = names.N_FEMALE + rng.choice(len(names.MALE), n, p=names.MALE_P[1])
    first = np.where(female, np.where(ie, f_ie, f_gb), np.where(ie, m_ie, m_gb))
    own = np.where(ie, rng.choice(len(names.SURNAME), n, p=names.SURNAME_P[1]),
                   rng.choice(len(names.SURNAME), n, p=names.SURNAME_P[0]))
    share = (pos == 0) | (rng.random(n) < 0.75)
    last = np.where(share, own[head_of], own)
    cnt = _NICK_COUNT[first]
    which = _NICK_START[first] + (rng.random(n) * cnt).astype(np.int64)
    nick = np.where(cnt > 0, names.NICK_BASE + _NICK_FLAT[which], -1)
    return {"first": first, "nick": nick, "last": last, "female": female}


# Hard cases for identity resolution, drawn from their own stream so the
# other person attributes keep their draws.
TWIN_SHARE = 0.15  # of third and later household members: twin of the member before
JUNIOR_SHARE = 0.8  # of grown-up sons of a male head sharing his surname: named after him
STRANGER_SHARE = 0.03  # of people living alone: same full name as someone of their city


def _nick_of(rng, first: np.ndarray) -> np.ndarray:
    cnt = _NICK_COUNT[first]
    which = _NICK_START[first] + (rng.random(len(first)) * cnt).astype(np.int64)
    return np.where(cnt > 0, names.NICK_BASE + _NICK_FLAT[which], -1)


def _twins(rng, nm: dict, dob: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Twins: same surname, date of birth and home as the member before, another first name."""
    twin = (pos >= 2) & (rng.random(len(pos)) < TWIN_SHARE)
    for k in (2, 3):  # in order, so triplets copy a copy
        i = np.flatnonzero(twin & (pos == k))
        dob[i], nm["last"][i] = dob[i - 1], nm["last"][i - 1]
        same = i[nm["first"][i] == nm["first"][i - 1]]
        span = np.where(nm["female"][same], names.N_FEMALE, len(names.MALE))
        base = np.where(nm["female"][same], 0, names.N_FEMALE)
        nm["first"][same] = base + (nm["first"][same] - base + 1) % span
        nm["nick"][same] = _nick_of(rng, nm["first"][same])
    has_twin = twin.copy()
    has_twin[np.flatnonzero(twin) - 1] = True
    return has_twin


def _juniors(rng, nm: dict, dob: np.ndarray, pos: np.ndarray, head: np.ndarray, has_twin: np.ndarray) -> np.ndarray:
    """A son with his father's first and last name: 0 none, 1 junior, 2 senior."""
    male = ~nm["female"]
    son = (pos >= 2) & male & male[head] & (nm["last"] == nm["last"][head]) & ~has_twin
    son &= dob - dob[head] >= 18 * 365
    junior = son & (rng.random(len(pos)) < JUNIOR_SHARE)
    nm["first"][junior], nm["nick"][junior] = nm["first"][head[junior]], nm["nick"][head[junior]]
    gen = junior.astype(np.int8)
    gen[head[junior]] = 2
    return gen


def _strangers(rng, nm: dict, city: np.ndarray, hsize: np.ndarray) -> np.ndarray:
    """Some people living alone share the full name of another person of their city and sex."""
    order = np.lexsort((np.arange(len(city)), nm["female"], city))
    prev = np.empty_like(order)
    prev[order[1:]] = order[:-1]
    prev[order[0]] = order[0]
    alike = (city[prev] == city) & (nm["female"][prev] == nm["female"]) & (prev != np.arange(len(city)))
    chosen = (hsize == 1) & alike & (rng.random(len(city)) < STRANGER_SHARE)
    pick = np.flatnonzero(chosen & ~chosen[prev])  # copy names that stay as they are
    for k in ("first", "nick", "last"):
        nm[k][pick] = nm[k][prev[pick]]
    namesake = np.zeros(len(city), dtype=bool)
    namesake[pick] = True
    return namesake


_PATTERNS = 13


def _local_part(p: pl.Expr) -> pl.Expr:
    """Email local parts people pick, from their name, birth year or a random word."""
    f, nk, l, yy, y4, r2, r3, w = (pl.col(c) for c in ("f", "nk", "l", "yy", "y4", "r2", "r3", "w"))
    f0 = f.str.slice(0, 1)
    forms = [f + "." + l, f + l, f0 + l, f + "." + l + yy, f + l + r2, f + "_" + l, l + "." + f,
             f + y4, f0 + "." + l + r3, nk + "." + l, w + r2, f + "." + l + "." + r2, l + f0 + r2]
    expr = pl.when(p == 0).then(forms[0])
    for i in range(1, _PATTERNS):
        expr = expr.when(p == i).then(forms[i])
    return expr.otherwise(forms[0])


def _emails(rng, nm: dict, dob: np.ndarray, ie: np.ndarray, has2: np.ndarray,
            fam_key: dict) -> pl.DataFrame:
    n = len(ie)
    year = (1970 + dob / 365.25).astype(np.int64)
    first = names.FIRST_KEY_S
    df = pl.DataFrame({
        "f": _gather(first, nm["first"]),
        "nk": _gather(first, np.where(nm["nick"] >= 0, nm["nick"], nm["first"])),
        "l": _gather(names.SURNAME_KEY_S, nm["last"]),
        "yy": ids.dec_series(year % 100, 2), "y4": ids.dec_series(year, 4),
        "r2": ids.dec_series(rng.integers(1, 100, n), 2), "r3": ids.dec_series(rng.integers(100, 1000, n), 3),
        "w": _gather(names.WORD_S, rng.integers(0, len(names.NAME_WORDS), n)),
        "p1": rng.choice(_PATTERNS, n, p=_PATTERN_P), "p2": rng.choice(_PATTERNS, n, p=_PATTERN_P),
        "d1": _domains(rng, ie), "d2": _domains(rng, ie), "keep_local": rng.random(n) < 0.3, "has2": has2,
        **fam_key,
    })
    # the second address differs: a new pattern, or the same handle at a new provider
    p2 = pl.when(pl.col("p2") == pl.col("p1")).then((pl.col("p1") + 1) % _PATTERNS).otherwise(pl.col("p2"))
    local2 = pl.when(pl.col("keep_local")).then(_local_part(pl.col("p1"))).otherwise(_local_part(p2))
    same = pl.col("keep_local") & (pl.col("d1") == pl.col("d2"))
    d2 = pl.when(same).then(pl.lit("outlook.com")).otherwise(pl.col("d2"))
    fl = pl.col("fam_l")
    fam_local = pl.when(pl.col("fam_p") == 0).then("the" + fl + "s").when(pl.col("fam_p") == 1).then(fl + "family") \
        .when(pl.col("fam_p") == 2).then(fl + pl.col("fam_house").cast(pl.String)) \
        .when(pl.col("fam_p") == 3).then(pl.col("fam_f1") + "and" + pl.col("fam_f2")).otherwise(fl + ".home")
    return df.select(
        email1=_local_part(pl.col("p1")) + "@" + pl.col("d1"),
        email2=pl.when(pl.col("has2")).then(local2 + "@" + d2),
        family=pl.when(pl.col("fam_on")).then(fam_local + "@" + pl.col("fam_dom")),
    )


_PATTERN_P = np.array([22, 12, 10, 8, 10, 5, 4, 5, 5, 5, 6, 4, 4], dtype=float)
_PATTERN_P /= _PATTERN_P.sum()


def _domains(rng, ie: np.ndarray) -> pl.Series:
    n = len(ie)
    gb = _gather(names.DOMAINS_GB_S, rng.choice(len(names.DOMAINS_GB_S), n, p=names.DOMAINS_GB_P))
    irl = _gather(names.DOMAINS_IE_S, rng.choice(len(names.DOMAINS_IE_S), n, p=names.DOMAINS_IE_P))
    return gb.zip_with(pl.Series(~ie), irl)


def _phones(key: int, pidx: np.ndarray, hh: np.ndarray, ie: np.ndarray, london: np.ndarray, has_land: np.ndarray):
    """National significant numbers, unique per person (mobile) or household (landline)."""
    mob_gb = 7_100_000_000 + ids.permute(pidx, 900_000_000, ids.key_of(key, 1)).astype(np.int64)
    mob_ie = 830_000_000 + ids.permute(pidx, 70_000_000, ids.key_of(key, 2)).astype(np.int64)
    land_ldn = 2_000_000_000 + ids.permute(hh, 100_000_000, ids.key_of(key, 3)).astype(np.int64)
    land_gb = 1_100_000_000 + ids.permute(hh, 900_000_000, ids.key_of(key, 4)).astype(np.int64)
    land_ie = 10_000_000 + ids.permute(hh, 9_000_000, ids.key_of(key, 5)).astype(np.int64)
    mobile = pl.Series(np.where(ie, mob_ie, mob_gb)).cast(pl.String)
    land = np.where(ie, land_ie, np.where(london, land_ldn, land_gb))
    none = pl.Series([None] * len(land), dtype=pl.String)
    landline = pl.Series(land).cast(pl.String).zip_with(pl.Series(has_land), none)
    return mobile, landline


def _per_person(prefix: str, addr: dict, group: np.ndarray) -> dict:
    return {prefix + k: (_gather(v, group) if isinstance(v, pl.Series) else v[group]) for k, v in addr.items()}


def person_chunk(seed: int, chunk: int, registry: "EmailRegistry") -> pl.DataFrame:
    """Attributes of persons [chunk*CHUNK, (chunk+1)*CHUNK); the draw order is fixed."""
    rng = np.random.default_rng([seed, 0x9E0, chunk])
    key = ids.key_of(seed, 0x9E0)
    n = CHUNK
    pidx = chunk * n + np.arange(n)
    group, gstart, pos, hsize = _households(rng, n)
    head = gstart[group]
    hh = chunk * n + head
    g_ie = rng.random(n) < 0.10  # group-level arrays are indexed by household number
    ie = g_ie[group]
    nm = _names(rng, ie, pos, head)
    dob = (REF_DAY - _ages(rng, pos, head) * 365.25 - rng.integers(0, 365, n)).astype(np.int32)

    a0 = _address(rng, g_ie)
    _neighbours(rng, a0, g_ie)
    a1 = _moved_address(rng, a0, g_ie)
    hard = np.random.default_rng([seed, 0x4A2D, chunk])
    twin = _twins(hard, nm, dob, pos)
    gen = _juniors(hard, nm, dob, pos, head, twin)
    namesake = _strangers(hard, nm, a0["city"][group], hsize)
    mu = rng.random(n)
    move_at = np.where(mu < 0.15, _uniform_between(rng, np.full(n, START + 60 * DAY), END - 30 * DAY),
                       np.where(mu < 0.18, _uniform_between(rng, np.full(n, END), END + 180 * DAY), FAR))

    eng = rng.lognormal(-0.245, 0.7, n)
    since = START + (rng.beta(0.6, 1.4, n) * (END - 14 * DAY - START)).astype(np.int64)
    churn = np.where(rng.random(n) < 0.3, _uniform_between(rng, since + 60 * DAY, END + 180 * DAY), FAR)
    n_crm = rng.choice(3, n, p=[0.3, 0.6, 0.1])
    n_acc = rng.choice(3, n, p=[0.5, 0.4, 0.1])
    has2 = (rng.random(n) < 0.3) | (n_acc == 2)
    change_at = np.where(rng.random(n) < 0.8, _uniform_between(rng, since + 30 * DAY, END),
                         _uniform_between(rng, np.full(n, END), END + 180 * DAY))
    # two accounts: the second was opened after the email change, inside the history
    early = _uniform_between(rng, np.minimum(since + 45 * DAY, END - 10 * DAY), END - 7 * DAY)
    change_at = np.where(n_acc == 2, early, change_at)
    change_at = np.where(has2, change_at, FAR)
    acc1 = np.where(n_acc == 2, _uniform_between(rng, since, change_at), _uniform_between(rng, since, END - DAY))
    acc2 = np.where(n_acc == 2, np.minimum(change_at + rng.integers(0, 14 * DAY, n), END - 1), FAR)
    acc1 = diurnal(rng, acc1, ONLINE, since, END)
    acc2 = np.where(n_acc == 2, diurnal(rng, acc2, ONLINE, change_at, END), FAR)
    member = rng.random(n) < np.clip(0.38 + 0.12 * eng, 0, 0.85)
    # most members sign up early in their relationship (so most receipts carry the card)
    joined = since + (rng.beta(0.6, 2.5, n) * (END - DAY - since)).astype(np.int64)
    n_dev = np.where(n_acc > 0, rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15]),
                     np.where(rng.random(n) < 0.3, rng.choice([1, 2], n, p=[0.75, 0.25]), 0))
    pref_cat = rng.integers(0, len(catalog.CATEGORIES), n)
    city0 = a0["city"][group]
    store_pick = (rng.random(n) * catalog.CITY_STORE_COUNT[city0]).astype(np.int64)
    home_store = catalog.CITY_STORES[catalog.CITY_STORE_START[city0] + store_pick]

    has_land = rng.random(n)[group] < np.where(hsize >= 2, 0.35, 0.15)  # one draw per household
    fam_on = (rng.random(n) < 0.25)[group] & (hsize >= 2)
    fam_p = rng.integers(0, 5, n)[group]
    fam_dom = _gather(names.FAMILY_DOMAINS_S, np.where(ie, rng.choice([2, 5], n), rng.integers(0, 5, n))[group])
    second = np.minimum(head + 1, n - 1)
    fam_key = {
        "fam_on": fam_on, "fam_p": fam_p, "fam_dom": fam_dom, "fam_house": a0["house"][group],
        "fam_l": _gather(names.SURNAME_KEY_S, nm["last"][head]),
        "fam_f1": _gather(names.FIRST_KEY_S, nm["first"][head]),
        "fam_f2": _gather(names.FIRST_KEY_S, nm["first"][second]),
    }
    em = _emails(rng, nm, dob, ie, has2, fam_key)
    em = registry.claim(em, pidx, hh, pos)
    mobile, landline = _phones(key, pidx, hh, ie, names.CITIES_LONDON[city0], has_land)

    out = pl.DataFrame({
        "pidx": pidx, "hh": hh, "hh_pos": pos, "hh_size": hsize, "ie": ie,
        "first": nm["first"], "nick": nm["nick"], "last": nm["last"], "dob": dob,
        "twin": twin, "gen": gen, "namesake": namesake,
        **_per_person("a0_", a0, group), **_per_person("a1_", a1, group), "move_at": move_at[group],
        "email1": em["email1"], "email2": em["email2"], "family_email": em["family"], "change_at": change_at,
        "mobile": mobile, "landline": landline,
        "eng": eng, "since": since, "churn_at": churn,
        "n_crm": n_crm, "n_acc": n_acc, "acc1_at": acc1, "acc2_at": acc2,
        "member": member, "joined_at": joined, "n_dev": n_dev,
        "pref_cat": pref_cat, "home_store": home_store,
    })
    return out.with_columns(person_id=pl.lit("T") + pl.col("pidx").add(1).cast(pl.String).str.zfill(7))


class EmailRegistry:
    """Keeps email addresses unique across people, first come first served.

    Providers refuse a taken address, so a later person who wants
    john.smith@gmail.com gets digits appended. Earlier people never change, so
    adding people in later batches leaves existing addresses as they were.
    """

    def __init__(self, seed: int):
        self.key = ids.key_of(seed, 0xE3A1)
        self.seen: list[np.ndarray] = []

    def _known(self, h: np.ndarray) -> np.ndarray:
        found = np.zeros(len(h), dtype=bool)
        for s in self.seen:
            i = np.minimum(np.searchsorted(s, h), len(s) - 1)
            found |= s[i] == h
        return found

    def _remember(self, h: np.ndarray) -> None:
        self.seen.append(np.unique(h))
        if len(self.seen) > 8:
            self.seen = [np.unique(np.concatenate(self.seen))]

    def claim(self, em: pl.DataFrame, pidx: np.ndarray, hh: np.ndarray, pos: np.ndarray) -> pl.DataFrame:
        n = len(pidx)
        # one row per (owner, address); family addresses are claimed once per household
        fam_rows = np.flatnonzero(pos == 0)
        cand = pl.concat([em["email1"], em["email2"], em["family"].gather(fam_rows)])
        owner = np.concatenate([pidx * 2, pidx * 2 + 1, -1 - hh[fam_rows]])
        order = np.concatenate([np.arange(n) * 3, np.arange(n) * 3 + 1, fam_rows * 3 + 2])
        resolved = self._resolve(cand, owner, order)
        # every member gets the address their household head claimed
        household = np.searchsorted(fam_rows, np.arange(n), side="right") - 1
        family = resolved[2 * n:].gather(household)
        return pl.DataFrame({"email1": resolved[:n], "email2": resolved[n:2 * n], "family": family})

    def _resolve(self, cand: pl.Series, owner: np.ndarray, order: np.ndarray) -> pl.Series:
        valid = cand.is_not_null().to_numpy()
        cur = cand
        attempt = np.zeros(len(cand), dtype=np.int64)
        rank = np.argsort(np.argsort(order, kind="stable"), kind="stable")
        for _ in range(20):
            h = cur.hash(seed=7).to_numpy()
            df = pl.DataFrame({"h": h, "r": rank, "o": owner}).filter(pl.Series(valid))
            winner = df.sort("r").group_by("h", maintain_order=True).agg(pl.col("o").first().alias("w"))
            w = pl.DataFrame({"h": h}).join(winner, on="h", how="left", maintain_order="left")["w"].to_numpy()
            lose = valid & ((w != owner) | self._known(h))
            if not lose.any():
                break
            attempt[lose] += 1
            cur = cur.zip_with(pl.Series(~lose), _with_digits(cand, ids.hash64(self.key, owner, attempt)))
        self._remember(cur.hash(seed=7).to_numpy()[valid])
        return cur


def _with_digits(email: pl.Series, h: np.ndarray) -> pl.Series:
    """john.smith@x -> john.smith47@x (2-4 digits from a per-owner hash)."""
    digits = pl.Series((h % np.uint64(9990) + np.uint64(10)).astype(np.int64)).cast(pl.String)
    parts = email.str.split_exact("@", 1).struct.unnest().with_columns(d=digits)
    return parts.select(pl.concat_str("field_0", "d", pl.lit("@"), "field_1")).to_series()
