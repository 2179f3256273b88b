"""Synthetic identity records with ground truth, for testing and benchmarking the Splink model.

Self-contained (no landing files, no dbt): it writes the shape of
`intermediate.int_identity__records` directly. The hard cases are deliberate:
nicknames, typos, swapped names, day/month swaps, moves, households sharing
an address, surname, landline and sometimes an email (different first names
and dates of birth), neighbours in the same postcode, and different people
with the same common name.
"""

from __future__ import annotations

import numpy as np
import polars as pl

FEMALE = [
    ("Sarah", 30), ("Emma", 28), ("Laura", 22), ("Claire", 22), ("Rebecca", 18), ("Emily", 18),
    ("Charlotte", 18), ("Jessica", 16), ("Hannah", 16), ("Sophie", 16), ("Lucy", 15), ("Amy", 15),
    ("Elizabeth", 15), ("Catherine", 12), ("Margaret", 12), ("Susan", 14), ("Helen", 14), ("Karen", 12),
    ("Julie", 12), ("Nicola", 12), ("Rachel", 12), ("Victoria", 12), ("Jennifer", 10), ("Patricia", 8),
    ("Deborah", 8), ("Samantha", 10), ("Olivia", 12), ("Amelia", 10), ("Grace", 10), ("Chloe", 14),
    ("Zoë", 3), ("Mia", 8), ("Ella", 8), ("Anna", 8), ("Joanne", 9), ("Lisa", 10), ("Michelle", 9),
    ("Louise", 10), ("Mary", 10), ("Anne", 8), ("Jane", 8), ("Alison", 7), ("Christine", 7),
    ("Dorothy", 4), ("Barbara", 5), ("Alexandra", 6), ("Jacqueline", 6), ("Abigail", 6),
    ("Eleanor", 6), ("Megan", 7), ("Fiona", 5), ("Aoife", 3), ("Niamh", 3), ("Siobhán", 2),
    ("Saoirse", 2), ("Róisín", 1), ("Sinéad", 2), ("Ciara", 2), ("Bridget", 2), ("Teresa", 3),
]
MALE = [
    ("David", 30), ("John", 28), ("Michael", 25), ("James", 28), ("Paul", 18), ("Robert", 18),
    ("Mark", 18), ("Andrew", 18), ("Richard", 16), ("Peter", 14), ("Daniel", 18), ("Thomas", 18),
    ("Christopher", 16), ("Stephen", 14), ("William", 16), ("Matthew", 14), ("Anthony", 10),
    ("Joseph", 10), ("Jonathan", 9), ("Benjamin", 10), ("Samuel", 10), ("Oliver", 14), ("George", 12),
    ("Alexander", 9), ("Edward", 9), ("Nicholas", 8), ("Timothy", 6), ("Kenneth", 5), ("Ronald", 4),
    ("Frederick", 3), ("Henry", 6), ("Patrick", 8), ("Philip", 6), ("Gerard", 4), ("Francis", 4),
    ("Terence", 3), ("Declan", 3), ("Desmond", 2), ("Liam", 8), ("Seán", 5), ("Ciarán", 3),
    ("Eoin", 3), ("Gareth", 4), ("Craig", 5), ("Simon", 8), ("Ian", 8), ("Gary", 7), ("Kevin", 8),
    ("Lee", 5), ("Ryan", 8), ("Adam", 9), ("Luke", 8), ("Jake", 6), ("Connor", 6), ("José", 1),
]
NICKNAMES = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty"], "Margaret": ["Peggy", "Maggie", "Meg"],
    "Richard": ["Rick", "Dick", "Richie"], "James": ["Jim", "Jimmy", "Jamie"], "John": ["Johnny", "Jack"],
    "Michael": ["Mike", "Mick"], "David": ["Dave", "Davy"], "Christopher": ["Chris"], "Stephen": ["Steve"],
    "Andrew": ["Andy", "Drew"], "Anthony": ["Tony"], "Thomas": ["Tom", "Tommy"], "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"], "Joseph": ["Joe", "Joey"], "Jonathan": ["Jon", "Jonny"], "Benjamin": ["Ben"],
    "Samuel": ["Sam", "Sammy"], "Alexander": ["Alex", "Sandy"], "Edward": ["Ed", "Eddie", "Ted"],
    "Nicholas": ["Nick"], "Peter": ["Pete"], "Timothy": ["Tim"], "Kenneth": ["Ken", "Kenny"],
    "Ronald": ["Ron", "Ronnie"], "Frederick": ["Fred", "Freddie"], "Henry": ["Harry", "Hal"],
    "Patrick": ["Pat", "Paddy"], "Philip": ["Phil"], "Gerard": ["Gerry", "Ger"], "Francis": ["Frank"],
    "Terence": ["Terry"], "Catherine": ["Cathy", "Kate", "Katie"], "Jennifer": ["Jen", "Jenny"],
    "Patricia": ["Trish", "Patsy"], "Deborah": ["Debbie", "Deb"], "Victoria": ["Vicky", "Tori"],
    "Rebecca": ["Becky", "Becca"], "Jessica": ["Jess", "Jessie"], "Abigail": ["Abby", "Abi"],
    "Eleanor": ["Ellie", "Nell"], "Susan": ["Sue", "Susie"], "Christine": ["Chrissie"],
    "Jacqueline": ["Jackie"], "Dorothy": ["Dot", "Dottie"], "Barbara": ["Barb", "Babs"],
    "Nicola": ["Nicky"], "Joanne": ["Jo"], "Charlotte": ["Lottie"], "Amelia": ["Millie"],
    "Mary": ["Molly", "Mae"], "Bridget": ["Bridie"], "Declan": ["Dec"], "Desmond": ["Des", "Dessie"],
    "Sarah": ["Sally"], "Teresa": ["Tess", "Terri"],
}
SURNAMES = [
    ("Smith", 120), ("Jones", 80), ("Williams", 60), ("Taylor", 55), ("Brown", 52), ("Davies", 45),
    ("Evans", 38), ("Wilson", 38), ("Thomas", 35), ("Johnson", 32), ("Roberts", 32), ("Robinson", 28),
    ("Thompson", 28), ("Wright", 28), ("Walker", 27), ("White", 26), ("Edwards", 25), ("Hughes", 25),
    ("Green", 24), ("Hall", 24), ("Lewis", 23), ("Harris", 23), ("Clarke", 22), ("Patel", 22),
    ("Jackson", 21), ("Wood", 20), ("Turner", 20), ("Martin", 20), ("Cooper", 19), ("Hill", 19),
    ("Ward", 18), ("Morris", 18), ("Moore", 18), ("Clark", 17), ("Lee", 17), ("King", 17),
    ("Baker", 16), ("Harrison", 16), ("Morgan", 16), ("Allen", 15), ("James", 15), ("Scott", 15),
    ("Phillips", 14), ("Watson", 14), ("Davis", 14), ("Parker", 13), ("Price", 13), ("Bennett", 13),
    ("Young", 13), ("Griffiths", 12), ("Mitchell", 12), ("Kelly", 12), ("Cook", 12), ("Carter", 12),
    ("Richardson", 11), ("Bailey", 11), ("Collins", 11), ("Bell", 11), ("Shaw", 11), ("Murphy", 14),
    ("O'Brien", 10), ("O'Sullivan", 8), ("Walsh", 9), ("Byrne", 9), ("Ryan", 9), ("O'Connor", 8),
    ("McCarthy", 7), ("Doyle", 7), ("Kennedy", 7), ("Lynch", 7), ("Murray", 7), ("Quinn", 6),
    ("Moore-Gibson", 1), ("Smith-Jones", 1), ("Nowak", 3), ("Kowalski", 3), ("Ó Briain", 1),
    ("Khan", 8), ("Ali", 7), ("Singh", 7), ("Begum", 5), ("Hussain", 5), ("García", 2), ("Müller", 1),
]
_SYLLABLE_START = [
    "ash", "brad", "brook", "cal", "craw", "dal", "ed", "fair", "good", "hal", "hart", "kings", "lang",
    "mar", "mill", "new", "north", "pen", "rad", "red", "ross", "south", "stan", "sut", "thorn", "tow",
    "wal", "west", "whit", "wood", "york", "bar", "bur", "carl", "dun", "els", "farn", "glen", "hol", "lin",
]
_SYLLABLE_END = [
    "ford", "ley", "ton", "wood", "field", "worth", "by", "ham", "well", "more", "son", "er", "ell",
    "ing", "ridge", "stone", "dale", "wick", "ock", "bury", "combe", "hurst", "mere", "land", "gate",
]
TAIL = [(a + b).capitalize() for a in _SYLLABLE_START for b in _SYLLABLE_END]
STREET_TYPES = [("Road", "Rd"), ("Street", "St"), ("Lane", "Ln"), ("Avenue", "Ave"), ("Close", "Cl"),
                ("Drive", "Dr"), ("Crescent", "Cres"), ("Gardens", "Gdns"), ("Grove", "Gr"), ("Place", "Pl")]
