"""Erasure requests as a landing source: files a privacy team or a web form drops.

Each CSV under `erasure_requests` (a glob in the landing folder) has a
request_id and any of email, phone, person_id (and optionally requested_at).
The governance/erasure_requests asset runs before any source is loaded: each
new request is carried out with `erase_person` (so it is tombstoned before
this run's files are read), and governance.erasure_requests records what was
done per request with hashed identifiers only. A file whose hash was already
processed is skipped; a request id already done is not redone. A row without
any identifier is recorded as rejected with the reason, never dropped. A file
that cannot be read is recorded as `file_rejected` (row 0) and tried again in
the next run; while it is, the run's exports are held (see ingest.holds).
The warehouse is rewritten once after all of a run's requests, not per
request (erasure.py): one rewrite leaves none of their deleted rows behind.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


from dagster_project.config import CdpConfig
from dagster_project.files import file_sha256
from dagster_project.governance.erasure import NothingToErase, erase_person
from dagster_project.ingest.tombstones import tombstone_secret
from dagster_project.ingest.holds import FILE_REJECTED
from dagster_project.ingest.readers import ROW_NUMBER, UnreadableFileError, read_landing_file
from dagster_project.warehouse import connect, rewrite_without_free_blocks

REQUESTS_DDL = """
create schema if not exists governance;
create table if not exists governance.erasure_requests (
    request_id varchar not null,
    file varchar not null,
    file_sha256 varchar not null,
    row_number bigint not null,
    identifiers_sha256 varchar,        -- HMAC-SHA256 (tombstone key) of each identifier given, no personal data
    requested_at timestamp,
    processed_at timestamp not null,
    run_id varchar,
    status varchar not null,           -- erased | tombstoned (nobody known yet) | rejected | already_done | file_rejected
    reason varchar,
    persons_erased bigint not null,
    erasure_ids varchar                -- governance.erasure_log request ids
);
"""
IDENTIFIERS = ("email", "phone", "person_id")


@dataclass
class RequestsReport:
    files_processed: int = 0
    files_skipped: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    persons_erased: int = 0
    rejected_files: dict[str, str] = field(default_factory=dict)  # file -> reason
    erasures_carried_out: int = 0  # erase_person calls, each deleting rows left in the file until the rewrite

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def process_erasure_requests(config: CdpConfig, run_id: str | None = None,
                             engine_tables: Callable | None = None) -> RequestsReport:
    """`engine_tables`: as erase_person's (Spark's tables with engine spark)."""
    report = RequestsReport()
    if not config.landing.is_dir():
        return report
    with connect(config.warehouse) as con:
        con.execute(REQUESTS_DDL)
        done_files = {r[0] for r in con.execute(
            "select distinct file_sha256 from governance.erasure_requests where status <> ?", [FILE_REJECTED]).fetchall()}
        done_requests = {r[0] for r in con.execute(
            "select request_id from governance.erasure_requests where status in ('erased', 'tombstoned')").fetchall()}
    for path in sorted(config.landing.glob(config.erasure_requests)):
        sha = file_sha256(path)
        if sha in done_files:
            report.files_skipped += 1
            continue
        try:
            requests = _read_requests(path)
        except UnreadableFileError as error:
            _record_rejected_file(config, path, sha, error.reason, run_id)
            report.rejected_files[str(path)] = error.reason
            continue
        rows = [_carry_out(config, row, done_requests, engine_tables) for row in requests]
        report.erasures_carried_out += sum(len(r["erasure_ids"].split(",")) for r in rows if r["erasure_ids"])
        with connect(config.warehouse) as con:
            processed_at = datetime.now(timezone.utc).replace(tzinfo=None)
            con.executemany(
                "insert into governance.erasure_requests values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["request_id"], str(path), sha, r["row_number"], r["identifiers_sha256"], r["requested_at"],
                  processed_at, run_id, r["status"], r["reason"], r["persons"], r["erasure_ids"]) for r in rows],
            )
        for r in rows:
            report.count(r["status"])
            report.persons_erased += r["persons"]
        report.files_processed += 1
    if report.erasures_carried_out:
        rewrite_without_free_blocks(config.warehouse)
    return report


def _record_rejected_file(config: CdpConfig, path: Path, sha: str, reason: str, run_id: str | None) -> None:
    with connect(config.warehouse) as con:
        con.execute(
            "insert into governance.erasure_requests values (?, ?, ?, 0, null, null, ?, ?, ?, ?, 0, null)",
            [f"{path.name}:file", str(path), sha, datetime.now(timezone.utc).replace(tzinfo=None), run_id, FILE_REJECTED, reason],
        )


def _read_requests(path: Path) -> list[dict]:
    frame = read_landing_file(path, "csv")
    if "request_id" not in frame.columns or not set(IDENTIFIERS) & set(frame.columns):
        raise UnreadableFileError(
            path, f"an erasure request file needs a request_id column and at least one of {', '.join(IDENTIFIERS)}")
    rows = []
    for number, row in enumerate(frame.drop(ROW_NUMBER).iter_rows(named=True), start=2):  # line 1 is the header
        given = {k: row[k].strip() for k in IDENTIFIERS if row.get(k) and row[k].strip()}
        rows.append({"row_number": number, "request_id": (row["request_id"] or "").strip() or f"{path.name}:{number}",
                     "given": given, "requested_at": _timestamp(row.get("requested_at"))})
    return rows


def _carry_out(config: CdpConfig, request: dict, done_requests: set[str], engine_tables: Callable | None) -> dict:
    given = request["given"]
    result = {**request, "identifiers_sha256": ",".join(
        f"{k}:{_keyed(config, v)}" for k, v in sorted(given.items())),
        "persons": 0, "erasure_ids": None, "reason": None}
    if not given:
        return {**result, "status": "rejected", "reason": f"row {request['row_number']}: no email, phone or person_id"}
    if request["request_id"] in done_requests:
        return {**result, "status": "already_done", "reason": "request id carried out before"}
    erasures = []
    for kind, value in given.items():
        try:
            erasures.append(erase_person(config, **{kind: value}, rewrite=False, engine_tables=engine_tables))
        except NothingToErase as error:
            result["reason"] = str(error).replace(value, f"<{kind}>")
    persons = sum(e.persons for e in erasures)
    done_requests.add(request["request_id"])
    return {**result, "persons": persons, "erasure_ids": ",".join(e.request_id for e in erasures) or None,
            "status": "erased" if persons else "tombstoned" if erasures else "rejected"}


def _keyed(config: CdpConfig, value: str) -> str:
    """Keyed like tombstones: the audit names the request without a hash anyone could match by guessing."""
    return hmac.new(tombstone_secret(config.state_dir), value.lower().encode(), hashlib.sha256).hexdigest()


def _timestamp(value: str | None) -> datetime | None:
    if not value or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)
    except ValueError:
        return None
