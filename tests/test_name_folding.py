"""Names folded for matching by dbt's cdp_fold_name (rendered for Python by identifiers.py)."""

import duckdb
import pytest

from dagster_project.identifiers import first_name_sql, name_sql, sex_sql


@pytest.mark.parametrize("written, folded", [
    ("5arah", "sarah"), ("8ECCA", "becca"), ("J0HN 5MITH", "john smith"), ("0livia", "olivia"),  # look-alike digits
    ("  Zoë  ", "zoe"), ("O'Brien-Smith", "o brien smith"), ("Łukasz", "lukasz"),            # accents, punctuation
    ("---", None), (None, None),
])
def test_names_fold_with_digits_read_as_letters(written, folded):
    assert duckdb.execute(f"select {name_sql('?')}", [written]).fetchall()[0][0] == folded


@pytest.mark.parametrize("written, folded", [
    ("A. C.", "a"), ("p a", "p"), ("J", "j"),          # initials alone: the first one
    ("Mary Ann", "mary ann"), ("J Robert", "j robert"), ("5arah", "sarah"),
])
def test_first_names_of_initials_alone_are_read_as_the_first_initial(written, folded):
    assert duckdb.execute(f"select {first_name_sql('v')} from (select ? as v)", [written]).fetchall()[0][0] == folded


@pytest.mark.parametrize("written, sex", [
    ("M", "m"), ("male", "m"), ("Mr.", "m"), (" MR ", "m"), ("F", "f"), ("Female", "f"), ("MRS", "f"), ("Ms", "f"),
    ("miss", "f"), ("Dr", None), ("Mx", None), ("", None), (None, None), ("unknown", None),
])
def test_sex_is_read_from_a_code_a_word_or_a_title(written, sex):
    assert duckdb.execute(f"select {sex_sql('v')} from (select ? as v)", [written]).fetchall()[0][0] == sex
