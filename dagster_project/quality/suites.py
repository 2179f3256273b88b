"""Expectation suite files: loading, checking and ``${name}`` placeholders.

A suite is a JSON file::

    {
      "name": "audience_email_newsletter",
      "row_id_columns": ["person_id"],            # optional
      "expectations": [
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "email"},
         "meta": {"notes": "every member must be reachable"}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": "${min_rows}", "max_value": "${max_rows}"}}
      ]
    }

``type`` is a Great Expectations 1.x expectation type in snake case; ``kwargs``
are that expectation's fields.  ``row_id_columns`` (optional) name columns that
identify a row: failing column checks then sample those columns along with the
failing value.

Placeholders: a string of the form ``"${name}"`` is replaced by ``params[name]``
keeping its type (so ``"${min_rows}"`` becomes the integer the caller passed);
a placeholder inside a longer string is replaced by ``str(params[name])``.
``$${`` is a literal ``${``.  GX's own ``{batch}`` in ``unexpected_rows_query``
is unrelated and left alone.

GX fills ``unexpected_rows_query`` with ``str.format``, so a literal brace in
that SQL (a regex quantifier such as ``[0-9]{{64}}``) is written doubled in the
suite file.  A value substituted *inside* such a query (e.g. a caller's SQL
passed as ``"... (${suppressed_query}) ..."``) is literal text: its braces are
doubled for GX, so a regex ``{3}`` in it reaches DuckDB unchanged.  A value
that *is* the whole query (``"unexpected_rows_query": "${query}"``) is a query
template like one written in the file, ``{batch}`` and doubled braces included.

Great Expectations is imported lazily (importing it takes seconds).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "SuiteError",
    "build_expectation",
    "load_suite",
    "placeholders",
    "resolve_placeholders",
]

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Kwargs GX fills with ``str.format`` ({batch}); values embedded in them get their braces doubled.
_GX_FORMATTED_KWARGS = {"unexpected_rows_query"}
_TOP_LEVEL_KEYS = {"name", "expectations", "row_id_columns", "meta"}
_ENTRY_KEYS = {"type", "kwargs", "meta"}
# Fields of every GX expectation that a suite file must not set in kwargs: they are
# either set by the gate (id, batch_id, result_format), computed (rendered_content), or
# belong in the entry's "meta".
_RESERVED_KWARGS = {"id", "batch_id", "meta", "rendered_content", "result_format"}
# GX 1.x raises "Regex/Like patterns are not supported for dialect duckdb" at run time.
_UNSUPPORTED_ON_DUCKDB = {
    f"expect_column_values_to_{negation}match_{kind}{suffix}"
    for negation in ("", "not_")
    for kind in ("regex", "like_pattern")
    for suffix in ("", "_list")
}


class SuiteError(ValueError):
    """A suite file is malformed, or cannot be resolved with the given params."""


# --------------------------------------------------------------------------- placeholders


def _placeholders_in(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(m.group(1) for m in _PLACEHOLDER.finditer(value) if m.group(1))
    elif isinstance(value, dict):
        for item in value.values():
            _placeholders_in(item, found)
    elif isinstance(value, list):
        for item in value:
            _placeholders_in(item, found)


def placeholders(suite: dict) -> set[str]:
    """Names of all ``${name}`` placeholders used by a loaded suite's kwargs."""
    found: set[str] = set()
    for entry in suite["expectations"]:
        _placeholders_in(entry["kwargs"], found)
    return found


