"""Input preparation for the Splink model: a scratch database and one prepared table.

Splink materialises its working tables with `CREATE TABLE` in the current
schema. To write nothing into the warehouse, every run happens inside an
in-memory database attached next to it (`scratch`): the prepared records and
all of Splink's tables live there and vanish on detach.

The prepared table has the same columns whatever the input holds ("bring your
own data"): every canonical field is present, null when the input lacks it,
plus columns derived for comparisons and blocking.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from dagster_project.identifiers import first_name_sql, fold_sql, name_sql
from dagster_project.identity.phonetic import register_phonetic_keys

SCRATCH = "splink_scratch"
PREPARED = "splink_records"
NICKNAMES_CSV = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "nicknames.csv"

# A blocking key shared by more records than this is dropped (set to null) for
# that rule only: one very common value (a placeholder email, "john smith")
# would otherwise generate cap^2 / 2 comparisons on its own.
DEFAULT_BLOCK_CAP = 200
# Keys built from a prefix (three letters of the surname with the birth year) group far more
# unrelated people than a whole value: capped at a quarter. At 1,000,000 people bk_last_year gave
# 20 million pairs under the full cap, 2 million under a quarter; at 100,000 people every link
# it found was also found by another key.
COARSE_KEYS = {"bk_last_year"}


def key_cap(name: str, block_cap: int = DEFAULT_BLOCK_CAP) -> int:
    return max(1, block_cap // 4) if name in COARSE_KEYS else block_cap


TEXT_FIELDS = [
    "first_name", "first_name_norm", "first_name_canonical", "last_name", "last_name_norm",
    "email", "phone", "address_line", "address_line_norm", "postcode", "postcode_norm", "city",
]

def house_number_sql(address: str) -> str:
    """The last number in an address line but a flat's: the house number ("12 high street flat 3" -> 12,
    "4 85 juniper gardens" -> 85, a flat number written first without the word)."""
    return (f"nullif(regexp_extract(regexp_replace({address}, ' flat [0-9a-z]+', ''), "
            f"'([0-9]+[a-z]?)[^0-9]*$', 1), '')")


# Street-type abbreviations, expanded so "12 High St" equals "12 High Street".
STREET_ABBREVIATIONS = {
    "rd": "road", "st": "street", "ln": "lane", "ave": "avenue", "av": "avenue", "cl": "close",
    "dr": "drive", "cres": "crescent", "gdns": "gardens", "gr": "grove", "pl": "place",
    "terr": "terrace", "tce": "terrace", "ct": "court", "pk": "park", "sq": "square", "vw": "view",
    "wlk": "walk", "hts": "heights", "mt": "mount", "apt": "flat",
    "cresc": "crescent", "gro": "grove", "grv": "grove", "ter": "terrace", "blvd": "boulevard", "cir": "circle",
    "apartment": "flat", "unit": "flat",
}
# A flat written before the street ("flat 6 80 farm grove") is moved after it ("80 farm grove flat 6").
LEADING_FLAT = ("^(flat [0-9a-z]+) (.+)$", "\\2 \\1")

UK_POSTCODE = "^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$"


@contextlib.contextmanager
def scratch_database(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Attach an in-memory database for Splink's tables; restore the caller's schema and search path after."""
    database, schema, search_path = con.execute(
        "select current_database(), current_schema(), current_setting('search_path')"
    ).fetchall()[0]
    con.execute(f"attach ':memory:' as {SCRATCH}")
    try:
        yield
    finally:
        con.execute(f'use "{database}"."{schema}"')
        if search_path:
            con.execute("set search_path = ?", [search_path])
        else:
            con.execute("reset search_path")
        con.execute(f"detach {SCRATCH}")


def _column_or_null(columns: set[str], name: str, fallback: str | None = None, cast: str = "varchar") -> str:
    if name in columns:
        return f"cast({name} as {cast})"
    return fallback if fallback else f"cast(null as {cast})"


def _base_select(columns: set[str]) -> str:
    """Canonical fields, normalised here when the input only has the raw column."""
    col = lambda name, fallback=None, cast="varchar": _column_or_null(columns, name, fallback, cast)  # noqa: E731
    first_raw, last_raw = col("first_name"), col("last_name")
    address_raw = col("address_line")
    postcode_raw = col("postcode")
    return f"""
        cast(record_key as varchar) as record_key,
        {col("first_name_norm", first_name_sql(first_raw))} as first_name_norm,
        {col("last_name_norm", name_sql(last_raw))} as last_name_norm,
        {col("first_name_canonical")} as first_name_canonical_input,
        {col("first_name_listed", "cast(null as boolean)", cast="boolean")} as first_name_listed_input,
        nullif(lower(replace(trim({col("email")}), ' ', '')), '') as email,
        nullif(regexp_replace({col("phone")}, '[^0-9+]', '', 'g'), '') as phone,
        {"try_cast(date_of_birth as date)" if "date_of_birth" in columns else "cast(null as date)"} as date_of_birth,
        {col("address_line_norm", fold_sql(address_raw))} as address_line_folded,
        {col("postcode_norm", f"nullif(upper(regexp_replace({postcode_raw}, '[^A-Za-z0-9]', '', 'g')), '')")}
            as postcode_norm,
        {fold_sql(col("city"))} as city_norm,
        {col("sex")} as sex
    """


