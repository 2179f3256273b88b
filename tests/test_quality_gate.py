"""Quality gate: Great Expectations suites run in place on a DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dagster_project.quality import GateError, GateResult, SuiteError, load_suite, run_suite
from dagster_project.quality import ge_duckdb_shim
from dagster_project.quality.suites import resolve_placeholders

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "expectations" / "audience_email_newsletter.json"
QUERY = "select * from marts.aud_email_newsletter"
PARAMS = {"min_rows": 100, "max_rows": 1000}
ROWS = 120


def make_warehouse(tmp_path: Path, *statements: str) -> Path:
    """A DuckDB file with ROWS clean audience members in marts.aud_email_newsletter."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute(
            f"""
            create table marts.aud_email_newsletter as
            select
                'p' || lpad(cast(i as varchar), 3, '0') as person_id,
                'person' || i || '@example.com' as email,
                'First' || i as first_name,
                'Last' || i as last_name,
                'granted' as consent_email_marketing,
                timestamp '2024-01-01 09:00:00' + to_minutes(cast(i as bigint)) as consented_at
            from range(1, {ROWS + 1}) as r(i)
            """
        )
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    return path


def gate(warehouse: Path, params: dict | None = None, suite: Path = SUITE) -> GateResult:
    return run_suite(warehouse, suite, QUERY, PARAMS if params is None else params)


def assert_writable(path: Path) -> None:
    """Another process (think dbt) and this one can open the file read-write."""
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute('create or replace table main.written_by_other_process as select 1 as x'); c.close()"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, f"another process cannot write the warehouse:\n{done.stderr}"
    con = duckdb.connect(str(path))
    try:
        con.execute("create or replace table main.written_in_process as select 1 as x")
        assert con.execute("select count(*) from main.written_by_other_process").fetchone() == (1,)
    finally:
        con.close()


# --------------------------------------------------------------------------- passing


def test_clean_audience_passes(tmp_path):
    result = gate(make_warehouse(tmp_path))

    assert result.passed, result.describe_failures()
    assert result.describe_failures() == ""
    assert result.suite_name == "audience_email_newsletter"
    assert result.target == "marts.aud_email_newsletter"
    assert result.row_count == ROWS
    assert result.evaluated_at.tzinfo is not None
    assert abs(dt.datetime.now(dt.timezone.utc) - result.evaluated_at) < dt.timedelta(minutes=5)
    assert [r.expectation_type for r in result.results] == [
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "unexpected_rows_expectation",
        "unexpected_rows_expectation",
    ]
    assert all(r.success and r.error is None for r in result.results)
    assert all(r.notes for r in result.results), "every expectation carries meta.notes"
    row_count = result.results[0]
    assert row_count.observed_value == ROWS
    assert row_count.kwargs == {"min_value": 100, "max_value": 1000}
    assert result.results[1].column == "person_id" and result.results[1].unexpected_count == 0
    json.dumps(result.to_dict())  # serialisable for Dagster metadata / manifests


# --------------------------------------------------------------------------- failing


def _only_failure(result: GateResult):
    assert not result.passed
    failures = result.failures
    assert len(failures) == 1, result.describe_failures()
    lines = result.describe_failures().splitlines()
    assert len(lines) == 1
    return failures[0], lines[0]


def test_null_email_fails_not_null_with_the_failing_row(tmp_path):
    warehouse = make_warehouse(
        tmp_path, "update marts.aud_email_newsletter set email = null where person_id = 'p007'"
    )
    failure, line = _only_failure(gate(warehouse))

    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_not_be_null", "email")
    assert failure.unexpected_count == 1 and failure.element_count == ROWS
    assert failure.samples == [{"person_id": "p007", "email": None}]
    assert line.startswith(
        "expect_column_values_to_not_be_null(column=email) on marts.aud_email_newsletter: "
        f'1 of {ROWS} rows unexpected, e.g. [{{"person_id": "p007", "email": null}}]'
    )


def test_duplicate_person_id_fails_uniqueness(tmp_path):
    warehouse = make_warehouse(
        tmp_path,
        "insert into marts.aud_email_newsletter values "
        "('p001', 'someone.else@example.com', 'A', 'B', 'granted', timestamp '2024-02-01')",
    )
    failure, line = _only_failure(gate(warehouse))

    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_be_unique", "person_id")
    assert failure.unexpected_count == 2  # both rows of the duplicated key
    assert {s["person_id"] for s in failure.samples} == {"p001"}
    assert f"2 of {ROWS + 1} rows unexpected" in line and '"p001"' in line


