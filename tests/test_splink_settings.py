"""The name-comparison SQL of splink_settings, evaluated by DuckDB on hand-made pairs."""

import datetime

import duckdb
import pytest

from dagster_project.identity.splink_prepare import PREPARED, SCRATCH, house_number_sql, prepare_records, scratch_database
from dagster_project.identity.splink_settings import (
    FIRST_NAMES_DIFFER, HOUSE_NUMBER_SLIP, STREET_WITHOUT_NUMBER, SWAPPED, address_comparison, build_spec,
    dates_one_digit_apart, has_address_parts, within_edits, within_one_edit,
)


def _swapped(left: tuple[str, str], right: tuple[str, str]) -> bool:
    """SWAPPED for records (first, last) = left and right; canonical forms are the names themselves."""
    columns = {"first_name_norm": 0, "last_name_norm": 1}
    select = ", ".join(
        f"'{record[index]}' as {column}{side}, '{record[index]}' as {column.replace('_norm', '_canonical')}{side}"
        for side, record in (("_l", left), ("_r", right)) for column, index in columns.items()
    )
    return duckdb.sql(f"select {SWAPPED} from (select {select})").fetchall()[0][0]


@pytest.mark.parametrize("left, right", [
    (("white", "jscob"), ("jacob", "white")),          # one letter wrong in the first name
    (("whiite", "harriet"), ("harriet", "white")),     # a typo in the surname
    (("redwell", "j"), ("john", "redwell")),           # an initial
    (("smith", "anna"), ("anna", "smith")),
])
def test_names_written_the_other_way_round_are_swapped(left, right):
    assert _swapped(left, right)


@pytest.mark.parametrize("left, right", [
    (("white", "mary"), ("jacob", "white")),           # the first names differ: a relative, not a swap
    (("anna", "smith"), ("anna", "smith")),            # written the same way
    (("brown", "anna"), ("anna", "smith")),            # the surnames differ
])
def test_other_name_pairs_are_not_swapped(left, right):
    assert not _swapped(left, right)


def _first_names_differ(left: str, right: str) -> bool:
    """FIRST_NAMES_DIFFER over two records prepared as identity runs prepare them (nicknames, real names)."""
    con = duckdb.connect()
    con.execute("create table records as select * from (values ('a', ?, 'buhl'), ('b', ?, 'buhl')) as t(record_key, first_name, last_name)",
                [left, right])
    with scratch_database(con):
        prepare_records(con, "records")
        columns = [c for (c,) in con.execute(f"select column_name from (describe {SCRATCH}.main.{PREPARED})").fetchall()]
        pair = ", ".join(f"{side}.{c} as {c}_{side}" for side in ("l", "r") for c in columns)
        return con.execute(f"""select {FIRST_NAMES_DIFFER} from (select {pair} from {SCRATCH}.main.{PREPARED} as l,
            {SCRATCH}.main.{PREPARED} as r where l.record_key = 'a' and r.record_key = 'b')""").fetchall()[0][0]


@pytest.mark.parametrize("left, right", [
    ("ianicw", "janice"), ("gebrvieve", "genevieve"),  # two letters wrong in a long name that is no real name
    ("eddie", "edmund"), ("harry", "harold"),        # a nickname of another of its full names
    ("bob", "robert"), ("jscob", "jacob"),           # the nickname list's own full name; one letter wrong
])
def test_a_typo_or_a_nickname_is_one_first_name_at_a_household(left, right):
    assert not _first_names_differ(left, right)


@pytest.mark.parametrize("left, right", [
    ("joseph", "josiah"), ("samuel", "manuel"),      # real names two letters apart: two people
    ("patrick", "patricia"), ("charles", "charlotte"),  # real names, however alike in Jaro-Winkler
    ("ellen", "nora"),                               # two full names of one nickname (eleanor's)
    ("anna", "amy"), ("john", "mary"),
])
def test_real_names_of_household_members_differ(left, right):
    assert _first_names_differ(left, right)


