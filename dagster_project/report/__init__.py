"""The run report: <workspace>/reports/run-<run_id>.html and reports/latest.html,
one self-contained page with charts of what a run did (see report.page).

`write_run_report` is called by every pipeline run, failed ones too; beside the
page it keeps run-<run_id>.json with what only the run itself knows (its
failures, step times, peak memory), so `cdp report --run ID` can draw it again.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import polars as pl

from dagster_project import progress
from dagster_project.config import CdpConfig
from dagster_project.report import charts, queries
from dagster_project.report.page import Page, table, vega_bundle
from dagster_project.run_summary import EXIT_COMPLETED, EXIT_FAILED, summarise_run
from dagster_project.warehouse import connect


def reports_folder(config: CdpConfig) -> Path:
    return config.root / "reports"


def report_path(config: CdpConfig, run_id: str) -> Path:
    return reports_folder(config) / f"run-{run_id}.html"


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest finished child (dbt), in MB."""
    own, child = progress.peak_memory_mb()
    return {"cdp process": round(own, 1), "child processes": round(child, 1)}


def write_run_report(config: CdpConfig, run_id: str, failures: list[str], steps: list[dict], mode: str = "") -> Path:
    """Write the run's facts and its page; latest.html is a copy of the newest page."""
    folder = reports_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    facts = {"run_id": run_id, "mode": mode, "failures": failures, "steps": steps, "peak_memory_mb": peak_memory_mb()}
    (folder / f"run-{run_id}.json").write_text(json.dumps(facts, indent=1))
    return render_report(config, run_id)


def render_report(config: CdpConfig, run_id: str | None = None) -> Path:
    """(Re)draw the page of a run (default: the newest) from its facts and the warehouse."""
    folder = reports_folder(config)
    facts_file = folder / f"run-{run_id}.json" if run_id else _newest_facts(folder)
    facts = json.loads(facts_file.read_text())
    page = build_page(config, facts)
    path = report_path(config, facts["run_id"])
    path.write_text(page.render(vega_bundle(config.state_dir / "report")))
    if facts_file == _newest_facts(folder):
        shutil.copyfile(path, folder / "latest.html")
    return path


