"""Fail-safe: a run that could not read a consent file or an erasure-request
file must not export, since its exports could reach people who withdrew
consent or asked to be erased. Export assets ask `export_hold_reasons` for
their run id and write nothing while it names any reason; the previous
exports stay as they were.
"""

from __future__ import annotations

import duckdb

from dagster_project.config import CdpConfig
from dagster_project.warehouse import table_exists

HELD_METADATA_KEY = "exports_held"
# Status of an erasure-request file that could not be read (governance.erasure_requests).
FILE_REJECTED = "file_rejected"


def export_hold_reasons(con: duckdb.DuckDBPyConnection, config: CdpConfig, run_id: str) -> list[str]:
    """One line per file of this run that holds the exports: rejected consent files, unreadable erasure requests."""
    reasons = []
    consent_sources = [s.name for s in config.sources if s.kind == "consent"]
    if consent_sources and table_exists(con, "raw", "load_log"):
        rows = con.execute(
            "select file, error from raw.load_log where run_id = ? and status in ('rejected', 'failed') "
            "and list_contains(?, source) order by file",
            [run_id, consent_sources],
        ).fetchall()
        reasons += [f"consent file {file} was rejected: {error}" for file, error in rows]
    if table_exists(con, "governance", "erasure_requests"):
        rows = con.execute(
            "select file, reason from governance.erasure_requests where run_id = ? and status = ? order by file",
            [run_id, FILE_REJECTED],
        ).fetchall()
        reasons += [f"erasure request file {file} could not be read: {reason}" for file, reason in rows]
    return reasons