def expand_address_sql(expression: str) -> str:
    """Street types and flats written one way, and a leading flat moved after the street."""
    cases = " ".join(f"when '{short}' then '{long}'" for short, long in STREET_ABBREVIATIONS.items())
    expanded = (
        f"array_to_string(list_transform(string_split({expression}, ' '), "
        f"lambda w: case w {cases} else w end), ' ')"
    )
    pattern, replacement = LEADING_FLAT
    return f"regexp_replace({expanded}, '{pattern}', '{replacement}')"


# Blocking key column -> the derived column it caps.
BLOCKING_KEYS = {
    "bk_name": "name_key", "bk_phonetic_name": "phonetic_name_key", "bk_dob_last": "dob_last_key", "bk_dob_first": "dob_first_key",
    "bk_dob_initials": "dob_initials_key", "bk_last_year": "last_year_key",
    "bk_postcode": "postcode_norm", "bk_house_postcode": "house_postcode_key", "bk_address": "address_line_norm", "bk_email": "email", "bk_phone": "phone",
    "bk_last_address": "last_address_key", "bk_first_address": "first_address_key", "bk_dob_house": "dob_house_key",
}
# The derived columns (`*_key`) only the capped keys keep; the others (email, postcode, ...) are compared too.
DERIVED_KEYS = [key for key in BLOCKING_KEYS.values() if key.endswith("_key")]


def _capped_keys(derived: str, cap: int) -> tuple[list[str], list[str]]:
    """Blocking keys, null where the value is shared by more than `cap` records:
    the select expressions and the joins to per-value counts they need.
    (Counts joined back: measured 4x faster than count() over (partition by
    key) for seven keys on 1M records.)"""
    columns, joins = [], []
    for name, key in BLOCKING_KEYS.items():
        counts = f"{name}_counts"
        columns.append(f"case when {counts}.records <= {key_cap(name, cap)} then d.{key} end as {name}")
        joins.append(
            f"left join (select {key} as value, count(*) as records from {derived} where {key} is not null group by {key})"
            f" as {counts} on {counts}.value = d.{key}"
        )
    return columns, joins