def test_duplicate_email_fails_uniqueness(tmp_path):
    warehouse = make_warehouse(
        tmp_path,
        "update marts.aud_email_newsletter set email = 'person1@example.com' where person_id = 'p002'",
    )
    failure, line = _only_failure(gate(warehouse))

    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_be_unique", "email")
    assert "person1@example.com" in line


@pytest.mark.parametrize("bad_email", ["not-an-email", "two@@example.com", "space @example.com", "Upper@Example.com"])
def test_malformed_email_fails_the_format_check(tmp_path, bad_email):
    warehouse = make_warehouse(
        tmp_path,
        f"update marts.aud_email_newsletter set email = '{bad_email}' where person_id = 'p042'",
    )
    failure, line = _only_failure(gate(warehouse))

    assert failure.expectation_type == "unexpected_rows_expectation"
    assert "regexp_matches" in failure.kwargs["unexpected_rows_query"]
    assert failure.unexpected_count == 1
    assert failure.samples == [{"person_id": "p042", "email": bad_email}]
    assert f"1 of {ROWS} rows unexpected" in line and json.dumps(bad_email) in line


@pytest.mark.parametrize("consent", ["withdrawn", None])
def test_consent_not_granted_fails_the_consent_check(tmp_path, consent):
    value = "null" if consent is None else f"'{consent}'"
    warehouse = make_warehouse(
        tmp_path,
        f"update marts.aud_email_newsletter set consent_email_marketing = {value} where person_id = 'p010'",
    )
    failure, line = _only_failure(gate(warehouse))

    assert failure.expectation_type == "unexpected_rows_expectation"
    assert "consent_email_marketing" in failure.kwargs["unexpected_rows_query"]
    assert failure.samples == [{"person_id": "p010", "consent_email_marketing": consent}]
    assert '"p010"' in line


def test_several_failures_give_one_line_each_and_at_most_five_samples(tmp_path):
    warehouse = make_warehouse(
        tmp_path,
        "update marts.aud_email_newsletter set email = null where person_id <= 'p020'",
        "update marts.aud_email_newsletter set consent_email_marketing = 'withdrawn' where person_id > 'p110'",
    )
    result = gate(warehouse)

    assert not result.passed
    failed = {(r.expectation_type, r.column) for r in result.failures}
    assert failed == {
        ("expect_column_values_to_not_be_null", "email"),
        ("unexpected_rows_expectation", None),
    }
    lines = result.describe_failures().splitlines()
    assert len(lines) == 2
    assert any(f"20 of {ROWS} rows unexpected" in line for line in lines)
    assert any(f"10 of {ROWS} rows unexpected" in line for line in lines)
    assert all(len(r.samples) <= 5 for r in result.results)
    assert max(len(r.samples) for r in result.results) == 5
    assert result.to_dict(include_samples=False)["results"][3]["samples"] == []


def test_an_expectation_that_cannot_run_fails_with_its_error(tmp_path):
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"name": "broken", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "person_id"}},
        {"type": "unexpected_rows_expectation",
         "kwargs": {"unexpected_rows_query": "select * from {batch} where no_such_column = 1"}},
    ]}))
    result = run_suite(make_warehouse(tmp_path), suite, QUERY)

    assert not result.passed
    failure, line = _only_failure(result)
    assert failure.error and "no_such_column" in failure.error
    assert "could not be evaluated" in line and "\n" not in failure.error


def test_unreadable_query_raises_and_releases_the_file(tmp_path):
    warehouse = make_warehouse(tmp_path)
    with pytest.raises(GateError, match="cannot read the rows of marts.no_such_table"):
        run_suite(warehouse, SUITE, "select * from marts.no_such_table", PARAMS)
    assert_writable(warehouse)


