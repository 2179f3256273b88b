"""Workaround for Great Expectations 1.x on DuckDB (great_expectations issue #11579).

The bug: for most dialects GX runs each metric query inside
``with engine.connect() as connection: result = connection.execute(query)`` and
fetches the rows only *after* the ``with`` block has closed the connection.
duckdb-engine's cursor dies with its connection, so every fetch returns nothing
and every metric fails with ``MetricResolutionError: list index out of range``.

GX already knows this problem for sqlite, SQL Server, BigQuery and Databricks:
for the dialects listed in
``great_expectations.execution_engine.sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS``
it builds the engine with a ``StaticPool`` and keeps one connection open for the
life of the execution engine.  GX has no ``GXSqlDialect`` member for DuckDB, so
:func:`install` appends a ``str`` that quacks like one (it compares equal to
``"duckdb"`` and has ``.value == "duckdb"``, the only two things GX does with
the tuple's members).

Consequence for callers: GX now keeps a DuckDB connection open until someone
closes it.  ``dagster_project.quality.gates.run_suite`` closes and disposes
every connection and engine it made; anything else that uses GX on DuckDB in
this process must do the same.

Remove this module once upstream is fixed: ``tests/test_quality_gate.py``
checks that GX without the shim still fails on DuckDB and fails with
"upstream fixed: remove the shim" when it no longer does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["DUCKDB", "install", "is_installed", "uninstalled"]

_GX_MODULE = "great_expectations.execution_engine.sqlalchemy_execution_engine"
_ATTRIBUTE = "_PERSISTED_CONNECTION_DIALECTS"
_lock = threading.Lock()


class _DialectName(str):
    """A dialect name shaped like a ``GXSqlDialect`` member (which has no DuckDB entry)."""

    @property
    def value(self) -> str:
        return str(self)


DUCKDB = _DialectName("duckdb")


def _gx_module() -> ModuleType:
    import importlib

    module = importlib.import_module(_GX_MODULE)
    if not isinstance(getattr(module, _ATTRIBUTE, None), tuple):
        raise RuntimeError(
            f"{_GX_MODULE}.{_ATTRIBUTE} is gone or no longer a tuple: Great Expectations "
            "changed its internals; revisit dagster_project/quality/ge_duckdb_shim.py "
            "(great_expectations issue #11579)."
        )
    return module


def is_installed() -> bool:
    """Whether this module's DuckDB entry is in GX's persisted-connection dialects."""
    return any(dialect is DUCKDB for dialect in getattr(_gx_module(), _ATTRIBUTE))


def install() -> None:
    """Make GX keep one open connection for DuckDB engines.  Idempotent, thread-safe.

    Only execution engines created after this call are affected.
    """
    with _lock:
        module = _gx_module()
        dialects = getattr(module, _ATTRIBUTE)
        if not any(dialect is DUCKDB for dialect in dialects):
            setattr(module, _ATTRIBUTE, (*dialects, DUCKDB))


@contextmanager
def uninstalled() -> Iterator[None]:
    """Temporarily remove the shim (to check whether upstream still needs it)."""
    with _lock:
        module = _gx_module()
        before = getattr(module, _ATTRIBUTE)
        setattr(module, _ATTRIBUTE, tuple(d for d in before if d is not DUCKDB))
    try:
        yield
    finally:
        with _lock:
            setattr(module, _ATTRIBUTE, before)