STREET_NAMES = ["High", "Station", "Church", "Park", "Victoria", "Green", "Manor", "Kings", "Queens", "Mill",
                "School", "North", "South", "London", "Albert", "Main", "New", "Chapel", "Bridge", "Market"] + TAIL
# city, region, country, postcode areas (UK) or routing keys (IE), weight
CITIES = [
    ("London", "London", "GB", ["E", "N", "NW", "SE", "SW", "W"], 30), ("Birmingham", "West Midlands", "GB", ["B"], 8),
    ("Manchester", "North West", "GB", ["M"], 7), ("Leeds", "Yorkshire", "GB", ["LS"], 5),
    ("Glasgow", "Scotland", "GB", ["G"], 5), ("Liverpool", "North West", "GB", ["L"], 4),
    ("Bristol", "South West", "GB", ["BS"], 4), ("Edinburgh", "Scotland", "GB", ["EH"], 4),
    ("Cardiff", "Wales", "GB", ["CF"], 3), ("Nottingham", "East Midlands", "GB", ["NG"], 3),
    ("Newcastle upon Tyne", "North East", "GB", ["NE"], 3), ("Belfast", "Northern Ireland", "GB", ["BT"], 3),
    ("Brighton", "South East", "GB", ["BN"], 2), ("Reading", "South East", "GB", ["RG"], 2),
    ("Dublin", "Dublin", "IE", ["D01", "D02", "D04", "D06", "D08", "D12", "D15", "D24"], 6),
    ("Cork", "Cork", "IE", ["T12", "T23"], 2), ("Galway", "Galway", "IE", ["H91"], 1),
]
DOMAINS = ["gmail.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com", "icloud.com", "btinternet.com", "eircom.net"]
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
EIR_CHARS = np.array(list("ACDEFHKNPRTVWXY0123456789"))

