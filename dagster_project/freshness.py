"""How fresh a run's output is: per landing file it loaded, when the file
landed, was loaded, and when its people reached profiles and audiences.

`ops.file_freshness` holds one row per file loaded by a run. The times come
from the run's Dagster event log (when each asset was materialized) and from
the files themselves (landed = modification time), all naive UTC like
raw.load_log. A full run rebuilds every profile, so every file of a run
reaches profiles and audiences at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from dagster_project.config import CdpConfig
from dagster_project.warehouse import table_exists

PROFILES = ("marts", "customer_traits")

FRESHNESS_DDL = """
create schema if not exists ops;
create table if not exists ops.file_freshness (
    run_id varchar not null,
    source varchar not null,
    file varchar not null,
    sha256 varchar not null,
    landed_at timestamp,           -- the file's modification time (null: gone from the landing folder)
    loaded_at timestamp not null,  -- raw.load_log
    profiled_at timestamp,         -- marts.customer_traits built (null: not built in this run)
    audience_at timestamp,         -- last audience mart or export written in this run
    landed_to_audience_seconds double
);
"""


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)


@dataclass
class RunTimeline:
    """When each asset of a run was materialized, and how long each step took."""
    materialized_at: dict[tuple[str, ...], datetime] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    failed_steps: set[str] = field(default_factory=set)

    def steps(self) -> list[dict]:
        """Each finished step, longest first: step, seconds, status (the run report's table)."""
        return [{"step": step, "seconds": round(seconds, 2), "status": "failed" if step in self.failed_steps else "succeeded"}
                for step, seconds in sorted(self.step_seconds.items(), key=lambda item: -item[1])]


def run_timeline(instance: dg.DagsterInstance, run_id: str) -> RunTimeline:
    timeline, started = RunTimeline(), {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            timeline.materialized_at[tuple(event.asset_key.path)] = utc(entry.timestamp)
        elif event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.is_step_success or event.is_step_failure:
            timeline.step_seconds[event.step_key] = entry.timestamp - started.get(event.step_key, entry.timestamp)
            if event.is_step_failure:
                timeline.failed_steps.add(event.step_key)
    return timeline


def audience_assets(config: CdpConfig) -> set[tuple[str, ...]]:
    """The audience marts and their exports: a person in any of them has reached an audience."""
    marts = {("marts", audience.model) for audience in config.audiences}
    exports = {("export", destination.name, name) for destination in config.destinations for name in destination.audiences}
    return marts | exports


def record_file_freshness(con: duckdb.DuckDBPyConnection, config: CdpConfig, run_id: str, timeline: RunTimeline) -> int:
    """Write a row per file this run loaded into ops.file_freshness; returns how many."""
    con.execute(FRESHNESS_DDL)
    if not table_exists(con, "raw", "load_log"):
        return 0
    files = sorted({row[0] for row in con.execute(
        "select file from raw.load_log where run_id = ? and status = 'loaded'", [run_id]).fetchall()})
    landed = pl.DataFrame({"file": files, "landed_at": [_modified_at(config.landing / f) for f in files]},
                          schema={"file": pl.String, "landed_at": pl.Datetime("us")})
    reached = [at for key, at in timeline.materialized_at.items() if key in audience_assets(config)]
    profiled_at, audience_at = timeline.materialized_at.get(PROFILES), max(reached, default=None)
    con.register("landed_files", landed.to_arrow())
    try:
        con.execute("delete from ops.file_freshness where run_id = ?", [run_id])
        con.execute(
            """
            insert into ops.file_freshness
            select log.run_id, log.source, log.file, log.sha256, landed.landed_at, log.loaded_at,
                   cast(? as timestamp), cast(? as timestamp),
                   epoch_ms(cast(? as timestamp)) / 1000.0 - epoch_ms(landed.landed_at) / 1000.0
            from raw.load_log as log left join landed_files as landed using (file)
            where log.run_id = ? and log.status = 'loaded'
            """,
            [profiled_at, audience_at, audience_at, run_id],
        )
    finally:
        con.unregister("landed_files")
    return con.execute("select count(*) from ops.file_freshness where run_id = ?", [run_id]).fetchall()[0][0]


def _modified_at(path: Path) -> datetime | None:
    return utc(path.stat().st_mtime) if path.is_file() else None


def latest_latency(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, float | None, float | None] | None:
    """Files the run loaded, and the shortest and longest landed -> audience seconds among them (None: no such table)."""
    if not table_exists(con, "ops", "file_freshness"):
        return None
    return con.execute(
        "select count(*), min(landed_to_audience_seconds), max(landed_to_audience_seconds) from ops.file_freshness where run_id = ?",
        [run_id]).fetchall()[0]
