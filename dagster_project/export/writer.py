"""Write one audience for one destination: Parquet/CSV plus manifest.json.

Files are written under a temporary name in the target folder and renamed
into place (atomic on one filesystem), the manifest last, so a reader or an
interrupted run never sees a half-written export: either the previous export
or the new one, whole.

The delta (<audience>.delta.parquet) holds one row per person_id that joined
or left since the previous export, with the reason. An erasure rewrites the
published files without the person (`remove_persons`, called by
governance/erasure.py), so comparing files
would never show them leaving: the erasure records their person_ids in
erasures_pending.json, and the next delta lists them as removed with reason
`erasure`. The pending file is cleared only after the manifest naming those
requests is published, and requests the manifest already names are skipped,
so a crash in between neither loses nor double-counts an erasure.

CSV files are safe to open in a spreadsheet (OWASP CSV injection): a text
cell that begins with =, +, -, @, tab or carriage return is prefixed with a
single quote, so a spreadsheet shows it as text instead of running it as a
formula. A text cell that is only a signed number (a phone in E.164 such as
+447700900123, or -12.50) is left as it is: a spreadsheet can only read it as
a number, and a leading quote would break the destination's phone import.
Numeric columns are never changed and Parquet files hold every value as it
is; the manifest says so and counts the cells prefixed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from dagster_project.files import file_sha256


@dataclass
class ExportResult:
    destination: str
    audience: str
    rows: int
    files: dict[str, str]  # file name -> sha256
    manifest_path: Path
    delta: dict | None = None


PENDING_ERASURES = "erasures_pending.json"
FORMULA_START = r"^[=+@\t\r-]"
PLAIN_SIGNED_NUMBER = r"^[+-][0-9]+(\.[0-9]+)?$"
CSV_GUARD_NOTE = ("CSV text cells beginning with = + - @ tab or carriage return are prefixed with a single quote "
                  "(OWASP CSV injection), except plain signed numbers such as +447700900123; Parquet values are unchanged")


def needs_formula_guard_sql(column: str) -> str:
    """SQL condition: this text cell would start a spreadsheet formula."""
    return f"(regexp_matches({column}, '{FORMULA_START}') and not regexp_matches({column}, '{PLAIN_SIGNED_NUMBER}'))"


def csv_safe_query(con: duckdb.DuckDBPyConnection, query: str) -> tuple[str, str]:
    """`query` with its text cells guarded for CSV, and a query counting the cells it prefixes."""
    relation = con.sql(query)
    text_columns = [name for name, kind in zip(relation.columns, relation.types) if str(kind) == "VARCHAR"]
    if not text_columns:
        return query, "select 0"
    cells = [
        f"case when {needs_formula_guard_sql(quoted(name))} then '''' || {quoted(name)} else {quoted(name)} end as {quoted(name)}"
        if name in text_columns else quoted(name)
        for name in relation.columns
    ]
    prefixed = " + ".join(f"count(*) filter (where {needs_formula_guard_sql(quoted(name))})" for name in text_columns)
    return f"select {', '.join(cells)} from ({query}) as csv_rows", f"select {prefixed} from ({query}) as csv_rows"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
    _remove_leftovers(folder)
    previous_manifest = _read_json(folder / "manifest.json")
    pending = unpublished_erasures(folder, previous_manifest)
    rows = con.execute(f"select count(*) from ({query})").fetchall()[0][0]
    csv_query, count_prefixed = csv_safe_query(con, query)
    written: dict[str, Path] = {}
    try:
        for fmt in formats:
            rows_query = query if fmt == "parquet" else csv_query
            written[f"{audience}.{fmt}"] = _write_temporary(con, rows_query, folder, f"{audience}.{fmt}", run_id or "run")
        delta = _write_delta(con, folder, audience, written, run_id, pending, previous_manifest)
        written[delta["file"]] = folder / f".{delta['file']}.{run_id or 'run'}.tmp"
        checksums = _put_in_place(folder, written)
    finally:
        _remove_temporaries(written)
    manifest = {
        "destination": destination,
        "audience": audience,
        "purpose": purpose,
        "channel": channel,
        "run_id": run_id,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "row_count": rows,
        "delta": {key: delta[key] for key in ("added", "removed", "removed_by_erasure", "file", "previous_run_id")},
        "erasures": _erasure_history(previous_manifest, pending, delta, run_id),
        "files": [{"name": name, "sha256": sha} for name, sha in checksums.items()],
        "quality_gate": gate,
    }
    if "csv" in formats:
        manifest["csv_formula_guard"] = {"rule": CSV_GUARD_NOTE, "cells_prefixed": con.execute(count_prefixed).fetchall()[0][0]}
    manifest_path = folder / "manifest.json"
    _write_atomically(manifest_path, json.dumps(manifest, indent=2) + "\n")
    clear_published_erasures(folder, manifest)
    return ExportResult(destination, audience, rows, checksums, manifest_path, delta)


def _write_delta(con, folder: Path, audience: str, written: dict[str, Path], run_id: str,
                 pending: list[dict], previous_manifest: dict | None) -> dict:
    """People added and removed since the previous export, as <audience>.delta.parquet."""
    name = delta_basis(audience, written)
    new, previous = written[name], folder / name
    fmt = previous.suffix.lstrip(".")  # `new` is still under its temporary name
    previous_ids = f"select person_id from {export_reader(previous)}" if previous.exists() else "select cast(null as varchar) as person_id where false"
    new_ids = f"select person_id from {export_reader(new, fmt)}"
    erased = sorted({key for request in pending for key in request["person_ids"]})
    temporary = folder / f".{audience}.delta.parquet.{run_id or 'run'}.tmp"
    delta_changes(con, previous_ids, new_ids, erased).write_parquet(str(temporary))
    added, removed, by_erasure = con.execute(
        f"""select count(*) filter (where change = 'added'), count(*) filter (where change = 'removed'),
                   count(*) filter (where reason = 'erasure') from read_parquet('{temporary}')"""
    ).fetchall()[0]
    return {"file": f"{audience}.delta.parquet", "added": added, "removed": removed, "removed_by_erasure": by_erasure,
            "previous_run_id": (previous_manifest or {}).get("run_id")}


def delta_basis(audience: str, file_names) -> str:
    """The audience file a delta is computed from: the Parquet file when exported, else the CSV."""
    return f"{audience}.parquet" if f"{audience}.parquet" in file_names else f"{audience}.csv"


def export_reader(path: Path, fmt: str | None = None) -> str:
    """DuckDB table function reading one export file (`fmt`: parquet or csv, default its suffix); CSV as text."""
    if (fmt or path.suffix.lstrip(".")) == "parquet":
        return f"read_parquet('{path}')"
    return f"read_csv_auto('{path}', all_varchar = true)"


def delta_changes(con, previous_ids: str, new_ids: str, erased: list[str]) -> duckdb.DuckDBPyRelation:
    """person_id, change (added / removed), reason: joined_audience, left_audience, or erasure for
    erased people no longer exported (whether or not the previous file still held them)."""
    con.execute("create or replace temp table delta_erased as select unnest(?::varchar[]) as person_id", [erased])
    return con.sql(f"""
        with previous as ({previous_ids}), new as ({new_ids}),
        erased as (select person_id from delta_erased except select person_id from new)
        select person_id, 'added' as change, 'joined_audience' as reason from (select * from new except select * from previous)
        union all
        select person_id, 'removed', 'left_audience' from (select * from previous except select * from new except select * from erased)
        union all
        select person_id, 'removed', 'erasure' from erased
        order by change, reason, person_id
    """)


def _write_temporary(con, query: str, folder: Path, name: str, tag: str, order_by: str = "order by person_id") -> Path:
    """The rows of `query` in the format of `name`, under a temporary name beside it."""
    temporary = folder / f".{name}.{tag}.tmp"
    options = "(format parquet)" if name.endswith(".parquet") else "(format csv, header true)"
    con.execute(f"copy (select * from ({query}) as export_rows {order_by}) to '{temporary}' {options}")
    return temporary


def _put_in_place(folder: Path, written: dict[str, Path]) -> dict[str, str]:
    """Rename each temporary file over its final name; returns name -> sha256."""
    checksums = {name: file_sha256(path) for name, path in written.items()}
    for name, temporary in written.items():
        os.replace(temporary, folder / name)
    return checksums


def _remove_temporaries(written: dict[str, Path]) -> None:
    for temporary in written.values():
        temporary.unlink(missing_ok=True)


def remove_persons(con: duckdb.DuckDBPyConnection, folder: Path, erased: str, request_id: str, erased_at: str) -> int:
    """Rewrite a published export folder without the persons of the query `erased` (one column,
    person_id), as an erasure does: the persons exported here are first recorded as pending
    erasures (for the next delta), then every file holding them is rewritten and the manifest
    updated (checksums, row count, the request id). Returns the audience rows removed, counted
    in the file the delta is computed from (a person exported as Parquet and CSV counts once)."""
    manifest = _read_json(folder / "manifest.json")
    names = [entry["name"] for entry in manifest["files"]]
    basis = folder / delta_basis(manifest["audience"], names)
    exported = [r[0] for r in con.execute(
        f"select distinct person_id::varchar from {export_reader(basis)} where person_id in ({erased})").fetchall()]
    if exported:
        record_pending_erasures(folder, request_id, erased_at, exported)
    rows_before = _row_count(con, basis)
    written: dict[str, Path] = {}
    try:
        for name in names:
            source = export_reader(folder / name)
            if con.execute(f"select count(*) from {source} where person_id in ({erased})").fetchall()[0][0]:
                kept = f"select * from {source} where person_id not in ({erased})"  # CSV cells stay as guarded
                written[name] = _write_temporary(con, kept, folder, name, request_id, order_by="")  # the file's order
        checksums = _put_in_place(folder, written)
    finally:
        _remove_temporaries(written)
    for entry in manifest["files"]:
        entry["sha256"] = checksums.get(entry["name"], entry["sha256"])
    manifest["row_count"] = _row_count(con, basis)
    manifest.setdefault("erasure_requests", []).append(request_id)
    _write_atomically(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return rows_before - manifest["row_count"]


def _row_count(con, path: Path) -> int:
    return con.execute(f"select count(*) from {export_reader(path)}").fetchall()[0][0]


def record_pending_erasures(folder: Path, request_id: str, erased_at: str, person_ids: list[str]) -> None:
    """Called by an erasure that removed these people from the folder's files, before it rewrites them."""
    pending = _read_json(folder / PENDING_ERASURES) or {"requests": []}
    if any(r["request_id"] == request_id for r in pending["requests"]):
        return
    pending["requests"].append({"request_id": request_id, "erased_at": erased_at, "person_ids": sorted(person_ids)})
    _write_atomically(folder / PENDING_ERASURES, json.dumps(pending, indent=2) + "\n")


