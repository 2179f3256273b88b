"""The name-comparison SQL of splink_settings, evaluated by DuckDB on hand-made pairs."""

import duckdb
import pytest

from dagster_project.identity.splink_settings import SWAPPED


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
