"""quality.validation_results: one row per expectation of every gate run, shared by
the warehouse gates (defs/quality.py) and the export gates (defs/export.py)."""

from __future__ import annotations

import json

from .gates import GateResult

RESULTS_DDL = """
create schema if not exists quality;
create table if not exists quality.validation_results (
    run_id varchar,
    suite varchar not null,
    target varchar not null,
    expectation varchar not null,
    column_name varchar,
    success boolean not null,
    observed_value varchar,
    unexpected_count bigint,
    evaluated_at timestamp not null
);
"""


def record_gate_result(con, result: GateResult, run_id: str) -> None:
    con.execute(RESULTS_DDL)
    rows = [
        (run_id, result.suite_name, result.target, o.expectation_type, o.column, o.success,
         None if o.observed_value is None else json.dumps(o.observed_value, default=str)[:1000],
         o.unexpected_count, result.evaluated_at.replace(tzinfo=None))
        for o in result.results
    ]
    con.executemany("insert into quality.validation_results values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
