"""Governed ingestion: contracts, quarantine, reconciliation, idempotency, unreadable files."""

import json
from pathlib import Path

import pytest

from dagster_project.config import ColumnContract, SourceConfig
from dagster_project.ingest.load import load_source
from dagster_project.warehouse import connect

CONTRACT = {
    "id": ColumnContract("id", "string", required=True),
    "name": ColumnContract("name"),
    "born": ColumnContract("born", "date", formats=("%d/%m/%Y", "%Y-%m-%d")),
    "qty": ColumnContract("qty", "int", min=0),
    "status": ColumnContract("status", "string", allowed=("open", "closed")),
    "seen_at": ColumnContract("seen_at", "timestamp", formats=("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%SZ")),
}


def source(fmt="csv", glob="people/*.csv") -> SourceConfig:
    return SourceConfig(
        name="people", kind="identity", glob=glob, format=fmt, contract=CONTRACT,
        mapping={"source_record_id": "id"}, entity="records",
    )


@pytest.fixture
def landing(tmp_path) -> Path:
    (tmp_path / "landing" / "people").mkdir(parents=True)
    return tmp_path / "landing"


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as connection:
        yield connection


def write(landing: Path, name: str, content: str | bytes) -> Path:
    path = landing / "people" / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


GOOD_AND_BAD = (
    "id,name,born,qty,status,extra\n"
    "1,José,01/02/1980,3,open,a\n"
    "2,Bob,31/02/1985,1,open,b\n"     # impossible date
    ",Ann,1990-05-06,2,closed,c\n"    # missing required id
    "4,Eve,1990-05-06,-1,shut,d\n"    # below minimum and not allowed: one row, two violations
    "5,  ,1975-12-31,,closed,e\n"
)


def test_bad_rows_are_quarantined_with_reasons_and_counts_reconcile(con, landing):
    write(landing, "a.csv", GOOD_AND_BAD)
    report = load_source(con, source(), landing, "run-1")
    file = report.files[0]
    assert (file.status, file.rows_read, file.rows_loaded, file.rows_quarantined) == ("loaded", 5, 2, 3)
    assert con.execute("select count(*) from raw.people").fetchall()[0][0] == 2
    quarantine = con.execute(
        "select row_number, column_name, value, reason from raw.quarantine order by row_number, column_name"
    ).fetchall()
    assert quarantine == [
        (2, "born", "31/02/1985", "not a valid date in format %d/%m/%Y or %Y-%m-%d"),
        (3, "id", None, "required value is missing"),
        (4, "qty", "-1", "below minimum 0"),
        (4, "status", "shut", "not one of the allowed values: open, closed"),
    ]
    # Nothing is lost: the quarantined row keeps every original value.
    record = json.loads(con.execute("select raw_record from raw.quarantine where row_number = 2").fetchall()[0][0])
    assert record == {"id": "2", "name": "Bob", "born": "31/02/1985", "qty": "1", "status": "open", "extra": "b"}
    logged = con.execute("select rows_read, rows_loaded, rows_quarantined from raw.load_log").fetchall()[0]
    assert logged == (5, 2, 3)


def test_loaded_rows_keep_lineage_types_and_unknown_columns(con, landing):
    write(landing, "a.csv", GOOD_AND_BAD)
    load_source(con, source(), landing, "run-1")
    row = con.execute(
        "select id, name, born, qty, extra, _file, _row_number, _run_id, _loaded_at is not null from raw.people where id = '1'"
    ).fetchall()[0]
    assert row[:8] == ("1", "José", __import__("datetime").date(1980, 2, 1), 3, "a", "people/a.csv", 1, "run-1")
    assert row[8]
    assert con.execute("select name from raw.people where id = '5'").fetchall()[0][0] is None  # blank is no value


def test_reloading_the_same_file_is_a_no_op_even_under_another_name(con, landing):
    write(landing, "a.csv", GOOD_AND_BAD)
    load_source(con, source(), landing, "run-1")
    write(landing, "copy_of_a.csv", GOOD_AND_BAD)
    report = load_source(con, source(), landing, "run-2")
    assert [f.status for f in report.files] == ["skipped", "skipped"]
    assert con.execute("select count(*) from raw.people").fetchall()[0][0] == 2
    assert con.execute("select count(*) from raw.quarantine").fetchall()[0][0] == 4