def test_warehouse_locked_by_a_writer_raises_a_clear_error(tmp_path):
    warehouse = make_warehouse(tmp_path)
    script = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)"
    writer = subprocess.Popen([sys.executable, "-c", script, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        with pytest.raises(GateError, match="cannot open the warehouse.*lock"):
            gate(warehouse)
    finally:
        writer.kill()
        writer.wait()
    assert gate(warehouse).passed


def test_missing_warehouse_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        run_suite(tmp_path / "missing.duckdb", SUITE, QUERY, PARAMS)
    assert not (tmp_path / "missing.duckdb").exists()


# --------------------------------------------------------------------------- placeholders


def test_row_count_band_comes_from_params(tmp_path):
    warehouse = make_warehouse(tmp_path)

    too_small = gate(warehouse, {"min_rows": 500, "max_rows": None})
    failure, line = _only_failure(too_small)
    assert failure.expectation_type == "expect_table_row_count_to_be_between"
    assert failure.kwargs == {"min_value": 500, "max_value": None}
    assert failure.observed_value == ROWS
    assert line.startswith(
        "expect_table_row_count_to_be_between(min_value=500, max_value=null) "
        f"on marts.aud_email_newsletter: observed {ROWS} rows"
    )

    too_big = gate(warehouse, {"min_rows": 1, "max_rows": 50})
    assert _only_failure(too_big)[0].kwargs == {"min_value": 1, "max_value": 50}

    assert gate(warehouse, {"min_rows": ROWS, "max_rows": ROWS, "unused": "ignored"}).passed


def test_unknown_placeholder_is_a_clear_error(tmp_path):
    with pytest.raises(SuiteError, match=r"audience_email_newsletter\.json.*\$\{max_rows\}"):
        gate(make_warehouse(tmp_path), {"min_rows": 1})


def test_placeholder_inside_a_string(tmp_path):
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"name": "embedded", "expectations": [
        {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query":
            "select person_id from {batch} where consent_email_marketing <> '${purpose_state}'"}},
    ]}))
    warehouse = make_warehouse(tmp_path)

    assert run_suite(warehouse, suite, QUERY, {"purpose_state": "granted"}).passed
    failed = run_suite(warehouse, suite, QUERY, {"purpose_state": "withdrawn"})
    assert not failed.passed
    assert failed.results[0].kwargs["unexpected_rows_query"].endswith("<> 'withdrawn'")


def test_placeholder_resolution_keeps_types_and_honours_the_escape():
    suite = {"name": "s", "path": "s.json", "expectations": [{"type": "t", "meta": {}, "kwargs": {
        "whole": "${n}", "list": ["${n}", "x${n}"], "nested": {"v": "${flag}"}, "escaped": "$${n} stays",
    }}]}
    resolved = resolve_placeholders(suite, {"n": 7, "flag": None})["expectations"][0]["kwargs"]
    assert resolved == {"whole": 7, "list": [7, "x7"], "nested": {"v": None}, "escaped": "${n} stays"}
    assert suite["expectations"][0]["kwargs"]["whole"] == "${n}"  # the input is not modified
    with pytest.raises(SuiteError, match=r"s\.json: expectations\[0\] \(t\) kwargs\.list\[1\]: unknown placeholder \$\{m\}"):
        resolve_placeholders({**suite, "expectations": [{"type": "t", "meta": {}, "kwargs": {"list": [1, "${m}"]}}]}, {"n": 1})


# --------------------------------------------------------------------------- suite files


def test_bundled_suite_loads():
    suite = load_suite(SUITE)
    assert suite["name"] == "audience_email_newsletter"
    assert len(suite["expectations"]) == 7
    assert all(e["meta"].get("notes") for e in suite["expectations"])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps({"expectations": [{"type": "expect_column_values_to_not_be_null"}]}), "'name'"),
        (json.dumps({"name": "s", "expectations": []}), "'expectations' must be a non-empty list"),
        (json.dumps({"name": "s", "expectation": []}), "unknown top-level key"),
        (json.dumps({"name": "s", "expectations": ["expect_x"]}), r"expectations\[0\]"),
        (json.dumps({"name": "s", "expectations": [{"type": "expect_column_values_to_be_purple", "kwargs": {}}]}),
         "unknown expectation type 'expect_column_values_to_be_purple'"),
        (json.dumps({"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null",
                                                   "kwargs": {"column": "a", "colour": "x"}}]}),
         r"unknown kwarg\(s\) \['colour'\]"),
        (json.dumps({"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null",
                                                   "kwargs": ["column", "a"]}]}), "'kwargs' must be an object"),
        (json.dumps({"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null",
                                                   "kwargs": {"column": "a", "mostly": 2}}]}), "mostly"),
        (json.dumps({"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null",
                                                   "kwargs": {"column": "a"}, "notes": "x"}]}), "unknown key"),
        (json.dumps({"name": "s", "expectations": [{"type": "expect_column_values_to_match_regex",
                                                   "kwargs": {"column": "email", "regex": "@"}}]}),
         "regex/LIKE expectations on DuckDB; use unexpected_rows_expectation"),
        (json.dumps({"name": "s", "expectations": [{"type": "unexpected_rows_expectation",
                                                   "kwargs": {"unexpected_rows_query": "select * from marts.t"}}]}),
         r"\{batch\}"),
    ],
)
def test_malformed_suite_errors_name_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "bad_suite.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem) as raised:
        load_suite(path)
    assert str(path) in str(raised.value)
    with pytest.raises(SuiteError):  # run_suite checks the suite the same way
        run_suite(make_warehouse(tmp_path), path, QUERY)


