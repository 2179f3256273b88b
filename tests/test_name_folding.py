"""Names folded for matching by dbt's cdp_fold_name (rendered for Python by identifiers.py)."""

import duckdb
import pytest

from dagster_project.identifiers import name_sql


@pytest.mark.parametrize("written, folded", [
    ("5arah", "sarah"), ("8ECCA", "becca"), ("J0HN 5MITH", "john smith"), ("0livia", "olivia"),  # look-alike digits
    ("  Zoë  ", "zoe"), ("O'Brien-Smith", "o brien smith"), ("Łukasz", "lukasz"),            # accents, punctuation
    ("---", None), (None, None),
])
def test_names_fold_with_digits_read_as_letters(written, folded):
    assert duckdb.execute(f"select {name_sql('?')}", [written]).fetchall()[0][0] == folded
