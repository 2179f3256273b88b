"""Quality gates: validate the rows of a warehouse query against an expectation suite.

``run_suite`` runs a Great Expectations 1.x suite *in place* in the DuckDB
warehouse: an ephemeral GX context, a SQL datasource on ``duckdb:///<file>``
(opened read-only), a query asset for the rows under test and a whole-table
batch definition.  Every metric is a SQL query run by DuckDB; no table is
copied into pandas.  Only the few sample failing values/rows GX fetches come
back into Python.

DuckDB specifics (GX 1.x does not support DuckDB officially):

* GX fetches query results after closing the connection, which breaks every
  metric on duckdb-engine (upstream issue #11579); :mod:`.ge_duckdb_shim` makes
  GX keep one connection open, and ``run_suite`` closes and disposes it.
* Table assets outside schema ``main`` lose their schema: validate a query
  such as ``select * from marts.aud_email_newsletter`` instead.
* Regex/LIKE expectations fail on this dialect: write them as
  ``unexpected_rows_expectation`` with DuckDB SQL (``regexp_matches``).

``run_suites`` validates several (suite, query, params) in one GX context and
one connection (setting up GX costs ~0.1 s per call; importing it ~5 s once per
process) and returns what ``run_suite`` would for each.

Result formats: column expectations run with GX's SUMMARY format (at most
``MAX_SAMPLES`` failing values/row ids are fetched, however many rows fail);
``unexpected_rows_expectation`` only returns sample rows with COMPLETE: the first
pass only counts its rows (one query each), and the ones that fail are evaluated a
second time with COMPLETE.

Connection handling: the caller must not hold a DuckDB connection to the file
while ``run_suite`` runs (DuckDB allows one writer process, and a read-write
and a read-only connection cannot coexist in one process).  When ``run_suite``
returns or raises, everything it opened is closed, so the caller, or another
process such as dbt, can open the file read-write again.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from . import ge_duckdb_shim
from .suites import SuiteError, build_expectation, load_suite, resolve_placeholders

__all__ = [
    "ExpectationOutcome",
    "GateError",
    "GateResult",
    "SuiteError",
    "SuiteRun",
    "load_suite",
    "run_suite",
    "run_suites",
]

logger = logging.getLogger(__name__)

MAX_SAMPLES = 5
_SIMPLE_QUERY = re.compile(
    r"\s*select\s+\*\s+from\s+([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*)\s*;?\s*", re.IGNORECASE
)


class GateError(RuntimeError):
    """The gate could not be evaluated at all (warehouse not openable, query unreadable)."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation of a suite."""

    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]  # as validated, placeholders resolved
    success: bool
    observed_value: Any = None  # e.g. the row count; for unexpected_rows_expectation the number of rows
    unexpected_count: int | None = None  # failing rows (None for aggregate/table expectations)
    element_count: int | None = None  # rows considered, when GX reports it
    samples: list[Any] = field(default_factory=list)  # at most MAX_SAMPLES failing values or rows
    notes: str | None = None  # meta.notes from the suite
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # set when GX could not evaluate the expectation (counts as failed)

    def signature(self) -> str:
        """``type(column=email, ...)`` for messages."""
        items = dict(self.kwargs)
        parts = []
        if "column" in items:
            parts.append(f"column={items.pop('column')}")
        for key, value in items.items():
            parts.append(f"{key}={_short(value)}")
        return f"{self.expectation_type}({', '.join(parts)})"


