"""Privacy-preserving match keys for second-party (partner) matching.

Both sides of a partner match encode their people with the same shared
secret and exchange only these keys, never the names, emails or phones:

- `email_key`, `phone_key`: HMAC-SHA256 (a SHA-256 salted with the secret)
  of the email and the E.164 phone, normalised by the same dbt macros as
  staging (identifiers.py), so both sides fold a spelling the same way;
- `clk`: a cryptographic long-term key (Schnell et al. 2009; the CLK of the
  `clkhash` package): a 1024-bit Bloom filter of the bigrams of first name,
  last name, date of birth and postcode, compared by Dice similarity so a
  typo or a move still matches (`anonlink`);
- `dob_key`, `postcode_key`, `name_key`: HMACs of blocking values, so the
  matcher compares only records that share one of them.

The secret comes from an environment variable and is never written
anywhere: not in cdp.yml, not in a file, a table or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

import duckdb
import jellyfish
import polars as pl
from clkhash import clk as clkhash_clk
from clkhash import schema as clkhash_schema

from dagster_project import identifiers

SECRET_ENV = "CDP_PARTNER_SECRET"
# The canonical fields a partner file is encoded from (any may be missing).
PII_FIELDS = ("first_name", "last_name", "email", "phone", "date_of_birth", "postcode", "country")
KEY_COLUMNS = ("email_key", "phone_key", "dob_key", "postcode_key", "name_key", "clk")
CLK_BITS = 1024
CLK_FEATURES = ("first_name", "last_name", "date_of_birth", "postcode")


class MissingSecret(RuntimeError):
    pass


def secret_from_env() -> str:
    """The shared secret, from $CDP_PARTNER_SECRET (never from a file)."""
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise MissingSecret(f"set {SECRET_ENV} to the secret shared with the partner (at least 16 characters)")
    return secret


@lru_cache(maxsize=1)
def clk_schema():
    """clkhash schema v3: bigrams of each field, 1024 bits, missing values add no bits."""
    def feature(name: str) -> dict:
        return {
            "identifier": name,
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerToken": 10},
                "hash": {"type": "doubleHash"},
                "missingValue": {"sentinel": ""},
            },
        }
    return clkhash_schema.from_json_dict({
        "version": 3,
        "clkConfig": {"l": CLK_BITS, "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64}},
        "features": [feature(name) for name in CLK_FEATURES],
    })


def normalise(records: pl.DataFrame, default_calling_code: str = "44") -> pl.DataFrame:
    """Canonical PII columns -> the normalised values keys are made of (staging's own rules)."""
    present = records.with_columns(
        [pl.lit(None, dtype=pl.String).alias(f) for f in PII_FIELDS if f not in records.columns]
    ).with_columns(pl.col(f).cast(pl.String) for f in PII_FIELDS)
    con = duckdb.connect()
    try:
        con.register("records", present.select(PII_FIELDS).with_row_index("row_index"))
        normal = con.sql(f"""
            select
                coalesce({identifiers.first_name_sql('first_name')}, '') as first_name,
                coalesce({identifiers.name_sql('last_name')}, '') as last_name,
                {identifiers.email_sql('email')} as email,
                {identifiers.phone_sql('phone', 'country', default_calling_code)} as phone,
                coalesce(cast(try_cast(date_of_birth as date) as varchar), '') as date_of_birth,
                coalesce({identifiers.postcode_sql('postcode')}, '') as postcode
            from records order by row_index
        """).pl()
    finally:
        con.close()
    return normal


def keyed_hash(value: str | None, secret: str, purpose: str) -> str | None:
    """HMAC-SHA256 of one normalised value, hex; `purpose` keeps an email's key apart from a phone's."""
    if not value:
        return None
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def name_block(first_name: str, last_name: str) -> str:
    """Metaphone of the last name plus the first initial: a name typo usually keeps it."""
    if not last_name:
        return ""
    return f"{jellyfish.metaphone(last_name.split(' ')[0])}|{first_name[:1]}"


def encode(records: pl.DataFrame, secret: str, default_calling_code: str = "44") -> pl.DataFrame:
    """One row of match keys per input row (same order); every other input column is dropped."""
    normal = normalise(records, default_calling_code)
    rows = normal.select(CLK_FEATURES).rows()
    clks = clkhash_clk.generate_clks(rows, clk_schema(), secret, validate=False, max_workers=1) if rows else []

    def hashed(column: str, purpose: str) -> pl.Series:
        return pl.Series([keyed_hash(v, secret, purpose) for v in normal[column]], dtype=pl.String)

    names = [keyed_hash(name_block(f, l), secret, "name") for f, l in zip(normal["first_name"], normal["last_name"])]
    return pl.DataFrame({
        "email_key": hashed("email", "email"),
        "phone_key": hashed("phone", "phone"),
        "dob_key": hashed("date_of_birth", "dob"),
        "postcode_key": hashed("postcode", "postcode"),
        "name_key": pl.Series(names, dtype=pl.String),
        "clk": pl.Series([base64.b64encode(c.tobytes()).decode("ascii") for c in clks], dtype=pl.String),
    })


def our_records(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every resolved identity record of the brand with its person (staging-normalised fields)."""
    return con.sql("""
        select person_map.person_id, records.first_name, records.last_name, records.email, records.phone,
               cast(records.date_of_birth as varchar) as date_of_birth, records.postcode, records.country
        from intermediate.int_identity__records as records
        inner join identity.person_map as person_map using (source, source_record_id)
    """).pl()


def encode_for_partner(records: pl.DataFrame, id_column: str, secret: str, default_calling_code: str = "44") -> pl.DataFrame:
    """The file sent to a partner: an opaque record id (HMAC of ours) and the match keys."""
    opaque = pl.Series([keyed_hash(str(v), secret, "record") for v in records[id_column]], dtype=pl.String)
    return pl.concat([pl.DataFrame({"record_id": opaque}), encode(records, secret, default_calling_code)], how="horizontal")