# --------------------------------------------------------------------------- connections


def test_warehouse_is_writable_after_run_suite(tmp_path):
    warehouse = make_warehouse(
        tmp_path, "update marts.aud_email_newsletter set email = null where person_id = 'p001'"
    )
    assert not gate(warehouse).passed
    assert_writable(warehouse)
    assert gate(warehouse).row_count == ROWS  # and the gate can run again afterwards


# --------------------------------------------------------------------------- shim


def test_shim_is_installed_once():
    ge_duckdb_shim.install()
    ge_duckdb_shim.install()
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    entries = [d for d in engine_module._PERSISTED_CONNECTION_DIALECTS if d == "duckdb"]
    assert entries == [ge_duckdb_shim.DUCKDB]
    assert ge_duckdb_shim.is_installed()


def test_upstream_duckdb_bug_still_needs_the_shim(tmp_path):
    """great_expectations#11579: without the shim every metric fails on DuckDB.

    When this test fails, GX fetches results before closing its connection (or
    persists DuckDB connections itself): delete ge_duckdb_shim.py, its uses in
    gates.py, and this test.
    """
    import great_expectations as gx

    from dagster_project.quality.gates import _close

    warehouse = make_warehouse(tmp_path)
    installed_before = ge_duckdb_shim.is_installed()
    with ge_duckdb_shim.uninstalled():
        assert not ge_duckdb_shim.is_installed()
        context = gx.get_context(mode="ephemeral")
        datasource = context.data_sources.add_sql("plain", connection_string=f"duckdb:///{warehouse}")
        try:
            batch = datasource.add_query_asset("rows", query=QUERY).add_batch_definition_whole_table("all").get_batch()
            outcome = batch.validate(gx.expectations.ExpectColumnValuesToNotBeNull(column="email"))
        finally:
            _close(datasource)
    assert ge_duckdb_shim.is_installed() == installed_before

    if outcome.success:
        pytest.fail(
            "upstream fixed: remove the shim (dagster_project/quality/ge_duckdb_shim.py): "
            f"Great Expectations {gx.__version__} now validates DuckDB without it "
            "(great_expectations issue #11579)"
        )
    assert "list index out of range" in json.dumps(outcome.exception_info, default=str), (
        f"GX on DuckDB fails differently than issue #11579; re-check the shim: {outcome.exception_info}"
    )
    assert_writable(warehouse)


def _statements_run_by(action) -> list[str]:
    """The SQL every SQLAlchemy engine (GX's included) executes while `action` runs."""
    import sqlalchemy as sa

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    return statements


def test_an_unexpected_rows_query_runs_once_when_it_passes_and_again_to_sample_when_it_fails(tmp_path):
    # GX's own expectation also fetches the rows (a second query) where only their count is read.
    consent_query = "consent_email_marketing is distinct from 'granted'"
    warehouse = make_warehouse(tmp_path)
    statements = _statements_run_by(lambda: gate(warehouse))
    assert len([s for s in statements if consent_query in s]) == 1

    con = duckdb.connect(str(warehouse))
    con.execute("update marts.aud_email_newsletter set consent_email_marketing = 'withdrawn' where person_id = 'p010'")
    con.close()
    results = []
    statements = _statements_run_by(lambda: results.append(gate(warehouse)))
    assert len([s for s in statements if consent_query in s]) == 3  # counted, then counted and sampled
    failure, _ = _only_failure(results[0])
    assert failure.unexpected_count == 1
    assert failure.samples == [{"person_id": "p010", "consent_email_marketing": "withdrawn"}]