def unpublished_erasures(folder: Path, manifest: dict | None) -> list[dict]:
    """Pending erasure requests that no published manifest names yet."""
    published = {r["request_id"] for entry in (manifest or {}).get("erasures", []) for r in entry["requests"]}
    pending = _read_json(folder / PENDING_ERASURES) or {"requests": []}
    return [r for r in pending["requests"] if r["request_id"] not in published]


def clear_published_erasures(folder: Path, manifest: dict) -> None:
    """Drop the requests the published manifest names; the file goes when none is left."""
    path = folder / PENDING_ERASURES
    if not path.exists():
        return
    left = unpublished_erasures(folder, manifest)
    if left:
        _write_atomically(path, json.dumps({"requests": left}, indent=2) + "\n")
    else:
        path.unlink(missing_ok=True)


def _erasure_history(previous_manifest: dict | None, pending: list[dict], delta: dict, run_id: str) -> list[dict]:
    """Every run that published erasures: run id, people removed by erasure, the requests (ids only)."""
    history = list((previous_manifest or {}).get("erasures", []))
    if pending:
        history.append({"run_id": run_id, "count": delta["removed_by_erasure"],
                        "requests": [{"request_id": r["request_id"], "erased_at": r["erased_at"]} for r in pending]})
    return history


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _remove_leftovers(folder: Path) -> None:
    """Temporary files of a run killed mid-export (the workspace lock keeps other writers out)."""
    for leftover in folder.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
