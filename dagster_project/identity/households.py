"""Whether the records hold households, read from the records themselves
(identity.household_safe: auto, the default).

Household safety refuses to join records whose first names or dates of
birth clearly differ, whatever else agrees: twins, siblings, a parent and
child of one name share a surname and an address. Some data holds one person
per family instead, and its sources replace whole first names (thomas /
xavier) or dates of birth in a person's duplicates (FEBRL): there the rule
refuses true duplicates and costs recall for no precision.

The records tell the two apart. Take the pairs of fully described records
(first name and date of birth) with one surname at one address whose first
names clearly conflict (the conflict rule's own test). In household data
they are different people born on different days: siblings, spouses,
parents and children; only twins share a birthday (1-5% of such pairs in the
census-style test data, 10% in our generator, which plants twins). When
most of them share the date of birth, they are one person whose first name a
source replaced, and the data has no households to protect. With too few
such pairs to tell, household safety stays on.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from dagster_project.config import CdpConfig
from dagster_project.identity.conflicts import conflict_pairs_sql, optional_columns
from dagster_project.identity.phonetic import write_record_phonetics
from dagster_project.warehouse import table_exists

# Household safety goes off only on this many pairs, most of them sharing the date of birth.
MIN_PAIRS_TO_DECIDE = 10
SAME_BIRTH_DATE_SHARE = 0.5

HOUSEHOLD_SAFETY_TABLE = "identity.household_safety"


@dataclass(frozen=True)
class HouseholdSafety:
    safe: bool  # first names / dates of birth that clearly differ are a conflict
    setting: str  # identity.household_safe as configured: true, false or auto
    conflicting_first_name_pairs: int | None = None  # auto: one surname, one address, first names in conflict
    same_birth_date: int | None = None  # of those, pairs with the same date of birth

    @property
    def reason(self) -> str:
        if self.setting != "auto":
            return f"identity.household_safe: {self.setting}"
        pairs, same = self.conflicting_first_name_pairs, self.same_birth_date
        found = (f"{pairs} pairs of records with one surname and address and conflicting first names, "
                 f"{same} of them with one date of birth")
        if self.safe and pairs < MIN_PAIRS_TO_DECIDE:
            return f"auto: {found}; too few to tell, so on"
        if self.safe:
            return f"auto: {found}: households (family members have their own birthdays), so on"
        return f"auto: {found}: one person with a first name replaced by a source, no households, so off"


def household_safety(con: duckdb.DuckDBPyConnection, config: CdpConfig, records: str) -> HouseholdSafety:
    """identity.household_safe for these records: as configured, or (auto) read from them.
    Auto reads identity.record_phonetics, which must be current (write_record_phonetics)."""
    if config.household_safe != "auto":
        return HouseholdSafety(safe=bool(config.household_safe), setting=str(config.household_safe).lower())
    pairs, same = con.sql(_conflicting_first_names_at_one_address_sql(records, optional_columns(con, records))).fetchall()[0]
    safe = pairs < MIN_PAIRS_TO_DECIDE or same < SAME_BIRTH_DATE_SHARE * pairs
    return HouseholdSafety(safe=safe, setting="auto", conflicting_first_name_pairs=pairs, same_birth_date=same)


def _conflicting_first_names_at_one_address_sql(records: str, present: frozenset[str]) -> str:
    """(pairs, pairs with one date of birth) of fully described records at one address under one
    surname whose first names conflict by the conflict rule. Copies of one record count once."""
    membership = f"""
        select min(record_key) as record_key,
               last_name_norm || '|' || address_line_norm || '|' || postcode_norm as grp
        from {records}
        where length(first_name_norm) > 1 and date_of_birth is not null and last_name_norm is not null
          and address_line_norm is not null and postcode_norm is not null
        group by last_name_norm, address_line_norm, postcode_norm, first_name_norm, date_of_birth"""
    conflicts = conflict_pairs_sql(membership, records, present=present, first_names_flag=True)
    return f"select count(*), count(*) filter (where same_birth_date) from ({conflicts}) where first_names_conflict"


def decided_household_safety(con: duckdb.DuckDBPyConnection, config: CdpConfig, records: str) -> HouseholdSafety:
    """household_safety for training a model before identity resolution ran: writes the
    record phonetics the auto reading needs."""
    if config.household_safe == "auto":
        con.execute("create schema if not exists identity")
        write_record_phonetics(con, records)
    return household_safety(con, config, records)


def last_household_safety(con: duckdb.DuckDBPyConnection) -> bool | None:
    """Household safety as the last identity resolution decided it, if one ran."""
    if not table_exists(con, *HOUSEHOLD_SAFETY_TABLE.split(".")):
        return None
    row = con.execute(f"select safe from {HOUSEHOLD_SAFETY_TABLE}").fetchall()
    return bool(row[0][0]) if row else None


def write_household_safety(con: duckdb.DuckDBPyConnection, safety: HouseholdSafety) -> None:
    con.execute(f"create or replace table {HOUSEHOLD_SAFETY_TABLE} (safe boolean, setting varchar, "
                "conflicting_first_name_pairs bigint, same_birth_date bigint, reason varchar)")
    con.execute(f"insert into {HOUSEHOLD_SAFETY_TABLE} values (?, ?, ?, ?, ?)",
                [safety.safe, safety.setting, safety.conflicting_first_name_pairs, safety.same_birth_date, safety.reason])