@pytest.mark.parametrize(
    "name, content, fmt, message",
    [
        ("latin1.csv", "id,name\n1,Jos\xe9\n".encode("latin-1"), "csv", r"not valid UTF-8: byte 0xe9 .* \(line 2\)"),
        ("empty.csv", b"", "csv", r"file is empty"),
        ("nocol.csv", "name,born\nAnn,1990-01-01\n", "csv", r"missing required column\(s\): id"),
        ("cut.jsonl", '{"id": "1", "name": "A"}\n{"id": "2", "na', "jsonl", r"invalid JSON on line 2, column .*truncated"),
        ("twice.csv", "id,name, name\n1,A,B\n", "csv", r"header names column\(s\) 'name' more than once"),
        # polars alone would rename the second one email_duplicated_0
        ("same.csv", "id,email,email\n1,a@b.c,d@e.f\n", "csv", r"header names column\(s\) 'email' more than once"),
        ("cased.csv", "id,Email,EMAIL\n1,a@b.c,d@e.f\n", "csv", r"'EMAIL', 'Email' more than once"),
        ("ragged.csv", "id,name\n1,A\n2,B,extra\n", "csv", r"not a readable CSV file"),
        ("twice.jsonl", '{"id": "1", "name": "A", "name": "B"}\n', "jsonl", r"line 1 names key\(s\) 'name' more than once"),
        ("nested.jsonl", '{"id": "1", "a_b": "x", "a": {"b": "y"}}\n', "jsonl", r"flatten to column\(s\) 'a_b'"),
        ("lineage.csv", "id,_file\n1,x\n", "csv", r"'_file' are reserved for lineage"),
        ("case_of_contract.csv", "id,NAME\n1,x\n", "csv", r"'NAME' differs only in case from column 'name' of raw.people"),
    ],
)
def test_unreadable_file_is_rejected_with_a_clear_error_and_other_files_still_load(con, landing, name, content, fmt, message):
    glob = "people/*." + fmt
    good = '{"id": "9", "name": "Zoë"}\n' if fmt == "jsonl" else "id,name\n9,Zoë\n"
    write(landing, "0_good." + fmt, good)
    write(landing, name, content)
    report = load_source(con, source(fmt, glob), landing, "run-1")
    assert [f.status for f in report.files] == ["loaded", "rejected"]
    assert len(report.errors) == 1
    import re
    assert name in report.errors[0] and re.search(message, report.errors[0]), report.errors[0]
    assert con.execute("select id from raw.people").fetchall() == [("9",)]
    assert con.execute("select status from raw.load_log where file like ?", [f"%{name}"]).fetchall()[0][0] == "rejected"


def test_rejected_file_is_retried_once_fixed(con, landing):
    path = write(landing, "a.csv", b"")
    assert load_source(con, source(), landing).files[0].status == "rejected"
    path.write_text("id,name\n1,Ann\n")
    assert load_source(con, source(), landing).files[0].status == "loaded"


def test_jsonl_nested_objects_are_flattened_and_mixed_types_kept_as_text(con, landing):
    write(landing, "e.jsonl", '{"id": "1", "qty": 2, "address": {"city": "Cork", "geo": {"lat": 51.9}}}\n{"id": "2", "qty": "three"}\n')
    report = load_source(con, source("jsonl", "people/*.jsonl"), landing, "r")
    assert (report.files[0].rows_loaded, report.files[0].rows_quarantined) == (1, 1)
    assert con.execute("select address_city, address_geo_lat, qty from raw.people").fetchall()[0] == ("Cork", "51.9", 2)
    assert con.execute("select column_name, value from raw.quarantine").fetchall()[0] == ("qty", "three")


def test_timestamps_in_any_declared_format(con, landing):
    write(landing, "t.jsonl", '{"id": "1", "seen_at": "2024-01-02T03:04:05.678Z"}\n{"id": "2", "seen_at": "2024-01-02T03:04:05Z"}\n')
    load_source(con, source("jsonl", "people/*.jsonl"), landing, "r")
    assert con.execute("select count(seen_at) from raw.people").fetchall()[0][0] == 2