@dataclass(frozen=True)
class GateResult:
    """The outcome of validating one query's rows against one suite."""

    suite_name: str
    passed: bool
    evaluated_at: _dt.datetime  # UTC, when validation started
    results: list[ExpectationOutcome]
    target: str  # what was validated, e.g. "marts.aud_email_newsletter"
    row_count: int  # rows returned by the query
    query: str | None = None  # the validated query (None when built by hand)
    params: dict[str, Any] | None = None  # the params the suite's placeholders were filled with

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    def describe_failures(self) -> str:
        """One human-readable line per failed expectation ("" when the gate passed)."""
        return "\n".join(self._describe(outcome) for outcome in self.failures)

    def _describe(self, outcome: ExpectationOutcome) -> str:
        head = f"{outcome.signature()} on {self.target}: "
        if outcome.error is not None:
            body = f"could not be evaluated: {outcome.error}"
        elif outcome.unexpected_count is not None:
            total = outcome.element_count if outcome.element_count is not None else self.row_count
            body = f"{outcome.unexpected_count} of {total} rows unexpected"
            if outcome.samples:
                body += f", e.g. {_samples_text(outcome.samples)}"
        elif outcome.expectation_type.startswith("expect_table_row_count"):
            body = f"observed {outcome.observed_value} rows"
        else:
            body = f"observed {_samples_text(outcome.observed_value)}"
        if outcome.notes:
            body += f" ({outcome.notes})"
        return head + body

    def to_dict(self, *, include_samples: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict (for logs, Dagster metadata, export manifests).

        Samples are failing values/rows, i.e. possibly personal data: pass
        ``include_samples=False`` for anything that leaves the platform.
        """
        data = json.loads(json.dumps(asdict(self), default=_json_default))
        data["failures"] = self.describe_failures().splitlines() if include_samples else [
            f"{o.signature()} on {self.target}" for o in self.failures
        ]
        if not include_samples:
            for record in data["results"]:
                record["samples"] = []
        return data


# --------------------------------------------------------------------------- run_suite(s)


class SuiteRun(NamedTuple):
    """One validation for :func:`run_suites`: a plain ``(suite_path, query, params)`` tuple works too."""

    suite_path: Path
    query: str
    params: dict[str, Any] | None = None
    target: str | None = None  # label for messages, as in run_suite


def run_suite(
    warehouse_path: Path,
    suite_path: Path,
    query: str,
    params: dict[str, Any] | None = None,
    *,
    target: str | None = None,
) -> GateResult:
    """Validate the rows returned by ``query`` in the DuckDB file against a suite.

    ``params`` fill the suite's ``${name}`` placeholders (unknown placeholder:
    :class:`SuiteError`).  ``target`` labels the rows in messages; by default the
    table of a ``select * from schema.table`` query, else the query text.

    Failing expectations do not raise: check ``GateResult.passed``.  Raises
    ``FileNotFoundError`` for a missing warehouse or suite file, :class:`SuiteError`
    for a bad suite, and :class:`GateError` (a ``RuntimeError``) when the warehouse
    cannot be opened (e.g. a writer holds its lock) or the query cannot be read.
    """
    return run_suites(warehouse_path, [SuiteRun(suite_path, query, params, target)])[0]


def run_suites(
    warehouse_path: Path,
    runs: Iterable[SuiteRun | tuple],
) -> list[GateResult]:
    """Several :func:`run_suite` validations in one GX context and one connection.

    ``runs`` holds ``(suite_path, query, params)`` or ``(suite_path, query, params,
    target)`` tuples (or :class:`SuiteRun`); the results come back in the same
    order and equal what ``run_suite`` returns for each (``evaluated_at`` aside).
    Setting up GX and opening the warehouse happens once instead of per suite.

    Every suite is loaded and its placeholders resolved before the warehouse is
    opened, so a bad suite or a missing param raises before any query runs.
    Raises like :func:`run_suite`; a query that cannot be read raises
    :class:`GateError` naming its suite (no partial results), and everything
    opened is closed either way.
    """
    warehouse = Path(warehouse_path).resolve()
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")
    prepared = [prepare_run(SuiteRun(*run)) for run in runs]
    if not prepared:
        return []
    return _validate_all(warehouse, prepared)


@dataclass
class PreparedRun:
    """A suite loaded and resolved with its params, ready to validate."""

    suite: dict
    query: str
    label: str
    params: dict[str, Any]
    entries: list[dict]  # resolved suite entries
    row_id_columns: list[str]


def prepare_run(run: SuiteRun) -> PreparedRun:
    suite = resolve_placeholders(load_suite(Path(run.suite_path)), run.params)
    for index in range(len(suite["expectations"])):
        _build(suite, index)  # surface bad kwargs now, before the warehouse is opened
    return PreparedRun(
        suite=suite,
        query=run.query,
        label=run.target or _label(run.query),
        params=dict(run.params or {}),
        entries=list(suite["expectations"]),
        row_id_columns=list(suite["row_id_columns"]),
    )


def _build(suite: dict, index: int, count_rows_only: bool = False) -> Any:
    entry = suite["expectations"][index]
    expectation = build_expectation(entry, f"{suite['path']}: expectations[{index}] ({entry['type']})")
    if count_rows_only and entry["type"] == "unexpected_rows_expectation":
        return _unexpected_rows_count_class()(**expectation.dict(exclude={"id"}, exclude_unset=True))
    return expectation


@functools.cache
def _unexpected_rows_count_class() -> type:
    """unexpected_rows_expectation that only counts its rows. GX's own also fetches them (its
    `.table` metric) even when the result format never shows them, so every query ran twice
    (the conflict query on 1,000,000 people: 5.7 s each time). Defined on first use: GX's
    import is slow, and a subclass registers itself in GX's registry."""
    from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation

    class UnexpectedRowsCount(UnexpectedRowsExpectation):
        metric_dependencies = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None) -> dict:
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    return UnexpectedRowsCount