def _resolve(value: Any, params: dict[str, Any], where: str, *, gx_formatted: bool = False) -> Any:
    if isinstance(value, str):
        whole = _WHOLE_PLACEHOLDER.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), params, where)

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) is None:  # "$${" escape
                return "${"
            text = str(_lookup(match.group(1), params, where))
            return text.replace("{", "{{").replace("}", "}}") if gx_formatted else text

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, dict):
        return {
            key: _resolve(
                item, params, f"{where}.{key}", gx_formatted=gx_formatted or key in _GX_FORMATTED_KWARGS
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _resolve(item, params, f"{where}[{i}]", gx_formatted=gx_formatted)
            for i, item in enumerate(value)
        ]
    return value


def _lookup(name: str, params: dict[str, Any], where: str) -> Any:
    if name not in params:
        known = ", ".join(sorted(params)) or "none"
        raise SuiteError(
            f"{where}: unknown placeholder ${{{name}}} (params given: {known})"
        )
    return params[name]


def resolve_placeholders(suite: dict, params: dict[str, Any] | None = None) -> dict:
    """A copy of ``suite`` with every ``${name}`` in the kwargs replaced from ``params``.

    Raises :class:`SuiteError` naming the suite file and the kwarg for an unknown
    placeholder.  Params no placeholder uses are ignored.
    """
    params = dict(params or {})
    resolved = copy.deepcopy(suite)
    source = suite.get("path", suite.get("name", "suite"))
    for index, entry in enumerate(resolved["expectations"]):
        where = f"{source}: expectations[{index}] ({entry['type']}) kwargs"
        entry["kwargs"] = _resolve(entry["kwargs"], params, where)
    return resolved


# --------------------------------------------------------------------------- expectations


def _expectation_class(expectation_type: str) -> type:
    from great_expectations import expectations as _register_core  # noqa: F401  (fills the registry)
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        return get_expectation_impl(expectation_type)
    except ExpectationNotFoundError:
        raise LookupError(expectation_type) from None


def build_expectation(entry: dict, where: str) -> Any:
    """The GX ``Expectation`` for one resolved suite entry (placeholders already replaced)."""
    from great_expectations.compatibility.pydantic import ValidationError

    cls = _expectation_class(entry["type"])
    meta = entry.get("meta") or {}
    fields: dict[str, Any] = dict(entry["kwargs"])
    if "notes" in meta and "notes" not in fields:
        fields["notes"] = meta["notes"]
    try:
        return cls(**fields, meta=meta or None)
    except ValidationError as error:
        first_per_field: dict[str, str] = {}  # pydantic repeats a field once per Union member
        for problem in error.errors():
            first_per_field.setdefault(".".join(str(p) for p in problem["loc"]), problem["msg"])
        problems = "; ".join(f"{loc}: {msg}" for loc, msg in first_per_field.items())
        raise SuiteError(f"{where}: invalid kwargs: {problems}") from None
    except (TypeError, ValueError) as error:
        raise SuiteError(f"{where}: invalid kwargs: {error}") from None


def _check_entry(entry: Any, where: str) -> dict:
    if not isinstance(entry, dict):
        raise SuiteError(f"{where}: must be an object with 'type' and 'kwargs', got {entry!r}")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise SuiteError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}"
        )
    expectation_type = entry.get("type")
    if not isinstance(expectation_type, str) or not expectation_type:
        raise SuiteError(f"{where}: 'type' must be a non-empty string, got {expectation_type!r}")
    where = f"{where} ({expectation_type})"
    if expectation_type in _UNSUPPORTED_ON_DUCKDB:
        raise SuiteError(
            f"{where}: Great Expectations does not support regex/LIKE expectations on DuckDB; "
            "use unexpected_rows_expectation with DuckDB SQL, e.g. "
            "\"select * from {batch} where not regexp_matches(email, '...')\""
        )
    try:
        cls = _expectation_class(expectation_type)
    except LookupError:
        raise SuiteError(
            f"{where}: unknown expectation type {expectation_type!r} "
            "(expected a Great Expectations 1.x type such as "
            "'expect_column_values_to_not_be_null' or 'unexpected_rows_expectation')"
        ) from None
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where}: 'kwargs' must be an object, got {kwargs!r}")
    meta = entry.get("meta", {})
    if not isinstance(meta, dict):
        raise SuiteError(f"{where}: 'meta' must be an object, got {meta!r}")
    allowed = set(cls.__fields__) - _RESERVED_KWARGS
    unknown = set(kwargs) - allowed
    if unknown:
        raise SuiteError(
            f"{where}: unknown kwarg(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    if expectation_type == "unexpected_rows_expectation":
        query = kwargs.get("unexpected_rows_query")
        if not isinstance(query, str) or "{batch}" not in query:
            raise SuiteError(
                f"{where}: 'unexpected_rows_query' must be a SQL string selecting the "
                "unexpected rows from {batch} (the validated rows), e.g. "
                "\"select * from {batch} where ...\""
            )
    return {"type": expectation_type, "kwargs": kwargs, "meta": meta}


def load_suite(path: Path) -> dict:
    """Read and check a suite file.

    Returns ``{"name", "path", "row_id_columns", "meta", "expectations": [{"type",
    "kwargs", "meta"}, ...]}`` (kwargs may still hold ``${name}`` placeholders).
    Raises :class:`SuiteError` (a ``ValueError``) naming the file and the problem for
    malformed JSON, a wrong structure, an unknown expectation type or kwarg, or
    kwargs GX rejects; ``FileNotFoundError`` if there is no such file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: a suite must be a JSON object, got {type(raw).__name__}")
    unknown = set(raw) - _TOP_LEVEL_KEYS
    if unknown:
        raise SuiteError(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_LEVEL_KEYS)}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SuiteError(f"{path}: 'name' must be a non-empty string, got {name!r}")
    entries = raw.get("expectations")
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"{path}: 'expectations' must be a non-empty list, got {entries!r}")
    row_id_columns = raw.get("row_id_columns", [])
    if not isinstance(row_id_columns, list) or not all(
        isinstance(c, str) and c for c in row_id_columns
    ):
        raise SuiteError(
            f"{path}: 'row_id_columns' must be a list of column names, got {row_id_columns!r}"
        )
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        raise SuiteError(f"{path}: 'meta' must be an object, got {meta!r}")

    checked = []
    for index, entry in enumerate(entries):
        where = f"{path}: expectations[{index}]"
        checked_entry = _check_entry(entry, where)
        # Entries without placeholders are fully checked now, not at the first run.
        found: set[str] = set()
        _placeholders_in(checked_entry["kwargs"], found)
        if not found:
            build_expectation(
                {**checked_entry, "kwargs": _resolve(checked_entry["kwargs"], {}, where)},
                f"{where} ({checked_entry['type']})",
            )
        checked.append(checked_entry)

    return {
        "name": name,
        "path": str(path),
        "row_id_columns": list(row_id_columns),
        "meta": meta,
        "expectations": checked,
    }
