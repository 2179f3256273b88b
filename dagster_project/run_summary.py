"""What a run did, read back from the warehouse and the exports folder.

Rejected files and held exports come first. Figures of steps that did not
materialize in this run (failed or skipped) are marked "(from an earlier run)".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dagster_project.config import CdpConfig
from dagster_project.freshness import latest_latency
from dagster_project.identity.source_ages import stored_min_ages
from dagster_project.ingest.holds import FILE_REJECTED, export_hold_reasons
from dagster_project.progress import peak_memory_mb
from dagster_project.warehouse import connect, table_exists

# `cdp run` exit statuses (2 is a config error, before any run).
EXIT_COMPLETED, EXIT_FAILED, EXIT_REJECTED_FILES, EXIT_EXPORTS_HELD = 0, 1, 3, 4
STATUS_TEXT = {
    EXIT_COMPLETED: "completed",
    EXIT_FAILED: "failed",
    EXIT_REJECTED_FILES: "completed with rejected files",
    EXIT_EXPORTS_HELD: "completed, exports held",
}
EARLIER = " (from an earlier run)"


@dataclass
class RunSummary:
    run_id: str
    sources: list[dict] = field(default_factory=list)
    identity_records: int | None = None
    persons: int | None = None
    one_record_sources: list = field(default_factory=list)  # (source, why) treated as one record per person
    min_ages: list = field(default_factory=list)  # (source, age, why): its people are at least that old
    accepted_conflicts: int = 0  # pairs joined despite a conflict (identity.accepted_conflicts)
    household_safe: bool = True  # whether first-name and birth-date conflicts were refused (identity.household_safety)
    household_reason: str = ""  # why: the setting, or what the records showed (auto)
    audiences: dict[str, int] = field(default_factory=dict)
    known_persons: int | None = None
    as_of: str | None = None
    model_auc: dict[str, float] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    exports: list[dict] = field(default_factory=list)
    exports_folder: str | None = None
    failures: list[str] = field(default_factory=list)
    data_docs: str | None = None
    rejected_files: list[str] = field(default_factory=list)  # "file: reason", of this run
    exports_held: list[str] = field(default_factory=list)  # why this run wrote no export
    published_path: str | None = None  # the read-only snapshot for analysts and BI (cdp.yml `published:`)
    published_now: bool = False  # this run replaced it (a failed run leaves the previous one)
    report_path: str | None = None  # reports/run-<run_id>.html, once written
    report_seconds: float | None = None  # the time writing it took (make bench: its share of the run)
    publish_seconds: float | None = None  # the time publishing the warehouse took (make bench)
    earlier: set[str] = field(default_factory=set)  # figures not computed in this run: identity, profiles, ...
    freshness: tuple | None = None  # (files loaded, min, max landed -> audience seconds), ops.file_freshness
    step_seconds: dict[str, float] = field(default_factory=dict)  # Dagster step key -> seconds
    mode: str | None = None  # full or incremental, with how identity scored (pipeline.run_mode_text)

    @property
    def exit_status(self) -> int:
        if self.failures:
            return EXIT_FAILED
        if self.exports_held:
            return EXIT_EXPORTS_HELD
        return EXIT_REJECTED_FILES if self.rejected_files else EXIT_COMPLETED

    @property
    def status(self) -> str:
        return STATUS_TEXT[self.exit_status]

    def _when(self, figure: str) -> str:
        return EARLIER if figure in self.earlier else ""

    def render(self) -> str:
        lines = [f"Run {self.run_id}: {self.status}"]
        if self.mode:
            lines.append(f"Mode: {self.mode}")
        if self.rejected_files:
            lines += ["", "REJECTED FILES (nothing loaded from them; fix and drop them again):"]
            lines += [f"  - {rejected}" for rejected in self.rejected_files]
        if self.exports_held:
            lines += ["", "EXPORTS HELD (nothing written; the previous exports stay):"]
            lines += [f"  - {reason}" for reason in self.exports_held]
        lines += ["", "Sources (this run)       files  read      loaded    quarantined  rejected files"]
        for s in self.sources:
            lines.append(
                f"  {s['source']:<22} {s['files']:>5}  {s['rows_read']:>8}  {s['rows_loaded']:>8}  {s['rows_quarantined']:>11}  {s['rejected_files']:>14}"
            )
        if self.identity_records is not None:
            lines += ["", f"Identity{self._when('identity')}: {self.identity_records} records resolved to {self.persons} persons"]
            lines += [f"  one record per person: {source} ({why})" for source, why in self.one_record_sources]
            lines += [f"  at least {age} years old: {source} ({why})" for source, age, why in self.min_ages]
            if self.household_reason:
                lines.append(f"  household safety {'on' if self.household_safe else 'off'} ({self.household_reason})"
                             + ("" if self.household_safe else
                                ": different first names or dates of birth are only evidence against a link"))
            if self.accepted_conflicts:
                lines.append(f"  joined despite a conflict: {self.accepted_conflicts} record pairs (identity.accepted_conflicts; cdp explain)")
        if self.known_persons is not None:
            lines.append(f"Profiles{self._when('profiles')}: {self.known_persons} known customers, traits as of {self.as_of}")
        if self.model_auc:
            lines.append("Models (hold-out ROC AUC): " + ", ".join(f"{n} {auc:.3f}" for n, auc in self.model_auc.items()))
        if self.actions:
            lines.append(f"Next best actions{self._when('actions')}: " + ", ".join(f"{a} {n}" for a, n in self.actions.items()))
        for name, size in self.segments.items():
            lines.append(f"Segment {name}{self._when('segments')}: {size} people")
        for name, size in self.audiences.items():
            lines.append(f"Audience {name}{self._when('audience ' + name)}: {size} people")
        for export in self.exports:
            lines.append(f"Export {export['destination']}/{export['audience']}: {export['row_count']} rows, {', '.join(export['files'])}")
        if not self.exports:
            lines.append("Exports: none written in this run")
        else:
            lines.append(f"Exports written under {self.exports_folder}")
        if self.data_docs:
            lines.append(f"Quality results: quality.validation_results; Data Docs: {self.data_docs}")
        if self.published_path and self.published_now:
            lines.append(f"Published for readers: {self.published_path}")
        elif self.published_path:
            lines.append(f"Not published: readers keep the previous snapshot at {self.published_path}")
        if self.report_path:
            took = f" (written in {self.report_seconds} s)" if self.report_seconds is not None else ""
            lines.append(f"Run report: {self.report_path}{took}")
        lines += self._freshness_lines() + self._stage_time_lines()
        if self.failures:
            lines += ["", "FAILED:"] + [f"  - {failure}" for failure in self.failures]
        return "\n".join(lines)


    def _freshness_lines(self) -> list[str]:
        files, fastest, slowest = self.freshness or (0, None, None)
        if not files:
            return []
        if slowest is None:
            return [f"Freshness: {files} files loaded; none reached an audience in this run (ops.file_freshness)"]
        spread = f"{slowest:.0f}s" if round(fastest) == round(slowest) else f"{fastest:.0f}s (newest file) to {slowest:.0f}s (oldest)"
        return [f"Freshness: {files} files loaded, landed -> audience {spread} (ops.file_freshness)"]

    def _stage_time_lines(self) -> list[str]:
        if not self.step_seconds:
            return []
        stages = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in stage_seconds(self.step_seconds).items())
        own, child = peak_memory_mb()
        return [f"Stage times: {stages}", f"Peak memory: {own:.0f} MB (largest child process: {child:.0f} MB)"]


def stage_seconds(step_seconds: dict[str, float]) -> dict[str, float]:
    """Step times summed by stage, in the order the stages first ran: raw__crm -> ingest, dbt_marts stays itself."""
    stages: dict[str, float] = {}
    for step, seconds in step_seconds.items():
        prefix = step.split("__")[0]
        stage = STAGE_OF_PREFIX.get(prefix, prefix)
        stages[stage] = stages.get(stage, 0.0) + seconds
    return stages


STAGE_OF_PREFIX = {"raw": "ingest", "governance": "ingest", "export": "exports"}


def summarise_run(config: CdpConfig, run_id: str, failures: list[str],
                  materialized: set[tuple[str, ...]] | None = None) -> RunSummary:
    """`materialized`: asset key paths this run materialized (None: take every figure as this run's)."""
    summary = RunSummary(run_id=run_id, failures=failures, exports_folder=str(config.exports),
                         published_path=str(config.published))
    if materialized is not None:
        summary.earlier = {figure for figure, key in _figure_assets(config).items() if key not in materialized}
    docs = config.state_dir / "data_docs"
    summary.data_docs = str(docs) if docs.exists() else None
    if not config.warehouse.exists():
        return summary
    with connect(config.warehouse) as con:
        if table_exists(con, "raw", "load_log"):
            rows = con.execute(
                """
                select source, count(*) filter (where status = 'loaded'), coalesce(sum(rows_read), 0),
                       coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0),
                       count(*) filter (where status in ('rejected', 'failed'))
                from raw.load_log where run_id = ? group by source order by source
                """,
                [run_id],
            ).fetchall()
            logged = {r[0]: r for r in rows}
            for source in config.sources:
                r = logged.get(source.name, (source.name, 0, 0, 0, 0, 0))
                summary.sources.append(dict(zip(["source", "files", "rows_read", "rows_loaded", "rows_quarantined", "rejected_files"], r)))
        summary.rejected_files = _rejected_files(con, run_id)
        summary.exports_held = export_hold_reasons(con, config, run_id)
        if table_exists(con, "identity", "person_map"):
            summary.identity_records, summary.persons = con.execute(
                "select count(*), count(distinct person_id) from identity.person_map"
            ).fetchall()[0]
        if table_exists(con, "identity", "household_safety"):
            summary.household_safe, summary.household_reason = con.execute(
                "select safe, reason from identity.household_safety").fetchall()[0]
        if table_exists(con, "identity", "accepted_conflicts"):
            summary.accepted_conflicts = con.execute("select count(*) from identity.accepted_conflicts").fetchall()[0][0]
        if table_exists(con, "identity", "one_record_sources"):
            summary.one_record_sources = con.execute(
                "select source, reason from identity.one_record_sources where one_record_per_person order by source"
            ).fetchall()
        summary.min_ages = [(source, age, why) for source, (age, why) in stored_min_ages(con).items()]
        _profiles(con, config, summary)
        summary.freshness = latest_latency(con, run_id)
        for audience in config.audiences:
            if table_exists(con, "marts", audience.model):
                summary.audiences[audience.name] = con.execute(f"select count(*) from marts.{audience.model}").fetchall()[0][0]
    for manifest_path in sorted(config.exports.glob("*/*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("run_id") == run_id:
            summary.exports.append({**manifest, "files": [f["name"] for f in manifest["files"]],
                                    "checksums": [f["sha256"] for f in manifest["files"]]})
    return summary


def _figure_assets(config: CdpConfig) -> dict[str, tuple[str, ...]]:
    """The asset each printed figure comes from."""
    return {
        "identity": ("identity", "person_map"),
        "profiles": ("marts", "customer_traits"),
        "actions": ("marts", "customer_next_best_action"),
        "segments": ("marts", "segment_members"),
        **{f"audience {a.name}": ("marts", a.model) for a in config.audiences},
    }


def _rejected_files(con, run_id: str) -> list[str]:
    rejected = []
    if table_exists(con, "raw", "load_log"):
        rejected += [f"{file}: {error}" for file, error in con.execute(
            "select file, error from raw.load_log where run_id = ? and status in ('rejected', 'failed') order by source, file",
            [run_id]).fetchall()]
    if table_exists(con, "governance", "erasure_requests"):
        rejected += [f"{file}: {reason}" for file, reason in con.execute(
            "select file, reason from governance.erasure_requests where run_id = ? and status = ? order by file",
            [run_id, FILE_REJECTED]).fetchall()]
    return rejected


def _profiles(con, config: CdpConfig, summary: RunSummary) -> None:
    if table_exists(con, "marts", "customer_traits"):
        summary.known_persons, as_of = con.execute(
            "select count(*) filter (where is_known), max(as_of_at) from marts.customer_traits").fetchall()[0]
        summary.as_of = str(as_of)
    if table_exists(con, "marts", "customer_next_best_action"):
        summary.actions = dict(con.execute(
            "select next_best_action, count(*) from marts.customer_next_best_action group by 1 order by 2 desc").fetchall())
    if table_exists(con, "marts", "segment_members"):
        sizes = dict(con.execute("select segment, count(*) from marts.segment_members group by 1").fetchall())
        summary.segments = {s.name: sizes.get(s.name, 0) for s in config.segments.segments}
    for name in ("churn", "propensity"):
        card = config.models.folder / f"{name}.card.json"
        if card.exists():
            summary.model_auc[name] = json.loads(card.read_text())["holdout_auc"]
