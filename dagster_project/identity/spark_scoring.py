"""Splink scoring on Spark: the saved identity model, scored with Splink's Spark backend.

The model is the one trained on DuckDB (identity_model.json, with its frozen term
frequencies identity_model.tf.parquet): the same comparisons, m and u, prior and
term frequencies, so a pair scores the same on both engines. Its SQL is DuckDB's;
spark_model translates it once, here, into Spark SQL with the same meaning
(spark_sql). The records are those splink_prepare prepares (on DuckDB), as a Spark
table; the scores come back in the shape identity.graph clusters (SCORES_TABLE:
record_key < linked_record_key, match_probability, match_weight, gamma_X, bf_X,
mw_X, from_blocking), so the clustering runs unchanged on them.

Its Python workers must be able to import duckdb and pandas (DuckDB's Jaro-Winkler
runs there): spark.local's sessions use this interpreter.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import sqlglot
from sqlglot import exp

from dagster_project.identity.graph import SCORES_TABLE
from dagster_project.identity.splink_model import _output_columns
from dagster_project.identity.splink_prepare import PREPARED, SCRATCH
from dagster_project.identity.term_frequencies import frozen_path, tf_columns

RENAMED = {"record_key_l": "record_key", "record_key_r": "linked_record_key"}
# DuckDB's function, registered in the Spark session under its DuckDB name (register_duckdb_functions).
JARO_WINKLER = "jaro_winkler_similarity"
DAMERAU_LEVENSHTEIN = "damerau_levenshtein"


def register_duckdb_functions(spark) -> None:
    """jaro_winkler_similarity (and damerau_levenshtein, which the identity gate's SQL uses) in the
    session's SQL: DuckDB's own, run on each Arrow batch.

    Not the jar that ships with Splink (its jaro_winkler): it counts half a transposition
    where DuckDB rounds down (stanton / staton: 0.908 there, 0.928 in DuckDB), so a pair
    near a threshold (0.92) would fall into another level on Spark."""
    spark.udf.register(JARO_WINKLER, _duckdb_function(JARO_WINKLER, "double", "Float64"))
    spark.udf.register(DAMERAU_LEVENSHTEIN, _duckdb_function(DAMERAU_LEVENSHTEIN, "bigint", "Int64"))


def _duckdb_function(name: str, spark_type: str, pandas_type: str):
    """DuckDB's two-argument function `name` as a Spark pandas UDF."""
    from pyspark.sql.functions import pandas_udf

    def call(left: pd.Series, right: pd.Series) -> pd.Series:
        with duckdb.connect() as con:
            con.register("pairs", pd.DataFrame({"l": left, "r": right}))
            values = con.execute(f"select {name}(l, r) as value from pairs").fetchnumpy()["value"]
        # Nullable: a null stays null (NaN would compare greater than any number on Spark).
        return pd.Series(values, dtype=pandas_type)

    return pandas_udf(call, spark_type)


def spark_sql(condition: str) -> str:
    """A DuckDB SQL condition of the model in Spark SQL, with the same meaning.

    sqlglot translates most of it (starts_with -> startswith, '...'::varchar ->
    string, regexp_replace(..., 'g') -> Spark's, which replaces every match,
    "quoted" identifiers -> `quoted`). jaro_winkler_similarity keeps its name: the
    session has DuckDB's (register_duckdb_functions). A DuckDB regexp_replace without
    'g' replaces the first match only; Spark has no such form, so it is refused.
    """
    if condition.strip().upper() == "ELSE":
        return condition
    tree = sqlglot.parse_one(condition, read="duckdb")
    for node in tree.find_all(exp.RegexpReplace):
        modifiers = node.args.get("modifiers")
        if modifiers is None or "g" not in modifiers.name:
            raise ValueError(f"regexp_replace without 'g' has no Spark equivalent: {condition}")

    def to_spark(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.JarowinklerSimilarity):
            return exp.Anonymous(this=JARO_WINKLER, expressions=[node.this, node.expression])
        return node

    return tree.transform(to_spark).sql(dialect="spark")


def spark_model(model: Mapping) -> dict:
    """The saved model (DuckDB SQL) for Splink's Spark backend: every comparison level's
    condition and every blocking rule in Spark SQL; the parameters untouched."""
    translated = copy.deepcopy(dict(model))
    translated["sql_dialect"] = "spark"
    for comparison in translated["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = spark_sql(level["sql_condition"])
    for rule in translated.get("blocking_rules_to_generate_predictions", []):
        rule["blocking_rule"] = spark_sql(rule["blocking_rule"])
        rule["sql_dialect"] = "spark"
    return translated


def _spark_api(spark):
    """Splink's SparkAPI, writing its SQL with sqlglot's own Spark dialect. Splink's "customspark"
    dialect subclasses sqlglot's generator, which the compiled sqlglot (sqlglotc, installed in this
    environment) refuses ("interpreted classes cannot inherit from compiled"). Customspark only writes
    cast(literal as double) as a double literal; Spark reads the plain cast to the same double.
    break_lineage_method persist: Splink's tables stay in the session's cache, not in checkpoint files."""
    from splink import SparkAPI

    class PlainSparkAPI(SparkAPI):
        def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
            return sqlglot.transpile(sql, read="spark", write="spark", pretty=True)[0]

    # Not the jar's functions: DuckDB's jaro_winkler_similarity instead (register_duckdb_functions).
    return PlainSparkAPI(spark_session=spark, break_lineage_method="persist", register_udfs_automatically=False)


def frozen_lookups_on_spark(spark, records, model: Mapping, model_path: Path) -> dict:
    """Spark's version of term_frequencies.frozen_lookups: per adjusted column, a lookup
    (value, tf_<column>) of the records' values from the frozen file (md5 of the value;
    a value not in it counts as seen once). The file must exist (written at training)."""
    path = frozen_path(model_path)
    frozen = spark.read.parquet(str(path))
    # One row per column, read here rather than by a Spark job each.
    seen_once = dict(pl.read_parquet(path).filter(pl.col("value_hash").is_null()).select("column_name", "tf").iter_rows())
    lookups = {}
    for column in tf_columns(model):
        values = records.select(column).where(f"{column} is not null").distinct()
        lookups[column] = _lookup(values, frozen.where(frozen.column_name == column), column, seen_once.get(column))
    return lookups


def _lookup(values, frozen, column: str, seen_once: float | None):
    from pyspark.sql import functions as F

    hashed = values.withColumn("value_hash", F.md5(F.col(column).cast("string")))
    joined = hashed.join(frozen.select("value_hash", "tf"), "value_hash", "left")
    return joined.select(column, F.coalesce("tf", F.lit(seen_once)).alias(f"tf_{column}"))


def score_on_spark(spark, records, model: Mapping, threshold: float | None, *, term_frequencies: Mapping,
                   keep_pairs=None):
    """Splink predictions on Spark, as splink_model.score_pairs makes them on DuckDB: the blocked
    pairs at or above `threshold`, plus the `keep_pairs` (Spark frame record_key_l < record_key_r)
    whatever their score, scored in a second pass. `term_frequencies`: column -> Spark lookup frame.
    Returns a Spark frame in SCORES_TABLE's shape (cached: Splink's own tables are dropped)."""
    from splink import Linker

    register_duckdb_functions(spark)
    db_api = _spark_api(spark)
    linker = Linker(db_api.register(records), spark_model(model), log_level=None)
    for column, lookup in term_frequencies.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    above = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    columns = set(above.as_spark_dataframe().columns)
    select = f"select {', '.join(_output_columns(model, columns))}"
    query = f"{select}, true as from_blocking from {above.physical_name} as p"
    scored = [above]
    if keep_pairs is not None:
        keep_pairs.createOrReplaceTempView("cdp_keep_pairs")
        kept_pairs = spark.sql(
            f"""select distinct '0' as match_key, k.record_key_l as join_key_l, k.record_key_r as join_key_r
            from cdp_keep_pairs as k left anti join {above.physical_name} as p using (record_key_l, record_key_r)"""
        )
        linker.table_management.register_blocked_pairs_for_predict(db_api.register(kept_pairs))
        kept = linker.inference.predict(warning_mode="never")
        scored.append(kept)
        query += f" union all {select}, false from {kept.physical_name} as p"
    result = spark.sql(query).withColumnsRenamed(RENAMED).cache()
    result.count()  # computed before Splink's tables go
    for table in scored:
        table.drop_table_from_database_and_remove_from_cache()
    spark.catalog.dropTempView("cdp_keep_pairs")
    return result


def score_saved_model(spark, records, model_path: Path, threshold: float | None, *, keep_pairs=None):
    """score_on_spark with the saved model at `model_path` and its frozen term frequencies."""
    model = json.loads(Path(model_path).read_text())
    lookups = frozen_lookups_on_spark(spark, records, model, model_path)
    return score_on_spark(spark, records, model, threshold, term_frequencies=lookups, keep_pairs=keep_pairs)


def drop_splink_tables(spark) -> None:
    """Splink's tables in the session (temporary views) and their cached data: on Spark, Splink's
    own drop leaves them, so each scoring would keep its blocked pairs and predictions in memory."""
    for table in spark.catalog.listTables():
        if table.isTemporary and table.name.startswith("__splink__"):
            spark.catalog.dropTempView(table.name)


def to_polars(frame) -> pl.DataFrame:
    """A Spark frame as polars, through Parquet (types kept: dates, integers, nulls)."""
    with tempfile.TemporaryDirectory() as folder:
        frame.write.mode("overwrite").parquet(folder + "/frame")
        return pl.read_parquet(folder + "/frame/*.parquet")


def duckdb_table_to_spark(spark, con: duckdb.DuckDBPyConnection, table: str, folder: Path):
    """A DuckDB table as a Spark frame, through Parquet in `folder` (kept while Spark reads it)."""
    path = Path(folder) / f"{table.replace('.', '_')}.parquet"
    con.execute(f"copy (select * from {table}) to '{path.as_posix()}' (format parquet)")
    return spark.read.parquet(str(path))


def prepared_records_on_spark(spark, con: duckdb.DuckDBPyConnection, folder: Path):
    """The records prepared in the open scratch database (splink_prepare), as a Spark frame."""
    return duckdb_table_to_spark(spark, con, f"{SCRATCH}.main.{PREPARED}", folder)


def spark_scorer(spark, model_path: Path):
    """A graph.Scorer that scores on Spark: resolve_identities(con, config, scorer=spark_scorer(spark,
    config.identity_model)) clusters Splink-on-Spark scores with the same code as DuckDB's.

    The records prepared on DuckDB and the pairs the veto needs go to Spark as Parquet, the scores
    come back into SCORES_TABLE. Every run scores in full (an incremental plan's stored scores are
    not reused): the same scores, only slower."""

    def score(con: duckdb.DuckDBPyConnection, model: dict, threshold: float, term_frequencies: dict, plan) -> None:
        with tempfile.TemporaryDirectory() as folder:
            records = prepared_records_on_spark(spark, con, Path(folder))
            keep_pairs = duckdb_table_to_spark(spark, con, f"{SCRATCH}.deterministic_pairs", Path(folder))
            # The saved model and its frozen term frequencies: the `model` and `term_frequencies` given.
            on_spark = score_saved_model(spark, records, model_path, threshold, keep_pairs=keep_pairs)
            scores = to_polars(on_spark)
            drop_splink_tables(spark)
            on_spark.unpersist()
        con.register("spark_scores", scores.to_arrow())
        try:
            con.execute(f"create or replace temp table {SCORES_TABLE.removeprefix('temp.main.')} as select * from spark_scores")
        finally:
            con.unregister("spark_scores")

    return score
