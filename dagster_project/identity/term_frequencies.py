"""Term frequencies frozen with the Splink model, so a pair's score depends on its two records only.

Splink adjusts an exact match on a common value (smith, a family email)
down and on a rare one up, by the value's share of all records (its term
frequency); here its share of the distinct names and birth dates that hold
it, so that one person's many records do not make their own name common.
Computed afresh every run, one new "smith" would change the score of every
pair of smiths, and an incremental run (identity.incremental) could not
reuse earlier scores and still equal a full recompute. So the
frequencies are computed once, beside the model (identity_model.tf.parquet,
written with the model or at its first use), and both full and incremental
runs score with them:
- a value two or more holders shared then keeps its frequency;
- any other value, also one first seen later, counts as seen once (1 / the
  holders then), as a unique value did then.
The file holds md5 hashes of the shared values, never the values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import duckdb

from dagster_project.identity.splink_prepare import PREPARED, SCRATCH


def frozen_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".tf.parquet")


def tf_columns(model: Mapping) -> list[str]:
    """The input columns whose exact-match level the model adjusts by term frequency."""
    columns = {
        level["tf_adjustment_column"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)


def freeze_term_frequencies(con: duckdb.DuckDBPyConnection, model: Mapping, model_path: Path) -> Path:
    """Write the frequencies of the values of the records prepared in the scratch database, for
    the values two or more holders share; a row with a null hash per column holds the frequency
    of a value seen once. A value's frequency is its share of the distinct holders (first name,
    last name, date of birth) of any value, not of the records as Splink counts: a name is as
    common as the people who hold it, however many records each has."""
    prepared = f"{SCRATCH}.main.{PREPARED}"
    parts = []
    for column in tf_columns(model):
        # A value's holders: the distinct names and birth dates that carry it. One
        # person's many records (nine copies in FEBRL, a census return, surveys and
        # tax forms in a town) hold their name once, so a rare name stays rare.
        holders = f"""(select distinct {column}, first_name_norm, last_name_norm, date_of_birth
                        from {prepared} where {column} is not null)"""
        total = f"(select count(*) from {holders})"
        parts.append(
            f"""select '{column}' as column_name, md5(cast({column} as varchar)) as value_hash,
                       cast(count(*) as float8) / {total} as tf
                from {holders} group by {column} having count(*) >= 2
                union all
                select '{column}', null, cast(1 as float8) / {total}"""
        )
    path = frozen_path(model_path)
    if not parts:
        parts.append("select null::varchar as column_name, null::varchar as value_hash, null::float8 as tf limit 0")
    con.execute(f"copy ({' union all '.join(parts)}) to '{path.as_posix()}' (format parquet)")
    return path


def frozen_lookups(con: duckdb.DuckDBPyConnection, model: Mapping, model_path: Path) -> dict[str, str]:
    """Splink term-frequency lookups (tables of the scratch database: value, tf_<column>) for the
    values of the prepared records, from the frozen file (written first if missing).
    Returns column -> table name (in the scratch database), for splink_model.score_pairs."""
    path = frozen_path(model_path)
    if not path.exists():
        freeze_term_frequencies(con, model, model_path)
    prepared = f"{SCRATCH}.main.{PREPARED}"
    frozen = f"read_parquet('{path.as_posix()}')"
    lookups = {}
    for column in tf_columns(model):
        table = f"frozen_tf_{column}"
        con.execute(
            f"""create or replace table {SCRATCH}.main.{table} as
            with frozen as (select * from {frozen} where column_name = '{column}'),
                 seen_once as (select tf from frozen where value_hash is null)
            select v.{column}, coalesce(f.tf, (select tf from seen_once)) as tf_{column}
            from (select distinct {column} from {prepared} where {column} is not null) as v
            left join frozen as f on f.value_hash = md5(cast(v.{column} as varchar))"""
        )
        lookups[column] = table
    return lookups
