"""Phonetic name keys: names spelt as they sound share one key.

catherine / kathryn / katherine, steven / stephen, jon / john, geoffrey /
jeffrey, brian / bryan, carl / karl, smith / smyth: a typist who heard the
name wrote one of them. The key is the name's Metaphone code (jellyfish)
followed by its first vowel:
- Metaphone, not NYSIIS: it reads c/k/ch, ph/v, g/j and th by sound
  (catherine = kathryn, geoffrey = jeffrey, steven = stephen), which NYSIIS
  keeps apart; Double Metaphone is not in jellyfish.
- the first vowel: Metaphone drops every vowel but an initial one, so short
  names of different people would share a code (tom / tim, jane / june,
  hill / hall, jones / james). Spellings of one name keep its first vowel.
- a y after a consonant is read as the vowel i first (bryan = brian,
  kathryn = kathrin), as it sounds; Metaphone reads it as a consonant.

Codes are computed once per distinct name (Python), then joined to the
records in DuckDB, so a million records cost a few thousand codings.
"""

from __future__ import annotations

import re

import duckdb
import jellyfish
import polars as pl

# identity.record_phonetics: the first name's key of each identity record that has one, for the
# conflict rule (identity/conflicts.py), which also runs in the identity gate.
# Keyed by record_key, so erasure removes a person's rows like any identity row.
RECORD_PHONETICS = "identity.record_phonetics"

_Y_AS_VOWEL = re.compile(r"(?<=[b-df-hj-np-tv-z])y")
_NOT_LETTER = re.compile(r"[^a-z]")


def phonetic_key(name: str | None) -> str | None:
    """The sound-alike key of a normalised (lower-case, folded) name; None when it has no letters."""
    if name is None:
        return None
    letters = _Y_AS_VOWEL.sub("i", _NOT_LETTER.sub("", name.lower()))
    if not letters:
        return None
    vowel = next((c for c in letters if c in "aeiou"), "")
    return f"{jellyfish.metaphone(letters)}{vowel}"


def phonetic_keys(names: pl.Series) -> pl.DataFrame:
    """(name, phonetic) for the distinct non-null names."""
    distinct = names.cast(pl.String).drop_nulls().unique()
    return pl.DataFrame({
        "name": distinct,
        "phonetic": pl.Series([phonetic_key(n) for n in distinct.to_list()], dtype=pl.String),
    })


def register_phonetic_keys(con: duckdb.DuckDBPyConnection, view: str, names_sql: str) -> None:
    """Register `view` (name, phonetic) over the distinct names that `names_sql` selects (one column)."""
    names = con.sql(f"select distinct * from ({names_sql})").pl().to_series()
    con.register(view, phonetic_keys(names).to_arrow())


def write_record_phonetics(con: duckdb.DuckDBPyConnection, records: str) -> None:
    """Create RECORD_PHONETICS (record_key, first_name_phonetic) from the identity records table: the
    records whose first name has a key. Readers left-join it, so a record without a row has none; most
    records of a retail CDP (receipts, events) have no first name."""
    register_phonetic_keys(con, "first_name_keys", f"select first_name_norm from {records}")
    try:
        con.execute(
            f"""create or replace table {RECORD_PHONETICS} as
                select r.record_key, k.phonetic as first_name_phonetic
                from {records} as r join first_name_keys as k on k.name = r.first_name_norm
                where k.phonetic is not null"""
        )
    finally:
        con.unregister("first_name_keys")
