"""Identity on Spark (issue 18): the saved Splink model scores the same pairs with the same
weights on Splink's Spark backend as on DuckDB, and clustering those scores with our code
gives the same persons.

Reuses the session's multi_day workspace (a copy: it is not changed) and opens one Spark
session (local mode, as spark.local makes it; skipped without pyspark). Re-resolving that
workspace on Spark takes minutes, so `make test` skips it (CDP_SPARK_TESTS=all runs it):
tests/test_spark_flow.py scores on Spark too, and compares the persons with DuckDB's.
"""

from __future__ import annotations

import importlib.util
import shutil

import polars as pl
import pytest
import sqlglot
from polars.testing import assert_frame_equal

from dagster_project.identity.spark_scoring import spark_model, spark_sql
from tests.conftest import slow_spark

# The SQL translation needs no Spark: these run everywhere.


def test_duckdb_functions_become_their_spark_equivalents():
    sql = spark_sql(
        "jaro_winkler_similarity(a_l, a_r) >= 0.92 AND starts_with(a_l, a_r) AND contains(b_l, b_r)"
        " AND regexp_replace(email_l, '[^0-9]', '', 'g') = '1' AND cast(d_l as varchar) = 'x' AND l.\"bk_name\" = r.\"bk_name\""
    )
    assert sql == (
        "JARO_WINKLER_SIMILARITY(a_l, a_r) >= 0.92 AND STARTSWITH(a_l, a_r) AND CONTAINS(b_l, b_r)"
        " AND REGEXP_REPLACE(email_l, '[^0-9]', '') = '1' AND CAST(d_l AS STRING) = 'x' AND l.`bk_name` = r.`bk_name`"
    )
    sqlglot.parse_one(sql, read="spark")


def test_a_first_match_only_replace_is_refused():
    """DuckDB's regexp_replace without 'g' replaces one match; Spark's replaces all."""
    with pytest.raises(ValueError, match="without 'g'"):
        spark_sql("regexp_replace(email_l, '[0-9]', '') = email_r")


def test_the_model_keeps_its_parameters():
    model = {
        "probability_two_random_records_match": 0.001,
        "comparisons": [{"output_column_name": "email", "comparison_levels": [
            {"sql_condition": "email_l IS NULL OR email_r IS NULL", "is_null_level": True},
            {"sql_condition": "email_l = email_r", "m_probability": 0.9, "u_probability": 0.01, "tf_adjustment_column": "email"},
            {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.99},
        ]}],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": '(l."bk_email" = r."bk_email")', "sql_dialect": "duckdb"}],
        "sql_dialect": "duckdb",
    }
    translated = spark_model(model)
    levels = translated["comparisons"][0]["comparison_levels"]
    assert [level["sql_condition"] for level in levels] == ["email_l IS NULL OR email_r IS NULL", "email_l = email_r", "ELSE"]
    assert [(level.get("m_probability"), level.get("u_probability")) for level in levels] == [(None, None), (0.9, 0.01), (0.1, 0.99)]
    assert translated["blocking_rules_to_generate_predictions"][0]["blocking_rule"] == "(l.`bk_email` = r.`bk_email`)"
    assert model["sql_dialect"] == "duckdb"  # the saved model itself is untouched


spark_missing = importlib.util.find_spec("pyspark") is None
needs_spark = pytest.mark.skipif(spark_missing, reason="pyspark is not installed (pip install -e .[spark])")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from dagster_project.spark.local import local_session

    return local_session(tmp_path_factory.mktemp("spark_identity"))


@needs_spark
def test_duckdb_jaro_winkler_on_spark(spark):
    """DuckDB's similarity, not the Splink jar's (0.908 for stanton / staton); null stays null."""
    from dagster_project.identity.spark_scoring import register_duckdb_functions

    register_duckdb_functions(spark)
    rows = spark.sql(
        "select jaro_winkler_similarity(a, b) as s from values ('stanton', 'staton'), (null, 'x') as t(a, b)"
    ).collect()
    assert rows[0].s == pytest.approx(0.9277777777777778, abs=1e-12)
    assert rows[1].s is None


def resolve_on_spark(spark, source_config, folder):
    """A copy of the workspace, its identity resolved again with Splink on Spark; returns the
    scored pairs and person map before (DuckDB) and after (Spark), and Splink's tables left in Spark."""
    from dagster_project.config import load_config
    from dagster_project.identity.resolve import resolve_identities
    from dagster_project.identity.spark_scoring import spark_scorer
    from dagster_project.warehouse import connect

    shutil.copytree(source_config.path.parent, folder)
    config = load_config(folder / source_config.path.name)
    read = "select * from identity.scored_pairs order by all", "select record_key, person_id from identity.person_map"
    with connect(config.warehouse) as con:
        before = [con.sql(sql).pl() for sql in read]
        resolve_identities(con, config, run_id="spark", scorer=spark_scorer(spark, config.identity_model))
        after = [con.sql(sql).pl() for sql in read]
    return before, after, [t.name for t in spark.catalog.listTables() if t.name.startswith("__splink__")]


@pytest.fixture(scope="module")
def resolved(spark, multi_day, tmp_path_factory):
    return resolve_on_spark(spark, multi_day["config"], tmp_path_factory.mktemp("spark_resolved") / "workspace")


def same_scores(duckdb_pairs: pl.DataFrame, spark_pairs: pl.DataFrame) -> None:
    """The same pairs with the same gamma levels (exactly), and weights, probabilities and
    Bayes factors within 1e-6 (float rounding)."""
    keys = ["record_key", "linked_record_key"]
    assert duckdb_pairs.height > 100
    assert_frame_equal(spark_pairs.sort(keys), duckdb_pairs.sort(keys), check_exact=False, rel_tol=1e-9, abs_tol=1e-6)


def partition(person_map: pl.DataFrame) -> set[frozenset]:
    return {frozenset(keys) for keys in person_map.group_by("person_id").agg("record_key")["record_key"].to_list()}


@needs_spark
@slow_spark
def test_spark_scores_equal_duckdb_scores(resolved):
    """Same pairs, same gamma levels, match weights within 1e-6 (the difference is float rounding)."""
    (duckdb_pairs, _), (spark_pairs, _), _ = resolved
    same_scores(duckdb_pairs, spark_pairs)


@needs_spark
@slow_spark
def test_clustering_spark_scores_gives_the_same_persons(resolved):
    (_, duckdb_persons), (_, spark_persons), _ = resolved
    assert spark_persons.height == duckdb_persons.height
    assert partition(spark_persons) == partition(duckdb_persons)


@needs_spark
@slow_spark
def test_splink_tables_are_dropped_after_scoring(resolved):
    """Splink leaves its tables (and their cached data) in a Spark session; the scorer drops them."""
    *_, splink_tables = resolved
    assert splink_tables == []