def _address_levels(left: str, right: str) -> tuple[bool, bool]:
    """(STREET_WITHOUT_NUMBER, HOUSE_NUMBER_SLIP) for two address lines, house numbers read as preparation reads them."""
    pair = ", ".join(f"'{line}' as address_line_norm_{side}, {house_number_sql(repr(line))} as house_number_{side}"
                     for side, line in (("l", left), ("r", right)))
    return tuple(bool(v) for v in duckdb.sql(f"select {STREET_WITHOUT_NUMBER}, {HOUSE_NUMBER_SLIP} from (select {pair})").fetchall()[0])


@pytest.mark.parametrize("left, right, levels", [
    ("cress way road", "13639 cress way road", (True, False)),          # the house number left out
    ("9161 college court", "9151 college court", (False, True)),        # one digit wrong
    ("12 high street", "12 high street", (False, False)),               # equal: a level above
    ("road", "12 high road", (False, False)),                           # a bare street type is no street
    ("9161 college court", "9261 oak court", (False, False)),           # another street
    ("9161 college court", "161 college court", (False, True)),         # a digit dropped
    ("9", "5", (False, False)),                                         # house numbers alone: the street lost, no slip
])
def test_a_street_without_its_number_or_with_a_digit_wrong(left, right, levels):
    assert _address_levels(left, right) == levels


def _address_level(left: tuple[str, str, str], right: tuple[str, str, str]) -> str:
    """The label of the address comparison's level (line, postcode and city, no names) that a pair of
    (address line, postcode, city) falls in: the first level whose condition holds, as in Splink."""
    columns = []
    for side, (line, postcode, city) in (("l", left), ("r", right)):
        columns += [f"'{line}' as address_line_norm_{side}", f"{house_number_sql(repr(line))} as house_number_{side}",
                    f"'{postcode}' as postcode_norm_{side}", f"'{city}' as city_norm_{side}",
                    f"'{postcode[:-1]}' as postcode_sector_{side}", f"'{postcode[:-2]}' as postcode_district_{side}"]
    for level in address_comparison(has_line=True, has_postcode=True, has_city=True, has_first=False).levels:
        condition = level["sql_condition"]
        if condition == "ELSE" or duckdb.sql(f"select coalesce(({condition}), false) from (select {', '.join(columns)})").fetchall()[0][0]:
            return level["label_for_charts"]
    raise AssertionError("no level")


@pytest.mark.parametrize("left, right, label", [
    # A garbled town and postcode: the house and street still agree, up to a typo.
    (("26 yampi place", "2098", "currimundi"), ("26 yampi plvace", "2809", "greenwood"), "same or similar address line, another area"),
    (("12 high street", "4101", "leeds"), ("12 high street", "9876", "york"), "same or similar address line, another area"),
    (("26 yampi place", "2098", "currimundi"), ("11 bednall place", "6508", "port lincoln"), "different"),
    (("26 yampi place", "2098", "currimundi"), ("26 yampi place", "2098", "currimundi"), "same address and postcode"),
    # Neighbours, or a house number and street replaced: the town's agreement is its own level.
    (("42 medical centre", "2324", "north rocks"), ("24 stone place", "2324", "north rocks"), "same postcode and town, different address"),
    (("42 medical centre", "2324", "north rocks"), ("24 stone place", "2324", "tara"), "same postcode, different address"),
])
def test_an_address_line_in_another_area_and_a_shared_postcode_and_town_have_their_own_levels(left, right, label):
    assert _address_level(left, right) == label


def _comparison_names(fields: set[str], household: bool) -> list[str]:
    return [c.name for c in build_spec(fields, household=household).comparisons]