def test_spaces_around_header_names_are_ignored_and_absent_optional_columns_reported(con, landing):
    # FEBRL-style export: "id, name, born" (a space after each comma), and no qty/status/seen_at.
    write(landing, "spaced.csv", "id, name, born\n1, Ann, 1990-05-06\n2, Bob, 01/02/1980\n")
    report = load_source(con, source(), landing, "r")
    assert report.files[0].status == "loaded"
    assert report.absent_columns == {"people/spaced.csv": ["qty", "status", "seen_at"]}
    rows = con.execute("select id, name, born::varchar from raw.people order by id").fetchall()
    assert rows == [("1", " Ann", "1990-05-06"), ("2", " Bob", "1980-02-01")]


def test_a_large_json_lines_file_loads_block_by_block_as_if_whole(con, landing, monkeypatch):
    from dagster_project.ingest import readers

    monkeypatch.setattr(readers, "JSONL_BLOCK_BYTES", 60)  # a few lines per block
    lines = [{"id": str(i), "name": f"n{i}", "qty": i} for i in range(1, 31)]
    lines[12] = {"id": "13", "name": "n13", "qty": 13, "status": "open", "extra": "x"}  # keys only one block has
    lines[20] = {"name": "no id"}  # a block whose lines lack the required key: the row breaks the contract
    write(landing, "big.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    file = load_source(con, source("jsonl", "people/*.jsonl"), landing, "run-1").files[0]
    assert (file.status, file.rows_read, file.rows_loaded, file.rows_quarantined) == ("loaded", 30, 29, 1)
    assert file.absent_columns == ["born", "seen_at"]  # status appears in one block: not absent from the file
    rows = con.execute("select id, _row_number, extra from raw.people order by _row_number").fetchall()
    assert [r[1] for r in rows] == [n for n in range(1, 31) if n != 21]  # row numbers run on across blocks
    assert rows[12] == ("13", 13, "x")
    assert con.execute("select row_number, column_name from raw.quarantine").fetchall() == [(21, "id")]


def test_a_broken_line_in_a_later_block_rejects_the_whole_file_naming_its_line(con, landing, monkeypatch):
    from dagster_project.ingest import readers

    monkeypatch.setattr(readers, "JSONL_BLOCK_BYTES", 60)
    good = "\n".join(json.dumps({"id": str(i)}) for i in range(1, 20))
    write(landing, "broken.jsonl", good + '\n{"id": "20", "na\n')
    write(landing, "keyless.jsonl", "\n".join(json.dumps({"name": str(i)}) for i in range(1, 20)) + "\n")
    files = {f.file: f for f in load_source(con, source("jsonl", "people/*.jsonl"), landing, "run-1").files}
    assert files["people/broken.jsonl"].status == "rejected" and "invalid JSON on line 20" in files["people/broken.jsonl"].error
    assert files["people/keyless.jsonl"].status == "rejected" and "missing required column(s): id" in files["people/keyless.jsonl"].error
    assert con.execute("select count(*) from raw.people").fetchall() == [(0,)]  # nothing of either file
    assert con.execute("select count(*) from raw.quarantine").fetchall() == [(0,)]


def test_errors_of_a_file_of_many_blocks_come_in_the_files_order(con, landing, monkeypatch):
    # Such files are checked a block ahead in a worker process: the first error of the file still wins.
    from dagster_project.ingest import readers

    monkeypatch.setattr(readers, "JSONL_BLOCK_BYTES", 60)
    lines = [json.dumps({"id": str(i)}).encode() for i in range(1, 20)]
    lines[7] = b'{"id": "8", "id": "8"}'  # a key twice, in an early block
    lines[15] = '{"id": "16", "name": "Zoë"}'.encode("latin-1")  # not UTF-8, in a later block
    write(landing, "mixed.jsonl", b"\n".join(lines) + b"\n")
    file = load_source(con, source("jsonl", "people/*.jsonl"), landing, "run-1").files[0]
    assert file.status == "rejected" and "line 8 names key(s) 'id' more than once" in file.error
    lines[7] = json.dumps({"id": "8"}).encode()
    write(landing, "mixed.jsonl", b"\n".join(lines) + b"\n")
    file = load_source(con, source("jsonl", "people/*.jsonl"), landing, "run-2").files[0]
    assert file.status == "rejected" and "not valid UTF-8" in file.error and "(line 16)" in file.error
    assert con.execute("select count(*) from raw.people").fetchall() == [(0,)]
