"""Sources whose people are all at least some age: tax forms and benefit claims are filed by adults.

A minimum age tells a form that names a parent and a young child alike ("J Smith", no date of
birth, at their address) to be the parent's (identity.conflicts: AGE_CONFLICT). A source says
its minimum age in cdp.yml (`min_age: N`; `min_age: 0`: any age). When it does not, it is read
from the records, as duplicate-free sources are (identity.one_per_person):

- the age of each of the source's named records (a surname) on its date (`updated_at`), from its
  own date of birth; for a source with fewer than MIN_AGED_RECORDS of those (a tax form file),
  also of its records without one, from the dates of birth of the records each links to (their
  median);
- a source of people of every age holds children of every age; a source of adults holds none,
  but for links to another member of the family and mistyped dates, which scatter over all young
  ages. So a candidate age (18, then 16: majority, school-leaving age) is the source's minimum
  when fewer than MAX_YOUNGER_SHARE of its aged records are younger, and of those at most
  MAX_JUST_BELOW_SHARE of all and half in the two years below it: a source that takes people from
  16 (a survey, a shop's customers) has most of its young at 16 and 17, where a wrong link to a
  child of any age falls one time in nine.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from dagster_project.warehouse import table_exists

CANDIDATE_MIN_AGES = (18, 16)
MAX_YOUNGER_SHARE = 0.05
MAX_JUST_BELOW_SHARE = 0.01
MAX_JUST_BELOW_OF_YOUNGER = 0.5
# Below this many aged records the shares say too little to decide.
MIN_AGED_RECORDS = 100

MONTHS = "(year({when}) * 12 + month({when}))"  # a date in whole months: an age is a difference of two
MIN_AGES_TABLE = "identity.source_min_ages"  # source, min_age (null: any age), reason: written by identity resolution


@dataclass(frozen=True)
class AgeVerdict:
    source: str
    min_age: int | None  # None: people of any age
    reason: str


def minimum_age(records_by_age: dict[int, int]) -> tuple[int | None, str]:
    """The minimum age that aged records (age in whole years -> records; ages of 18 and over
    may be counted together) show, and why."""
    aged = sum(records_by_age.values())
    if aged < MIN_AGED_RECORDS:
        return None, f"read from the records: {aged} aged records, too few to tell; any age"
    for age in CANDIDATE_MIN_AGES:
        younger = sum(n for years, n in records_by_age.items() if years < age)
        just_below = sum(n for years, n in records_by_age.items() if age - 2 <= years < age)
        if (younger <= MAX_YOUNGER_SHARE * aged and just_below <= MAX_JUST_BELOW_SHARE * aged
                and just_below <= MAX_JUST_BELOW_OF_YOUNGER * younger):
            return age, f"read from the records: {younger:,} of {aged:,} aged records younger than {age}"
    younger = sum(n for years, n in records_by_age.items() if years < CANDIDATE_MIN_AGES[-1])
    return None, f"read from the records: {younger:,} of {aged:,} aged records younger than {CANDIDATE_MIN_AGES[-1]}; any age"


def source_min_ages(con: duckdb.DuckDBPyConnection, records: str, links: pl.DataFrame,
                    declared: dict[str, int | None]) -> list[AgeVerdict]:
    """Each source's minimum age: as `declared` (source -> age, 0 for any age, None to read it)
    says, else as its records show: their own dates of birth where at least MIN_AGED_RECORDS
    have one, else those and the dates of birth of the records they link to (`links`:
    record_key, linked_record_key, unvetoed; reading them took 0.2-0.3 s at a million records)."""
    verdicts = [AgeVerdict(source, age or None, f"declared min_age: {age} in cdp.yml")
                for source, age in declared.items() if age is not None]
    undecided = sorted(source for source, age in declared.items() if age is None)
    counts = _records_by_age(con, records, undecided) if undecided else {}
    dateless = {source: by_age.pop(None, 0) for source, by_age in counts.items()}
    few = [source for source in undecided if sum(counts.get(source, {}).values()) < MIN_AGED_RECORDS and dateless.get(source)]
    if few:
        counts |= _records_by_age(con, records, few, links)
    verdicts += [AgeVerdict(source, *minimum_age(counts.get(source, {}))) for source in undecided]
    return sorted(verdicts, key=lambda verdict: verdict.source)


def write_min_ages(con: duckdb.DuckDBPyConnection, verdicts: list[AgeVerdict]) -> None:
    """MIN_AGES_TABLE: each source's minimum age (null: any age) and why."""
    con.execute(f"create or replace table {MIN_AGES_TABLE} (source varchar, min_age integer, reason varchar)")
    if verdicts:
        con.executemany(f"insert into {MIN_AGES_TABLE} values (?, ?, ?)",
                        [(v.source, v.min_age, v.reason) for v in sorted(verdicts, key=lambda v: v.source)])


def stored_min_ages(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """source -> (minimum age, why) of the sources with one, as the last resolution wrote them."""
    if not table_exists(con, *MIN_AGES_TABLE.split(".")):
        return {}
    rows = con.execute(f"select * from {MIN_AGES_TABLE} where min_age is not null order by source").fetchall()
    # A warehouse from before the ages were read from the records has no reason column: they were declared.
    return {row[0]: (row[1], row[2] if len(row) > 2 else "declared in cdp.yml") for row in rows}


def _records_by_age(con: duckdb.DuckDBPyConnection, records: str, sources: list[str],
                    links: pl.DataFrame | None = None) -> dict[str, dict[int, int]]:
    """source -> {age in whole years, 18 for all older: named records} of these sources, from their
    own dates of birth and, with `links`, from the median of the linked records' for those without;
    without `links`, None: the named records without a date of birth."""
    age = f"{MONTHS.format(when='x.updated_at')} - {MONTHS.format(when='{dob}')}"
    # Each end of a link in its turn: the dateless records are few beside the links.
    linked = f"""
        union all
        select x.source, median({age.format(dob='y.date_of_birth')}) as months
        from (
            select x.*, a.linked_record_key as other from named as x join age_links as a on a.record_key = x.record_key
            where x.date_of_birth is null
            union all
            select x.*, a.record_key from named as x join age_links as a on a.linked_record_key = x.record_key
            where x.date_of_birth is null
        ) as x
        join {records} as y on y.record_key = x.other
        where y.date_of_birth is not null
        group by x.record_key, x.source"""
    if links is not None:
        con.register("age_links", links.select("record_key", "linked_record_key").to_arrow())
    try:
        rows = con.execute(
            f"""with named as (
                    select record_key, source, date_of_birth, updated_at from {records}
                    where source in (select unnest(?)) and last_name_norm is not null and updated_at is not null
                )
                select source, cast(case when months is not null  -- least() would skip a null
                                         then least(floor(months / 12), {max(CANDIDATE_MIN_AGES)}) end as integer) as years,
                       count(*)
                from (
                    select x.source, {age.format(dob='x.date_of_birth')} as months from named as x
                    {"where x.date_of_birth is not null" + linked if links is not None else ""}
                )
                group by all""",
            [sources],
        ).fetchall()
    finally:
        if links is not None:
            con.unregister("age_links")
    counts: dict[str, dict[int, int]] = {}
    for source, years, n in rows:
        counts.setdefault(source, {})[years] = n
    return counts
