"""What a run did, read back from the warehouse and the exports folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dagster_project.config import CdpConfig
from dagster_project.warehouse import connect, table_exists


@dataclass
class RunSummary:
    run_id: str
    sources: list[dict] = field(default_factory=list)
    identity_records: int | None = None
    persons: int | None = None
    audiences: dict[str, int] = field(default_factory=dict)
    exports: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    data_docs: str | None = None

    def render(self) -> str:
        lines = [f"Run {self.run_id}", "", "Sources (this run)       files  read      loaded    quarantined  failed files"]
        for s in self.sources:
            lines.append(
                f"  {s['source']:<22} {s['files']:>5}  {s['rows_read']:>8}  {s['rows_loaded']:>8}  {s['rows_quarantined']:>11}  {s['failed_files']:>12}"
            )
        if self.identity_records is not None:
            lines += ["", f"Identity: {self.identity_records} records resolved to {self.persons} persons"]
        for name, size in self.audiences.items():
            lines.append(f"Audience {name}: {size} people")
        for export in self.exports:
            lines.append(f"Export {export['destination']}/{export['audience']}: {export['row_count']} rows, {', '.join(export['files'])}")
        if not self.exports:
            lines.append("Exports: none written in this run")
        if self.data_docs:
            lines.append(f"Quality results: quality.validation_results; Data Docs: {self.data_docs}")
        if self.failures:
            lines += ["", "FAILED:"] + [f"  - {failure}" for failure in self.failures]
        return "\n".join(lines)


def summarise_run(config: CdpConfig, run_id: str, failures: list[str]) -> RunSummary:
    summary = RunSummary(run_id=run_id, failures=failures)
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
                       count(*) filter (where status = 'failed')
                from raw.load_log where run_id = ? group by source order by source
                """,
                [run_id],
            ).fetchall()
            logged = {r[0]: r for r in rows}
            for source in config.sources:
                r = logged.get(source.name, (source.name, 0, 0, 0, 0, 0))
                summary.sources.append(dict(zip(["source", "files", "rows_read", "rows_loaded", "rows_quarantined", "failed_files"], r)))
        if table_exists(con, "identity", "person_map"):
            summary.identity_records, summary.persons = con.execute(
                "select count(*), count(distinct person_id) from identity.person_map"
            ).fetchall()[0]
        for audience in config.audiences:
            if table_exists(con, "marts", audience.model):
                summary.audiences[audience.name] = con.execute(f"select count(*) from marts.{audience.model}").fetchall()[0][0]
    for manifest_path in sorted(config.exports.glob("*/*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("run_id") == run_id:
            summary.exports.append({**manifest, "files": [f["name"] for f in manifest["files"]]})
    return summary