def prepare_records(
    con: duckdb.DuckDBPyConnection,
    records_table: str,
    *,
    table: str = PREPARED,
    keys: list[str] | None = None,
    nicknames_csv: Path = NICKNAMES_CSV,
    block_cap: int = DEFAULT_BLOCK_CAP,
    ordered: bool = True,
) -> int:
    """Create `{SCRATCH}.main.{table}` from `records_table`; returns its row count.

    Runs before switching to the scratch database, so `records_table` resolves
    exactly as the caller would resolve it. `keys` restricts to those record keys.
    `ordered`: rows in record key order, which training's seeded sampling needs; scoring
    does not (a pair's score depends on its two records only), and skips the sort.
    """
    columns = {row[0] for row in con.sql(f"describe select * from {records_table}").fetchall()}
    if "record_key" not in columns:
        raise ValueError(f"{records_table} has no record_key column")
    key_filter = ""
    if keys is not None:
        con.execute(f"create table {SCRATCH}.main.{table}_keys as select unnest(?::varchar[]) as record_key", [keys])
        key_filter = f"where cast(record_key as varchar) in (select record_key from {SCRATCH}.main.{table}_keys)"
    nickname_source, alternate_source = (
        f"read_csv('{csv.as_posix()}', header = true, "
        "columns = {'nickname': 'VARCHAR', 'canonical': 'VARCHAR', 'origin': 'VARCHAR'})"
        for csv in (nicknames_csv, nicknames_csv.with_name("nickname_alternates.csv"))
    )
    named = f"{SCRATCH}.main.{table}_named"
    derived = f"{SCRATCH}.main.{table}_derived"
    con.execute(f"""
    create or replace table {named} as
    with base as (
        select {_base_select(columns)} from {records_table} {key_filter}
    ),
    nicknames as (select distinct on (nickname) nickname, canonical from {nickname_source}),
    -- Every full name a nickname may stand for: eddie -> edward, edmund, edwin, ...
    full_names as (
        select nickname, list(distinct canonical order by canonical) as full_names
        from (select nickname, canonical from {nickname_source} union select nickname, canonical from {alternate_source})
        group by nickname
    )
    select
        base.* exclude (first_name_canonical_input, first_name_listed_input, address_line_folded),
        -- The dbt join gives first_name_canonical; without it, look the nickname up here.
        coalesce(first_name_canonical_input, nicknames.canonical, first_name_norm) as first_name_canonical,
        -- A real name (the nickname lists, as a nickname or a full name), not a typo; as dbt's int_identity__records.
        coalesce(first_name_listed_input, full_names.nickname is not null
                 or base.first_name_norm in (select unnest(full_names) from full_names), false) as first_name_listed,
        -- The last name read as a first name, for names written the other way round.
        coalesce(last_as_first.canonical, last_name_norm) as last_name_canonical,
        full_names.full_names as first_name_full_names,
        {expand_address_sql("address_line_folded")} as address_line_norm
    from base
    left join nicknames on nicknames.nickname = base.first_name_norm
    left join nicknames as last_as_first on last_as_first.nickname = base.last_name_norm
    left join full_names on full_names.nickname = base.first_name_norm
    """)
    # Sound-alike keys, coded once per distinct name (identity/phonetic.py).
    register_phonetic_keys(
        con, "name_phonetic_keys", f"select first_name_norm from {named} union select last_name_norm from {named}"
    )
    sql = f"""
    create or replace table {derived} as
    with phonetic as (
        select n.*, f.phonetic as first_name_phonetic, l.phonetic as last_name_phonetic
        from {named} as n
        left join name_phonetic_keys as f on f.name = n.first_name_norm
        left join name_phonetic_keys as l on l.name = n.last_name_norm
    ),
    derived as (
        select
            *,
            {house_number_sql("address_line_norm")} as house_number,
            -- UK sector/district from the unspaced postcode; elsewhere the first 3 characters
            -- (Eircode routing key, US ZIP sectional centre).
            case when regexp_matches(postcode_norm, '{UK_POSTCODE}')
                 then regexp_extract(postcode_norm, '{UK_POSTCODE}', 1) || regexp_extract(postcode_norm, '{UK_POSTCODE}', 2)
            end as postcode_sector,
            case when regexp_matches(postcode_norm, '{UK_POSTCODE}')
                 then regexp_extract(postcode_norm, '{UK_POSTCODE}', 1)
                 when length(postcode_norm) >= 5 then left(postcode_norm, 3)
            end as postcode_district,
            -- Names in either order, so swapped first/last names share a block.
            case when first_name_canonical is not null and last_name_norm is not null
                 then array_to_string(list_sort([first_name_canonical, last_name_canonical]), '|') end as name_key,
            -- The same by sound: catherine smyth / kathryn smith.
            case when first_name_phonetic is not null and last_name_phonetic is not null
                 then array_to_string(list_sort([first_name_phonetic, last_name_phonetic]), '|') end as phonetic_name_key,
            cast(date_of_birth as varchar) || '|' || left(last_name_norm, 1) as dob_last_key,
            cast(date_of_birth as varchar) || '|' || left(first_name_canonical, 1) as dob_first_key,
            cast(date_of_birth as varchar) || '|'
                || array_to_string(list_sort([left(first_name_norm, 1), left(last_name_norm, 1)]), '') as dob_initials_key,
            case when length(last_name_norm) >= 3 then left(last_name_norm, 3) || '|' || year(date_of_birth) end
                as last_year_key
        from phonetic
    )
    select
        *,
        house_number || '|' || postcode_norm as house_postcode_key,
        last_name_norm || '|' || address_line_norm as last_address_key,
        first_name_canonical || '|' || address_line_norm as first_address_key,
        cast(date_of_birth as varchar) || '|' || house_number as dob_house_key
    from derived
    """
    try:
        con.execute(sql)
    finally:
        con.unregister("name_phonetic_keys")
    con.execute(f"drop table {named}")
    capped, joins = _capped_keys(derived, block_cap)
    con.execute(
        f"""create or replace table {SCRATCH}.main.{table} as
        select d.* exclude ({", ".join(DERIVED_KEYS)}), {", ".join(capped)}
        from {derived} as d {" ".join(joins)}
        {"order by d.record_key" if ordered else ""}"""
    )
    con.execute(f"drop table {derived}")
    return con.execute(f"select count(*) from {SCRATCH}.main.{table}").fetchall()[0][0]


FIELDS_FOR_FILL = [
    "first_name_norm", "last_name_norm", "date_of_birth", "email", "phone",
    "address_line_norm", "postcode_norm", "city_norm", "sex",
]


def fill_rates(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Share of non-null values per canonical field in the prepared table."""
    selects = ", ".join(f"avg(({c} is not null)::int) as {c}" for c in FIELDS_FOR_FILL)
    row = con.execute(f"select {selects} from {SCRATCH}.main.{PREPARED}").fetchall()[0]
    return {c: float(v or 0.0) for c, v in zip(FIELDS_FOR_FILL, row)}