def test_the_parts_of_an_address_weigh_apart_only_in_data_without_households():
    fields = {"first", "last", "dob", "address", "postcode", "city"}
    # Households: the address counts once, or a shared one outweighs two different first names and dates of birth.
    assert _comparison_names(fields, household=True) == ["first_name", "last_name", "date_of_birth", "address"]
    without = build_spec(fields, household=False)
    assert [c.name for c in without.comparisons] == ["first_name", "last_name", "date_of_birth", "address_line", "postcode", "city"]
    assert has_address_parts({"comparisons": [c.as_dict() for c in without.comparisons]})
    # Household data too thin for household levels (no date of birth, email or phone to train them on) keeps one address.
    assert _comparison_names({"first", "last", "address", "postcode"}, household=True) == ["first_name", "last_name", "address"]
    # Every part is estimated by some EM rule (build_spec raises otherwise), and fewer parts give fewer comparisons.
    postcode_only = build_spec({"first", "last", "dob", "postcode"}, household=False)
    assert [c.name for c in postcode_only.comparisons] == ["first_name", "last_name", "date_of_birth", "postcode"]
    assert has_address_parts({"comparisons": [c.as_dict() for c in postcode_only.comparisons]})


@pytest.mark.parametrize("cheap, edits", [
    (within_one_edit, 1), (lambda a, b: within_edits(a, b, 1), 1), (lambda a, b: within_edits(a, b, 2), 2),
])
def test_cheap_edit_tests_are_the_edit_distance(cheap, edits):
    """Every deletion, insertion and substitution at every position of short and long strings,
    two edits, unrelated strings, empty and null ones: the cheap tests never change the answer."""
    words = ["", "a", "ab", "abc", "john.smith84@gmail.com", "+447700900123", "1984-05-17", "anna"]
    pairs = [(w, v) for w in words for v in words] + [(None, "a"), ("a", None), (None, None)]
    for word in words:
        for i in range(len(word) + 1):
            pairs += [(word, word[:i] + "x" + word[i:]), (word[:i] + "9" + word[i:], word)]  # insertions
            if i < len(word):
                pairs += [(word, word[:i] + word[i + 1:]), (word, word[:i] + "#" + word[i + 1:]),  # deletion, substitution
                          (word, word[:i] + "#" + word[i + 1:] + "q")]  # two edits
    rows = duckdb.execute(
        f"""select a_l, a_r, {cheap('a_l', 'a_r')} as cheap, levenshtein(a_l, a_r) <= {edits} as exact
            from (select unnest(?::varchar[]) as a_l, unnest(?::varchar[]) as a_r)""",
        [[a for a, _ in pairs], [b for _, b in pairs]],
    ).fetchall()
    assert len(rows) > 300
    assert [row for row in rows if row[2] is not row[3]] == []
    assert sum(bool(row[3]) for row in rows) > 200  # most pairs are one edit apart: the test has teeth


def test_dates_one_digit_apart_is_the_edit_distance_of_the_dates_as_text():
    """Every valid date one digit away from a few dates (any position of year, month or day), day and
    month swapped, unrelated and null dates: the year/month/day test never changes the answer."""
    bases = ["1984-05-17", "2001-12-31", "1950-01-01", "1999-10-09", "0999-02-28"]
    pairs = [(a, b) for a in bases for b in bases] + [(None, "1984-05-17"), ("1984-05-17", None)]
    for base in bases:
        for i, char in enumerate(base):
            for digit in "0123456789" if char.isdigit() else []:
                text = base[:i] + digit + base[i + 1:]
                try:
                    datetime.date.fromisoformat(text)
                except ValueError:
                    continue
                pairs += [(base, text), (text, base[:i] + str((int(digit) + 1) % 10) + base[i + 1:])]
        pairs.append((base, f"{base[:4]}-{base[8:]}-{base[5:7]}"))  # day and month swapped (a valid date for some)
    rows = duckdb.execute(
        f"""select d_l, d_r, {dates_one_digit_apart('d_l', 'd_r')} as cheap,
                   levenshtein(cast(d_l as varchar), cast(d_r as varchar)) <= 1 as exact
            from (select try_cast(unnest(?::varchar[]) as date) as d_l, try_cast(unnest(?::varchar[]) as date) as d_r)""",
        [[a for a, _ in pairs], [b for _, b in pairs]],
    ).fetchall()
    assert len(rows) > 300
    assert [row for row in rows if row[2] is not row[3]] == []
    assert sum(bool(row[3]) for row in rows) > 200
