"""Identifier normalisation for Python steps, rendered from the dbt macros.

The rule for what makes two emails or phone numbers the same is written once,
in `dbt/macros/normalise.sql`: staging (dbt, DuckDB or Spark) uses it, and
tombstones must produce exactly the same value or an erased person comes back
through a spelling only one side folds. So the Python side does not re-write
the rule: it renders those macros (with the DuckDB implementations of
`engine_specific.sql`) into SQL expressions and runs them in DuckDB.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2

from dagster_project.config import BUNDLED_DBT_PROJECT

MACRO_FILES = ("macros/engine_specific.sql", "macros/normalise.sql")


class _DuckDbAdapter:
    """`adapter.dispatch` as dbt-duckdb resolves it: the `duckdb__` implementation."""

    def __init__(self, module):
        self._module = module

    def dispatch(self, name: str, _namespace: str = ""):
        return getattr(self._module, f"duckdb__{name}")


@lru_cache(maxsize=1)
def _macros():
    source = "\n".join((BUNDLED_DBT_PROJECT / name).read_text(encoding="utf-8") for name in MACRO_FILES)
    adapter = _DuckDbAdapter(None)
    # dbt's `return(x)` hands a value back from a macro; in plain Jinja the rendered text is that value.
    template = jinja2.Environment().from_string(source, globals={"adapter": adapter, "return": lambda value: value})
    adapter._module = module = template.module
    return module


def _macro(name: str, *args) -> str:
    return str(getattr(_macros(), name)(*args)).strip()


def email_sql(value_sql: str) -> str:
    return _macro("cdp_normalise_email", f"cast({value_sql} as varchar)")


def phone_sql(value_sql: str, country_sql: str, default_calling_code: str) -> str:
    """E.164 phone, a national number taking the calling code of the row's country (as staging does)."""
    country = _macro("cdp_normalise_country", f"cast({country_sql} as varchar)")
    calling_code = _macro("cdp_calling_code", country, default_calling_code)
    return _macro("cdp_e164", _macro("cdp_phone_digits", f"cast({value_sql} as varchar)", calling_code))


def code_sql(value_sql: str) -> str:
    return _macro("cdp_normalise_code", f"cast({value_sql} as varchar)")


def device_id_sql(value_sql: str) -> str:
    return _macro("cdp_normalise_device_id", f"cast({value_sql} as varchar)")


def fold_sql(value_sql: str) -> str:
    """Text folded for matching: lower case, accents stripped, punctuation to spaces."""
    return _macro("cdp_fold", f"cast({value_sql} as varchar)")


def name_sql(value_sql: str) -> str:
    """A person's name folded for matching, look-alike digits read as letters (5arah: sarah)."""
    return _macro("cdp_fold_name", f"cast({value_sql} as varchar)")


def first_name_sql(value_sql: str) -> str:
    """A first name folded for matching, as name_sql, with initials alone read as the first one (p a: p)."""
    return _macro("cdp_first_name", f"cast({value_sql} as varchar)")


def sex_sql(value_sql: str) -> str:
    """Sex as 'm' / 'f' from a code, a word or a title; null when it says neither."""
    return _macro("cdp_sex", f"cast({value_sql} as varchar)")


def postcode_sql(value_sql: str) -> str:
    return _macro("cdp_normalise_postcode", f"cast({value_sql} as varchar)")
