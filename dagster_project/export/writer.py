"""Write one audience for one destination: Parquet/CSV plus manifest.json.

Files are written under a temporary name in the target folder and renamed
into place (atomic on one filesystem), the manifest last, so a reader or an
interrupted run never sees a half-written export: either the previous export
or the new one, whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from dagster_project.ingest.load import file_sha256


@dataclass
class ExportResult:
    destination: str
    audience: str
    rows: int
    files: dict[str, str]  # file name -> sha256
    manifest_path: Path
    delta: dict | None = None


def export_audience(
    con: duckdb.DuckDBPyConnection,
    *,
    query: str,
    folder: Path,
    destination: str,
    audience: str,
    purpose: str,
    channel: str,
    formats: tuple[str, ...],
    run_id: str,
    gate: dict,
) -> ExportResult:
    folder.mkdir(parents=True, exist_ok=True)
    rows = con.execute(f"select count(*) from ({query})").fetchall()[0][0]
    written: dict[str, Path] = {}
    try:
        for fmt in formats:
            final = folder / f"{audience}.{fmt}"
            temporary = folder / f".{audience}.{fmt}.{run_id or 'run'}.tmp"
            options = "(format parquet)" if fmt == "parquet" else "(format csv, header true)"
            con.execute(f"copy (select * from ({query}) as export_rows order by person_id) to '{temporary}' {options}")
            written[final.name] = temporary
        delta = _write_delta(con, folder, audience, written, run_id)
        if delta:
            written[delta["file"]] = folder / f".{delta['file']}.{run_id or 'run'}.tmp"
        checksums = {name: file_sha256(path) for name, path in written.items()}
        for name, temporary in written.items():
            os.replace(temporary, folder / name)
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)
    manifest = {
        "destination": destination,
        "audience": audience,
        "purpose": purpose,
        "channel": channel,
        "run_id": run_id,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "row_count": rows,
        "delta": {"added": delta["added"], "removed": delta["removed"], "file": delta["file"],
                  "previous_run_id": delta["previous_run_id"]} if delta else None,
        "files": [{"name": name, "sha256": sha} for name, sha in checksums.items()],
        "quality_gate": gate,
    }
    manifest_path = folder / "manifest.json"
    _write_atomically(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return ExportResult(destination, audience, rows, checksums, manifest_path, delta)


def _write_delta(con, folder: Path, audience: str, written: dict[str, Path], run_id: str) -> dict | None:
    """People added and removed since the previous export, as <audience>.delta.parquet."""
    fmt = "parquet" if f"{audience}.parquet" in written else "csv"
    new, previous = written[f"{audience}.{fmt}"], folder / f"{audience}.{fmt}"
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    previous_ids = f"select person_id from {reader}('{previous}')" if previous.exists() else "select cast(null as varchar) as person_id where false"
    new_ids = f"select person_id from {reader}('{new}')"
    changes = f"""
        select person_id, 'added' as change from ({new_ids} except {previous_ids})
        union all
        select person_id, 'removed' as change from ({previous_ids} except {new_ids})
    """
    temporary = folder / f".{audience}.delta.parquet.{run_id or 'run'}.tmp"
    con.execute(f"copy ({changes} order by change, person_id) to '{temporary}' (format parquet)")
    added, removed = con.execute(
        f"select count(*) filter (where change = 'added'), count(*) filter (where change = 'removed') from read_parquet('{temporary}')"
    ).fetchall()[0]
    manifest = folder / "manifest.json"
    previous_run = json.loads(manifest.read_text()).get("run_id") if manifest.exists() else None
    return {"file": f"{audience}.delta.parquet", "added": added, "removed": removed, "previous_run_id": previous_run}




def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
