"""identity.household_safe: auto reads from the records whether they hold households."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import polars as pl

from dagster_project.identity.households import MIN_PAIRS_TO_DECIDE, household_safety
from tests.test_conflicts import _add_records, _warehouse

AUTO = SimpleNamespace(household_safe="auto")
# Real first names (in the nickname list, so they conflict as real names do).
FIRST_NAMES = [("michael", "sam"), ("blake", "isabella"), ("thomas", "xavier"), ("oliver", "benjamin"),
               ("james", "sarah"), ("emily", "jack"), ("lucy", "henry"), ("grace", "daniel"),
               ("chloe", "ryan"), ("sophie", "adam"), ("hannah", "luke"), ("olivia", "nathan")]


def _pairs_at_addresses(birth_dates: list[tuple[date, date]], copies: int = 1) -> pl.DataFrame:
    """Per address, two fully described records of one surname with unrelated first names."""
    rows = []
    for n, ((first_a, first_b), (born_a, born_b)) in enumerate(zip(FIRST_NAMES, birth_dates)):
        for first, born in ((first_a, born_a), (first_b, born_b)):
            for copy in range(copies):
                rows.append({"record_key": f"s:{n}-{first}-{copy}", "date_of_birth": born, "first_name_norm": first,
                             "first_name_canonical": first, "first_name_listed": True, "last_name_norm": f"surname{n}",
                             "name_suffix": None, "address_line_norm": f"{n} high street", "postcode_norm": "AB1 2CD"})
    return pl.DataFrame(rows)


def _safety(records: pl.DataFrame):
    con = _warehouse()
    _add_records(con, records)
    return household_safety(con, AUTO, "records")


def test_records_whose_replaced_first_names_keep_the_birth_date_turn_household_safety_off():
    same_day = [(date(1961, 4, 2), date(1961, 4, 2))] * 11 + [(date(1950, 1, 1), date(1977, 5, 5))]
    safety = _safety(_pairs_at_addresses(same_day))
    assert (safety.safe, safety.conflicting_first_name_pairs, safety.same_birth_date) == (False, 12, 11)
    assert "no households, so off" in safety.reason


def test_family_members_with_their_own_birthdays_keep_it_on_and_twins_do_not_turn_it_off():
    families = [(date(1960, 3, 1), date(1990, 7, 9))] * 10 + [(date(2001, 6, 6), date(2001, 6, 6))] * 2  # two twin pairs
    safety = _safety(_pairs_at_addresses(families))
    assert (safety.safe, safety.conflicting_first_name_pairs, safety.same_birth_date) == (True, 12, 2)
    assert "households" in safety.reason


def test_too_few_pairs_to_tell_keep_it_on_and_copies_of_a_record_count_once():
    few = [(date(1961, 4, 2), date(1961, 4, 2))] * (MIN_PAIRS_TO_DECIDE - 1)
    safety = _safety(_pairs_at_addresses(few, copies=3))
    assert (safety.safe, safety.conflicting_first_name_pairs) == (True, MIN_PAIRS_TO_DECIDE - 1)
    assert "too few to tell" in safety.reason


def test_a_configured_setting_is_used_as_it_is():
    for setting in (True, False):
        safety = household_safety(None, SimpleNamespace(household_safe=setting), "records")  # no query
        assert safety.safe is setting and safety.reason == f"identity.household_safe: {str(setting).lower()}"