def _newest_facts(folder: Path) -> Path:
    runs = sorted(folder.glob("run-*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise FileNotFoundError(f"no run report in {folder}: run `cdp run` first")
    return runs[-1]


def build_page(config: CdpConfig, facts: dict) -> Page:
    run_id = facts["run_id"]
    summary = summarise_run(config, run_id, facts["failures"])
    page = Page(f"cdp run {run_id}")
    css = {EXIT_COMPLETED: "ok", EXIT_FAILED: "bad"}.get(summary.exit_status, "warn")
    page.raw(f'<h1>Run {run_id}</h1><p class="status {css}" id="run-status">{summary.status}</p>')
    if facts.get("mode"):
        page.raw(f'<p id="run-mode">Mode: {html.escape(facts["mode"])}</p>')
    if summary.failures:
        page.heading("What failed")
        page.raw("<ul id='failures'>" + "".join(f"<li>{html.escape(f)}</li>" for f in summary.failures) + "</ul>")
    for title, lines in (("Rejected files", summary.rejected_files), ("Exports held", summary.exports_held)):
        if lines:
            page.heading(title)
            page.raw("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
    if config.warehouse.exists():
        accuracy = _accuracy(config) if config.truth.is_file() else None  # opens the warehouse itself
        with connect(config.warehouse, read_only=True) as con:
            _warehouse_sections(page, con, config, run_id, accuracy)
    _export_section(page, summary.exports)
    _run_cost_section(page, facts)
    return page


def _warehouse_sections(page: Page, con, config: CdpConfig, run_id: str, accuracy: list[dict] | None) -> None:
    files = queries.files_loaded(con, run_id)
    page.heading("Ingestion: rows per source and file")
    page.chart(charts.rows_per_file(files))
    page.raw(table(files))
    page.heading("Quarantine reasons")
    page.chart(charts.quarantine_reasons(queries.quarantine_reasons(con, run_id)))
    _identity_section(page, con, config, run_id, accuracy)
    page.heading("Golden record completeness")
    page.chart(charts.golden_completeness(queries.golden_completeness(con)))
    page.heading("Consent coverage per purpose")
    page.chart(charts.consent_coverage(queries.consent_coverage(con)))
    _segment_section(page, con, config, run_id)
    page.heading("Quality gates")
    page.raw(table(_with_docs_links(config, queries.gate_results(con, run_id)), links={"suite": "data_docs"}))


def _identity_section(page: Page, con, config: CdpConfig, run_id: str, accuracy: list[dict] | None) -> None:
    sizes = queries.cluster_sizes(con)
    page.heading("Identity")
    if not sizes.is_empty():
        records = int((sizes["records"] * sizes["persons"]).sum())
        page.text(f"{records} records resolved to {int(sizes['persons'].sum())} persons")
    page.chart(charts.cluster_sizes(sizes))
    page.text(f"Splink match weights of scored pairs; the dashed line is the threshold ({config.match_threshold}).")
    page.chart(charts.match_weights(queries.match_weights(con), queries.threshold_weight(config)))
    page.raw("<h3>Persons created, merged and split in this run</h3>" + table(queries.id_changes(con, run_id)))
    page.raw("<h3>Waiting for review (<code>cdp identity review</code>)</h3>" + table(queries.review_queue(con)))
    if accuracy is not None:
        page.raw("<h3>Accuracy against the ground truth</h3>" + table(accuracy))


def _accuracy(config: CdpConfig) -> list[dict]:
    from dagster_project.identity.evaluate import evaluate_bcubed

    try:
        e = evaluate_bcubed(config.warehouse, config.truth)
    except Exception as error:  # e.g. a truth file of another sample
        return [{"error": f"{type(error).__name__}: {error}"}]
    return [{"B-cubed precision": round(e.bcubed_precision, 4), "B-cubed recall": round(e.bcubed_recall, 4),
             "persons": e.predicted_persons, "true persons": e.true_persons, "false merges": e.false_merges}]


def _segment_section(page: Page, con, config: CdpConfig, run_id: str) -> None:
    history = queries.segment_history(con)
    page.heading("Segments and audiences")
    page.chart(charts.segment_history(history))
    if not history.is_empty():
        latest = history.filter(pl.col("changed_at") == pl.col("changed_at").max().over("segment"))
        page.raw("<h3>Latest membership change per segment</h3>" + table(latest))
    page.chart(charts.audience_sizes(queries.audience_sizes(con, config)))


def _with_docs_links(config: CdpConfig, gates: pl.DataFrame) -> pl.DataFrame:
    """Each gate's Great Expectations Data Docs page (.cdp/data_docs/<name>/index.html), relative to reports/."""
    if gates.is_empty():
        return gates
    docs = {p.parent.name: os.path.relpath(p, reports_folder(config))
            for p in (config.state_dir / "data_docs").glob("*/index.html")}

    def link(target: str, suite: str) -> str | None:
        export = target.removeprefix("export ").replace("/", "_")
        for name in (f"export_{export}", target.replace(".", "_"), suite):
            if name in docs:
                return docs[name]
        return None

    return gates.with_columns(pl.struct("target", "suite").map_elements(
        lambda r: link(r["target"], r["suite"]), return_dtype=pl.String).alias("data_docs"))


def _export_section(page: Page, exports: list[dict]) -> None:
    page.heading("Exports written in this run")
    page.raw(table([{"destination": e["destination"], "audience": e["audience"], "rows": e["row_count"],
                     "added": (e.get("delta") or {}).get("added"), "removed": (e.get("delta") or {}).get("removed"),
                     "files": ", ".join(e["files"]),
                     "sha256": ", ".join(c[:16] for c in e.get("checksums", []))}
                    for e in exports]))


def _run_cost_section(page: Page, facts: dict) -> None:
    page.heading("Stage times and peak memory")
    memory = facts.get("peak_memory_mb", {})
    page.text("Peak memory: " + ", ".join(f"{k} {v} MB" for k, v in memory.items()))
    page.chart(charts.stage_times(pl.DataFrame(facts["steps"])))
