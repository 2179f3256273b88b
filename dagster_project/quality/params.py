"""Run-time params for the bundled suites, and the standard runs for :func:`run_suites`.

Suites (``expectations/*.json``) and their params:

* ``raw_load``: ``select * from raw.load_log``; no params.
* ``identity_person_map``: ``select * from identity.person_map``; ``max_cluster_size``
  (int).
* ``marts_dim_customer``: ``select * from marts.dim_customer``; no params.
* ``audience_gate``: any audience export query with ``person_id`` (optionally
  ``email``, ``phone``, ``email_sha256``, ``phone_sha256``); params from
  :func:`audience_gate_params`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .gates import SuiteRun
from .suites import SuiteError

__all__ = [
    "NO_SUPPRESSION",
    "audience_gate_params",
    "audience_gate_run",
    "warehouse_gate_runs",
]

NO_SUPPRESSION = "select null as person_id where false"
"""``suppressed_query`` when nobody is suppressed."""

_PURPOSE = re.compile(r"[A-Za-z0-9_.:-]+")


def audience_gate_params(
    purpose: str,
    *,
    min_rows: int | None = 1,
    max_rows: int | None = None,
    suppressed_query: str | None = None,
) -> dict[str, Any]:
    """Params for ``audience_gate.json``.

    ``purpose`` is the consent purpose that must be granted (it goes into a SQL
    string literal, so only letters, digits and ``_.:-`` are accepted).
    ``suppressed_query`` is a DuckDB ``select`` returning a ``person_id`` column
    of people who must not be exported (default: nobody).  ``min_rows``/``max_rows``
    bound the row count (``None`` = unbounded; not both).
    """
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise SuiteError(
            f"audience gate: purpose must be a plain name (letters, digits, _.:-), got {purpose!r}"
        )
    if min_rows is None and max_rows is None:
        raise SuiteError("audience gate: give min_rows or max_rows (or both)")
    query = (suppressed_query or NO_SUPPRESSION).strip().rstrip(";").strip()
    if not query:
        query = NO_SUPPRESSION
    return {"purpose": purpose, "suppressed_query": query, "min_rows": min_rows, "max_rows": max_rows}


def audience_gate_run(
    expectations: Path,
    query: str,
    purpose: str,
    *,
    min_rows: int | None = 1,
    max_rows: int | None = None,
    suppressed_query: str | None = None,
    target: str | None = None,
) -> SuiteRun:
    """The :class:`SuiteRun` of ``audience_gate.json`` (in folder ``expectations``) for an export query."""
    return SuiteRun(
        Path(expectations) / "audience_gate.json",
        query,
        audience_gate_params(
            purpose, min_rows=min_rows, max_rows=max_rows, suppressed_query=suppressed_query
        ),
        target,
    )


def warehouse_gate_runs(
    expectations: Path,
    *,
    max_cluster_size: int,
) -> list[SuiteRun]:
    """The raw load, person map and golden record gates, for one :func:`run_suites` call."""
    folder = Path(expectations)
    return [
        SuiteRun(folder / "raw_load.json", "select * from raw.load_log"),
        SuiteRun(
            folder / "identity_person_map.json",
            "select * from identity.person_map",
            {"max_cluster_size": int(max_cluster_size)},
        ),
        SuiteRun(folder / "marts_dim_customer.json", "select * from marts.dim_customer"),
    ]
