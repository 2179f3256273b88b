"""Quality gates on Spark (engine: spark): the same suites, validated by GX's Spark execution engine.

The rows under test are a Spark frame (the run's query over the session's tables), handed to a
GX Spark datasource as a whole-dataframe batch: column expectations become Spark jobs, and each
unexpected_rows_expectation runs as Spark SQL on a temporary view of the batch (`{batch}`).

The suites are written in DuckDB SQL. Each query, the run's and the expectations', is translated
once to Spark SQL with sqlglot (identity.spark_scoring.spark_sql, as the identity model's SQL is),
and DuckDB's own string functions that Spark lacks (jaro_winkler_similarity, damerau_levenshtein)
are registered in the session. The results are GateResults, as on DuckDB, so recording them,
Data Docs and the checks' messages are the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable

from dagster_project.identity.spark_scoring import register_duckdb_functions, spark_sql

from .gates import GateError, GateResult, PreparedRun, SuiteRun, gate_result, prepare_run, validate_batch

BATCH = "gate_batch_rows"  # stands for `{batch}` while a query is translated


def run_suites_on_spark(spark, runs: Iterable[SuiteRun | tuple]) -> list[GateResult]:
    """run_suites on the Spark session's tables: one GateResult per run, in order. Raises GateError
    when a run's rows cannot be read (a missing table, SQL Spark refuses)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    prepared = [on_spark(prepare_run(SuiteRun(*run))) for run in runs]
    if not prepared:
        return []
    register_duckdb_functions(spark)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_spark(name="spark", persist=False)  # the rows are cached here
    results = []
    for index, run in enumerate(prepared):
        evaluated_at = dt.datetime.now(dt.timezone.utc)
        rows, row_count = _rows(spark, run)
        try:
            asset = datasource.add_dataframe_asset(name=f"rows_{index}")
            batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": rows})
            results.append(gate_result(run, evaluated_at, row_count, validate_batch(gx, batch, run)))
        finally:
            rows.unpersist()
    return results


def on_spark(run: PreparedRun) -> PreparedRun:
    """The prepared run with its query and every unexpected_rows_query in Spark SQL."""
    entries = [_entry_on_spark(entry) for entry in run.entries]
    return dataclasses.replace(run, query=spark_sql(run.query), entries=entries,
                               suite={**run.suite, "expectations": entries})


def _entry_on_spark(entry: dict) -> dict:
    query = entry["kwargs"].get("unexpected_rows_query")
    if query is None:
        return entry
    return {**entry, "kwargs": {**entry["kwargs"], "unexpected_rows_query": spark_query(query)}}


def spark_query(query: str) -> str:
    """A suite's DuckDB query in Spark SQL, in the same form: `{batch}` kept, literal braces doubled
    (GX fills the query with str.format)."""
    plain = query.replace("{batch}", BATCH).replace("{{", "{").replace("}}", "}")
    return spark_sql(plain).replace("{", "{{").replace("}", "}}").replace(BATCH, "{batch}")


def _rows(spark, run: PreparedRun):
    """The rows under test as a cached Spark frame, and their count; GateError when Spark cannot read them."""
    from pyspark.errors import PySparkException

    try:
        rows = spark.sql(run.query).cache()
        row_count = rows.count()
    except PySparkException as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GateError(f"quality gate {run.suite['name']!r}: cannot read the rows of {run.label} on Spark: {first_line}") from error
    return rows, row_count