# source: probability a person has one, extra copies (Poisson mean), then per field the chance it is filled
SOURCES = {
    "crm": (0.5, 0.05, dict(name=1.0, email=0.9, phone=0.6, dob=0.7, address=0.95, postcode=0.95, city=0.9)),
    "ecommerce": (0.5, 0.05, dict(name=1.0, email=1.0, phone=0.5, dob=0.2, address=0.95, postcode=0.95, city=0.95)),
    "loyalty": (0.35, 0.0, dict(name=1.0, email=0.85, phone=0.3, dob=0.85, address=0.3, postcode=0.8, city=0.3)),
    "service": (0.2, 0.2, dict(name=0.9, email=0.8, phone=0.8, address=0.2, postcode=0.3)),
    "pos": (0.5, 0.8, dict(name=0.2, loyalty=0.8)),
    "web": (0.4, 0.3, dict(device=1.0)),
    "consent": (0.5, 0.3, dict(email=1.0, name=0.1)),
}


def _weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _people(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """One row per person; households share surname, address, landline and maybe an email."""
    size = np.where(rng.random(n) < 0.14, rng.choice([2, 3, 4], size=n, p=[0.5, 0.3, 0.2]), 1)
    household = np.repeat(np.arange(n), size)[:n]
    pos = np.arange(n) - np.searchsorted(household, household)  # position within household
    n_households = int(household.max()) + 1

    female = rng.random(n) < 0.5
    f_w = np.array([w for _, w in FEMALE], float)
    m_w = np.array([w for _, w in MALE], float)
    first = np.where(female, [FEMALE[i][0] for i in _weighted(rng, f_w, n)], [MALE[i][0] for i in _weighted(rng, m_w, n)])
    surnames = [s for s, _ in SURNAMES] + TAIL
    s_w = np.concatenate([[w * 40 for _, w in SURNAMES], np.full(len(TAIL), 4.0)])
    hh_surname = np.array(surnames)[_weighted(rng, s_w, n_households)]
    own_surname = np.array(surnames)[_weighted(rng, s_w, n)]
    last = np.where((pos == 0) | (rng.random(n) < 0.9), hh_surname[household], own_surname)
    # 1% share the full name of an unrelated person: same name, different people.
    twin = rng.random(n) < 0.01
    other = rng.integers(0, n, n)
    first = np.where(twin, first[other], first)
    last = np.where(twin, last[other], last)

    # Dates of birth: heads 1940-1995; partners within 6 years; children 20-40 years younger.
    head_dob = rng.integers(-10957, 9131, n_households)  # days since 1970
    offset = np.where(pos == 1, rng.integers(-2200, 2200, n), rng.integers(7300, 14600, n))
    dob = np.where(pos == 0, head_dob[household], head_dob[household] + np.where(pos == 0, 0, offset))
    dob = np.minimum(dob, 13000)

    # Postcodes are shared by ~8 households (neighbours); each has one or two streets.
    city_w = np.array([c[4] for c in CITIES], float)
    n_postcodes = max(n_households // 8, 1)
    pc_city = _weighted(rng, city_w, n_postcodes)
    pc_area = np.array([rng.choice(CITIES[c][3]) for c in pc_city])
    is_ie = np.array([CITIES[c][2] == "IE" for c in pc_city])
    district = rng.integers(1, 30, n_postcodes).astype(str)
    inward = (rng.integers(0, 10, n_postcodes).astype(str).astype(object)
              + INWARD_LETTERS[rng.integers(0, 20, n_postcodes)] + INWARD_LETTERS[rng.integers(0, 20, n_postcodes)])
    uk_pc = pc_area.astype(object) + district.astype(object) + " " + inward
    pc_street = rng.integers(0, len(STREET_NAMES), (n_postcodes, 2))
    pc_type = rng.integers(0, len(STREET_TYPES), (n_postcodes, 2))

    def address(k: int):
        pc = rng.integers(0, n_postcodes, k)
        which = rng.integers(0, 2, k)
        eir = ["".join(x) for x in EIR_CHARS[rng.integers(0, len(EIR_CHARS), (k, 4))]]
        postcode = np.where(is_ie[pc], pc_area[pc].astype(object) + " " + np.array(eir, dtype=object), uk_pc[pc])
        house = np.minimum(rng.geometric(1 / 30, k), 300)
        flat = np.where(rng.random(k) < 0.1, rng.integers(1, 20, k), 0)
        return dict(pc=postcode, city=pc_city[pc], street=pc_street[pc, which], stype=pc_type[pc, which],
                    house=house, flat=flat)

    home = address(n_households)
    old = address(n)  # previous address for people who moved
    moved = rng.random(n) < 0.15

    mobile = "+447" + pl.Series(rng.integers(100_000_000, 999_999_999, n)).cast(pl.String)
    landline = "+44" + pl.Series(rng.integers(1_100_000_000, 2_099_999_999, n_households)).cast(pl.String)
    has_landline = rng.random(n_households) < 0.4

    people = pl.DataFrame({
        "person_id": np.arange(n), "household": household, "female": female, "first": first, "last": last,
        "dob": dob, "moved": moved, "mobile": mobile,
        "landline": landline.gather(household).to_numpy(), "has_landline": has_landline[household],
        **{f"home_{k}": v[household] for k, v in home.items()},
        **{f"old_{k}": v for k, v in old.items()},
    })
    return _add_emails(rng, people)


def _add_emails(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    n = people.height
    fold = lambda c: pl.col(c).str.to_lowercase().str.replace_all(r"[^a-z]", "")  # noqa: E731
    style = rng.integers(0, 3, n)
    digits = pl.Series(rng.integers(1, 99, n)).cast(pl.String)
    domain = pl.Series(np.array(DOMAINS)[rng.integers(0, len(DOMAINS), n)])
    people = people.with_columns(style=style, digits=digits, domain=domain, domain2=pl.Series(
        np.array(DOMAINS)[rng.integers(0, len(DOMAINS), n)]))
    local = (pl.when(pl.col("style") == 0).then(fold("first") + "." + fold("last"))
             .when(pl.col("style") == 1).then(fold("first").str.slice(0, 1) + fold("last") + pl.col("digits"))
             .otherwise(fold("first") + fold("last") + pl.col("digits")))
    people = people.with_columns(
        email1=local + pl.lit("@") + pl.col("domain"),
        # 20% changed address: same username at another provider.
        email2=pl.when(pl.Series(rng.random(n) < 0.2)).then(local + pl.lit("@") + pl.col("domain2")),
    )
    # An address belongs to one person: later claimants of a taken one get a number.
    long = people.select("person_id", pl.lit(1).alias("which"), pl.col("email1").alias("email")).vstack(
        people.select("person_id", pl.lit(2).alias("which"), pl.col("email2").alias("email"))
    ).drop_nulls("email")
    taken = pl.struct("person_id", "which").rank("ordinal").over("email") - 1
    long = long.with_columns(
        pl.when(taken > 0).then(pl.col("email").str.replace("@", (taken + 1).cast(pl.String) + "@", literal=True))
        .otherwise(pl.col("email"))
    )
    people = people.drop("email1", "email2")
    for which in (1, 2):
        chosen = long.filter(pl.col("which") == which).select("person_id", pl.col("email").alias(f"email{which}"))
        people = people.join(chosen, on="person_id", how="left")
    family = people.group_by("household").agg(pl.col("email1").first().alias("family_email"), pl.len().alias("hh_size"))
    family = family.with_columns(
        pl.when((pl.col("hh_size") > 1) & pl.Series(rng.random(family.height) < 0.3)).then(pl.col("family_email"))
    )
    return people.join(family.select("household", "family_email"), on="household", how="left").sort("person_id")


def _records(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    parts = []
    n = people.height
    for source, (p_has, extra, _) in SOURCES.items():
        count = (rng.random(n) < p_has) * (1 + rng.poisson(extra, n))
        idx = np.repeat(np.arange(n), count)
        parts.append(pl.DataFrame({"person_id": idx, "source": source}))
    records = pl.concat(parts).with_row_index("row")
    return records.with_columns(source_record_id=pl.col("row").cast(pl.String).str.zfill(9)).drop("row")


def _typo(rng: np.random.Generator, s: pl.Series, p: float) -> pl.Series:
    """Replace, drop or double one character in a share p of values."""
    n = s.len()
    hit = pl.Series(rng.random(n) < p)
    k = pl.Series(rng.integers(1, 6, n))
    kind = pl.Series(rng.integers(0, 3, n))
    letter = pl.Series(LETTERS[rng.integers(0, 26, n)])
    df = pl.DataFrame({"s": s, "hit": hit, "k": k, "kind": kind, "c": letter})
    k_ = pl.min_horizontal(pl.col("k"), pl.col("s").str.len_chars() - 1)
    head, tail = pl.col("s").str.slice(0, k_), pl.col("s").str.slice(k_ + 1)
    edited = (pl.when(pl.col("kind") == 0).then(head + pl.col("c") + tail)
              .when(pl.col("kind") == 1).then(head + tail)
              .otherwise(head + pl.col("s").str.slice(k_, 1) + pl.col("s").str.slice(k_)))
    return df.select(pl.when(pl.col("hit") & (pl.col("s").str.len_chars() > 3)).then(edited).otherwise(pl.col("s"))).to_series()


def _copies(rng: np.random.Generator, people: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """What each source system holds: the person's attributes plus that system's noise and gaps."""
    df = records.join(people, on="person_id", how="left")
    n = df.height
    u = lambda: pl.Series(rng.random(n))  # noqa: E731

    nick_lists = pl.Series([NICKNAMES.get(f, []) for f in df["first"].to_list()], dtype=pl.List(pl.String))
    nick_pick = pl.Series(rng.integers(0, 10, n))
    first = df.select(
        pl.when((u() < 0.12) & (nick_lists.list.len() > 0))
        .then(nick_lists.list.get(nick_pick % nick_lists.list.len().clip(1), null_on_oob=True))
        .otherwise(pl.col("first"))
    ).to_series()
    first, last = _typo(rng, first, 0.03), _typo(rng, df["last"], 0.03)
    swap = u() < 0.02
    first, last = pl.select(pl.when(swap).then(last).otherwise(first)).to_series(), pl.select(
        pl.when(swap).then(first).otherwise(last)).to_series()

    dob = df["dob"].to_numpy().copy()
    days = (np.datetime64("1970-01-01") + dob.astype("timedelta64[D]"))
    d = pl.Series(days).cast(pl.Date)
    dmy = pl.DataFrame({"d": d})
    swapped = dmy.select(pl.when(pl.col("d").dt.day() <= 12).then(
        pl.date(pl.col("d").dt.year(), pl.col("d").dt.day(), pl.col("d").dt.month())).otherwise(pl.col("d"))).to_series()
    typo_dob = d + pl.duration(days=pl.Series(rng.choice([-10, -1, 1, 10, 365], n)))
    r = rng.random(n)
    dob_out = pl.select(pl.when(pl.Series(r < 0.01)).then(swapped)
                        .when(pl.Series(r < 0.02)).then(typo_dob).otherwise(d)).to_series()

    use_old = (df["moved"] & (u() < 0.4)).to_numpy()
    pick = lambda k: np.where(use_old, df[f"old_{k}"].to_numpy(), df[f"home_{k}"].to_numpy())  # noqa: E731
    abbrev = rng.random(n) < 0.3
    stype = np.array([t[1] if a else t[0] for t, a in zip((STREET_TYPES[i] for i in pick("stype")), abbrev)])
    street = np.array(STREET_NAMES)[pick("street")]
    flat = pick("flat")
    line = pl.Series([("Flat %d, " % f if f else "") + f"{h} {s} {t}" for f, h, s, t in zip(flat, pick("house"), street, stype)])
    line = _typo(rng, line, 0.02)
    postcode = pl.Series(pick("pc").astype(str))
    pc_variant = rng.random(n)
    postcode = pl.select(pl.when(pl.Series(pc_variant < 0.06)).then(postcode.str.replace(" ", ""))
                         .when(pl.Series(pc_variant < 0.1)).then(postcode.str.to_lowercase()).otherwise(postcode)).to_series()
    city_idx = pick("city")
    city = pl.Series([CITIES[c][0] for c in city_idx])

    email = df.select(
        pl.when(pl.col("family_email").is_not_null() & (u() < 0.3)).then(pl.col("family_email"))
        .when(pl.col("email2").is_not_null() & (u() < 0.5)).then(pl.col("email2"))
        .otherwise(pl.col("email1"))
    ).to_series()
    email = _typo(rng, email, 0.01)
    phone = df.select(pl.when(pl.col("has_landline") & (u() < 0.3)).then(pl.col("landline"))
                      .otherwise(pl.col("mobile"))).to_series()

    # Gaps per source.
    fill = {}
    for fld in ("name", "email", "phone", "dob", "address", "postcode", "city", "loyalty", "device"):
        p = df["source"].replace_strict({s: cfg[2].get(fld, 0.0) for s, cfg in SOURCES.items()}, return_dtype=pl.Float64)
        fill[fld] = pl.Series(rng.random(n)) < p
    keep = lambda s, fld: pl.select(pl.when(fill[fld]).then(s)).to_series()  # noqa: E731
    # POS cashiers often type the last name only.
    first_kept = pl.select(pl.when(fill["name"] & ~((df["source"] == "pos") & pl.Series(rng.random(n) < 0.5)))
                           .then(first)).to_series()
    return pl.DataFrame({
        "source": df["source"], "source_record_id": df["source_record_id"],
        "first_name": first_kept, "last_name": keep(last, "name"),
        "email": keep(email, "email"), "phone": keep(phone, "phone"), "date_of_birth": keep(dob_out, "dob"),
        "address_line": keep(line, "address"), "postcode": keep(postcode, "postcode"), "city": keep(city, "city"),
        "region": pl.Series([CITIES[c][1] for c in city_idx]), "country": pl.Series([CITIES[c][2] for c in city_idx]),
        "loyalty_id": keep("L" + df["person_id"].cast(pl.String).str.zfill(9), "loyalty"),
        "device_id": keep("D" + df["person_id"].cast(pl.String) + "-" + pl.Series(rng.integers(0, 3, n)).cast(pl.String), "device"),
        "person_id": df["person_id"].cast(pl.String),
    })


def synthetic_records(people: int, seed: int = 0) -> pl.DataFrame:
    """Raw identity records (canonical columns, not normalised) with their true `person_id`."""
    rng = np.random.default_rng(seed)
    persons = _people(rng, people)
    records = _records(rng, persons)
    out = _copies(rng, persons, records)
    return out.with_columns(record_key=pl.col("source") + ":" + pl.col("source_record_id"))


def _fold(column: str) -> str:
    return f"nullif(trim(regexp_replace(lower(strip_accents({column})), '[^a-z0-9]+', ' ', 'g')), '')"


def load_identity_records(con, records: pl.DataFrame, table: str = "intermediate.int_identity__records") -> None:
    """Write records in the shape dbt builds (normalised columns included); truth stays out."""
    schema = table.rsplit(".", 1)[0] if "." in table else None
    if schema:
        con.execute(f"create schema if not exists {schema}")
    con.register("synthetic_records_arrow", records.drop("person_id").to_arrow())
    try:
        con.execute(f"""
            create or replace table {table} as
            select
                record_key, source, source_record_id,
                first_name, {_fold('first_name')} as first_name_norm,
                last_name, {_fold('last_name')} as last_name_norm,
                nullif(lower(replace(trim(email), ' ', '')), '') as email,
                phone, date_of_birth,
                address_line, {_fold('address_line')} as address_line_norm,
                postcode, nullif(upper(regexp_replace(postcode, '[^A-Za-z0-9]', '', 'g')), '') as postcode_norm,
                city, region, country, loyalty_id, device_id,
                timestamp '2024-01-01' as updated_at
            from synthetic_records_arrow
        """)
    finally:
        con.unregister("synthetic_records_arrow")