def _result_format(run: PreparedRun, kind: str) -> dict[str, Any]:
    result_format: dict[str, Any] = {"result_format": kind, "partial_unexpected_count": MAX_SAMPLES}
    if run.row_id_columns:
        result_format["unexpected_index_column_names"] = list(run.row_id_columns)
    return result_format


def _validate_all(warehouse: Path, prepared: list[PreparedRun]) -> list[GateResult]:
    """Validate every prepared suite on one GX datasource; closes all it opens."""
    import great_expectations as gx
    import sqlalchemy as sa
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ge_duckdb_shim.install()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    connection_string = sa.engine.URL.create("duckdb", database=str(warehouse)).render_as_string(
        hide_password=False
    )
    names = ", ".join(dict.fromkeys(repr(p.suite["name"]) for p in prepared))
    datasource = None
    try:
        try:
            datasource = context.data_sources.add_sql(
                name="warehouse",
                connection_string=connection_string,
                # The gate never writes; read-only also guards against GX temp-table writes.
                kwargs={"connect_args": {"read_only": True}},
            )
        except Exception as error:  # GX raises TestConnectionError (e.g. file locked by a writer)
            raise GateError(
                f"quality gate {names}: cannot open the warehouse {warehouse}: "
                f"{_condense(str(error.__cause__ or error))}"
            ) from error
        results = []
        for index, run in enumerate(prepared):
            evaluated_at = _dt.datetime.now(_dt.timezone.utc)
            row_count, batch = _query_batch(sa, datasource, warehouse, run, f"rows_{index}")
            results.append(gate_result(run, evaluated_at, row_count, validate_batch(gx, batch, run)))
        return results
    finally:
        if datasource is not None:
            _close(datasource)


def _query_batch(sa: Any, datasource: Any, warehouse: Path, run: PreparedRun, asset_name: str) -> tuple[int, Any]:
    """(row count of the run's query, a GX batch of its rows) on the SQL datasource."""
    suite_name = run.suite["name"]
    # GX turns an unreadable query into one error per expectation; fail once, clearly.
    body = run.query.strip().rstrip(";").rstrip()
    try:
        with datasource.get_engine().connect() as connection:
            row_count = connection.execute(
                sa.text(f"select count(*) from (\n{body}\n) as gate_rows")
            ).scalar_one()
    except sa.exc.SQLAlchemyError as error:
        raise GateError(
            f"quality gate {suite_name!r}: cannot read the rows of {run.label} "
            f"from {warehouse}: {_condense(str(error))}"
        ) from error
    asset = datasource.add_query_asset(name=asset_name, query=run.query)
    return int(row_count), asset.add_batch_definition_whole_table("all").get_batch()


def gate_result(run: PreparedRun, evaluated_at: _dt.datetime, row_count: int, validation_results: list[Any]) -> GateResult:
    outcomes = [
        _outcome(entry, validation_result, bool(run.row_id_columns))
        for entry, validation_result in zip(run.entries, validation_results)
    ]
    return GateResult(
        suite_name=run.suite["name"],
        passed=all(o.success for o in outcomes),
        evaluated_at=evaluated_at,
        results=outcomes,
        target=run.label,
        row_count=row_count,
        query=run.query,
        params=run.params,
    )


def validate_batch(gx: Any, batch: Any, run: PreparedRun) -> list[Any]:
    """One GX validation result per suite entry, in order (any engine's batch).

    Result formats: column expectations run with SUMMARY, which fetches at most
    MAX_SAMPLES failing values and row ids (COMPLETE would fetch every failing
    value: a million for a column of nulls).  unexpected_rows_expectation only
    returns its sample rows with COMPLETE, so the first pass counts its rows only
    (_unexpected_rows_count_class) and the ones that failed run once more with
    COMPLETE; on data that passes, that second pass never happens.
    """
    suite_name = run.suite["name"]

    def validate(indexes: list[int], kind: str) -> dict[int, Any]:
        expectations = {index: _build(run.suite, index, count_rows_only=kind != "COMPLETE") for index in indexes}
        suite = gx.ExpectationSuite(name=suite_name, expectations=list(expectations.values()))
        # GX refuses expectations that already have an id; the ids match results to entries.
        for expectation in expectations.values():
            expectation.id = str(uuid.uuid4())
        validation = batch.validate(suite, result_format=_result_format(run, kind))
        by_id = {r.expectation_config.id: r for r in validation.results}
        return {index: by_id.get(expectation.id) for index, expectation in expectations.items()}

    results = validate(list(range(len(run.entries))), "SUMMARY")
    rows_to_sample = [
        index
        for index, entry in enumerate(run.entries)
        if entry["type"] == "unexpected_rows_expectation"
        and results[index] is not None
        and not results[index].success
        and _exception_message(results[index].exception_info) is None
    ]
    if rows_to_sample:
        results.update(validate(rows_to_sample, "COMPLETE"))
    return [results[index] for index in range(len(run.entries))]


def _close(datasource: Any) -> None:
    """Close the connection GX keeps (see the shim) and dispose both engines GX made.

    The datasource's own engine (connection tests, the row count) and the execution
    engine's (metrics) are separate; both pool DuckDB connections until disposed.
    """
    execution_engine = getattr(datasource, "_execution_engine", None)
    engines = [getattr(datasource, "_engine", None)]
    if execution_engine is not None:
        connection = getattr(execution_engine, "_connection", None)
        if connection is not None:
            try:
                connection.close()
            except Exception:  # keep going: the engines below must be disposed regardless
                logger.warning("quality gate: closing the GX connection failed", exc_info=True)
            execution_engine._connection = None
        engines += [getattr(execution_engine, "engine", None), getattr(execution_engine, "_engine_backup", None)]
    for engine in {id(e): e for e in engines if e is not None and hasattr(e, "dispose")}.values():
        try:
            engine.dispose()
        except Exception:
            logger.warning("quality gate: disposing a GX engine failed", exc_info=True)


# --------------------------------------------------------------------------- result mapping


def _outcome(entry: dict, validation_result: Any, with_row_ids: bool) -> ExpectationOutcome:
    kwargs = dict(entry["kwargs"])
    meta = dict(entry.get("meta") or {})
    notes = meta.get("notes")
    common = dict(
        expectation_type=entry["type"],
        column=kwargs.get("column") if isinstance(kwargs.get("column"), str) else None,
        kwargs=kwargs,
        notes=notes if isinstance(notes, str) else None,
        meta=meta,
    )
    if validation_result is None:  # not expected to happen: GX returns one result per expectation
        return ExpectationOutcome(success=False, error="no result returned by Great Expectations", **common)

    error = _exception_message(validation_result.exception_info)
    result = dict(validation_result.result or {})
    success = bool(validation_result.success) and error is None

    unexpected_count = result.get("unexpected_count")
    element_count = result.get("element_count")
    observed = result.get("observed_value")
    samples: list[Any]
    if entry["type"] == "unexpected_rows_expectation":
        unexpected_count = observed if isinstance(observed, int) else None
        samples = list((result.get("details") or {}).get("unexpected_rows") or [])
    elif with_row_ids and result.get("partial_unexpected_index_list"):
        samples = list(result["partial_unexpected_index_list"])
    else:
        samples = list(result.get("partial_unexpected_list") or [])
    return ExpectationOutcome(
        success=success,
        observed_value=observed,
        unexpected_count=unexpected_count,
        element_count=element_count,
        samples=samples[:MAX_SAMPLES],
        error=error,
        **common,
    )


def _exception_message(info: Any) -> str | None:
    """One line from GX's error report: one ExceptionInfo or {metric id: ExceptionInfo}."""
    messages = list(dict.fromkeys(_condense(m) for m in _exception_messages(info)))
    return "; ".join(messages) or None


def _exception_messages(info: Any) -> list[str]:
    if not isinstance(info, dict) or not info:
        return []
    if "raised_exception" in info or "exception_message" in info:
        if not info.get("raised_exception", True):
            return []
        return [str(info.get("exception_message") or "unknown error")]
    return [m for value in info.values() for m in _exception_messages(value)]


def _condense(message: str) -> str:
    """First paragraph of a driver error, on one line, without SQLAlchemy's SQL echo."""
    message = message.split("\n[SQL:")[0].split("\n(Background on this error")[0]
    first = " ".join(message.strip().split("\n\n")[0].split())
    return first if len(first) <= 300 else first[:297] + "..."


def _label(query: str) -> str:
    match = _SIMPLE_QUERY.fullmatch(query)
    if match:
        return match.group(1)
    text = " ".join(query.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _short(value: Any, limit: int = 60) -> str:
    """A kwarg value for a one-line message."""
    if isinstance(value, str):
        text = " ".join(value.split())
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        return text if re.fullmatch(r"[\w.@$-]+", text) else f'"{text}"'
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _samples_text(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=_json_default, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
