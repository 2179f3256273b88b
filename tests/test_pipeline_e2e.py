"""The whole pipeline, through Dagster, on generated multi-channel data.

One workspace, three runs, then the consent source and the exports alone:
1. with an unreadable file in two sources (latin-1 CSV, truncated JSON lines):
   those files are rejected naming file and line, every other file loads, the
   run completes and exports, with exit status 3 (completed with rejected files);
2. with the file fixed: the run completes; files are reconciled, broken rows
   quarantined, one person_map row per identity record, dim_customer grain,
   the audience gate passes and the export is written;
3. again, with the audience's size band tightened: nothing new is loaded,
   person ids do not change, the gate fails, nothing is exported and the run
   says which expectation failed;
4. a broken consent file holds every export: nothing is written, exit status 4.
"""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest
import dagster as dg
import yaml

from dagster_project.config import load_config
from dagster_project.generate import generate_sample
from dagster_project.pipeline import run_pipeline
from dagster_project.warehouse import connect

BROKEN_CRM_ROWS = (
    "contact_id,first_name,last_name,email,phone,birth_date,street,zip,city,country,updated_at\n"
    "X-1,Good,Row,good.row@example.com,07700 900001,01/02/1980,1 Main St,AB1 2CD,Leeds,GB,2024-05-01 10:00:00\n"
    "X-2,Bad,Date,bad.date@example.com,,31/02/1985,,,,GB,2024-05-01 10:00:00\n"
    ",No,Id,no.id@example.com,,,,,,GB,2024-05-01 10:00:00\n"
    "X-4,Bad,Time,bad.time@example.com,,,,,,GB,yesterday\n"
)
# A CRM first name that a spreadsheet would run as a formula, for a person
# who consents to email marketing, so it reaches the email platform's export.
PLANTED_FORMULA = '=HYPERLINK("http://evil.example/","click")'
PLANTED_CRM_ROWS = (
    "contact_id,first_name,last_name,email,phone,birth_date,street,zip,city,country,updated_at\n"
    '"X-9","=HYPERLINK(""http://evil.example/"",""click"")",Planted,planted.formula@example.com,,,,,,GB,2024-05-01 10:00:00\n'
)
PLANTED_CONSENT_ROWS = (
    "consent_event_id,email,phone,purpose,channel,status,recorded_at\n"
    "C-9,planted.formula@example.com,,email_marketing,email,granted,2024-05-01 10:00:00\n"
)


@pytest.fixture(scope="module")
def workspace(workspace_factory):
    config = workspace_factory("e2e")
    generate_sample(config.landing, config.truth, people=400, seed=11, defect_rate=0.002)
    (config.landing / "crm" / "contacts_9999.csv").write_text(BROKEN_CRM_ROWS)
    (config.landing / "crm" / "contacts_9998.csv").write_text(PLANTED_CRM_ROWS)
    (config.landing / "consent" / "consent_9998.csv").write_text(PLANTED_CONSENT_ROWS)
    return config


@pytest.fixture(scope="module")
def runs(workspace):
    unreadable = workspace.landing / "survey" / "nps_9999.csv"
    unreadable.write_bytes("response_id,email,score,comment,answered_at\nN-1,a@b.com,9,Tr\xe8s bien,2024-01-01 10:00:00\n".encode("latin-1"))
    truncated = workspace.landing / "ecommerce" / "accounts_9999.jsonl"
    truncated.write_text('{"account_id": "A-1", "email": "a@b.c"}\n{"account_id": "A-2", "em')
    first = run_pipeline(workspace)
    first_manifests = exported_manifests(workspace)
    unreadable.unlink()
    truncated.unlink()
    second = run_pipeline(workspace)
    with connect(workspace.warehouse) as con:
        ids_after_second = con.sql("select record_key, person_id from identity.person_map").pl()
    tighten_band(workspace)
    third = run_pipeline(load_config(workspace.path))
    before_hold = exported_manifests(workspace)
    broken_consent = workspace.landing / "consent" / "consent_9999.csv"
    broken_consent.write_bytes(b"")
    held = run_pipeline(load_config(workspace.path), assets=[dg.AssetKey(["raw", "consent"]), *export_keys(workspace)])
    broken_consent.unlink()
    return {"first": first, "second": second, "third": third, "ids_after_second": ids_after_second, "held": held,
            "first_manifests": first_manifests, "before_hold": before_hold, "after_hold": exported_manifests(workspace)}


def exported_manifests(config) -> dict:
    return {str(p): p.read_text() for p in config.exports.glob("*/*/manifest.json")}


def export_keys(config) -> list:
    return [dg.AssetKey(["export", d.name, a]) for d in config.destinations for a in d.audiences]


def tighten_band(config) -> None:
    raw = yaml.safe_load(config.path.read_text())
    raw["audiences"][0]["max_rows"] = 1
    config.path.write_text(yaml.safe_dump(raw, sort_keys=False))


def query(config, sql: str, params=None):
    with connect(config.warehouse) as con:
        return con.execute(sql, params or []).fetchall()


def test_unreadable_files_are_rejected_with_a_clear_reason_and_the_run_completes_with_exports(workspace, runs):
    first = runs["first"]
    summary = first.summary
    assert first.success and summary.failures == []
    assert (summary.exit_status, summary.status) == (3, "completed with rejected files")
    assert summary.rejected_files == [
        "ecommerce/accounts_9999.jsonl: invalid JSON on line 2, column 23 (Unterminated string starting); the file may be truncated",
        "survey/nps_9999.csv: not valid UTF-8: byte 0xe8 at offset 60 (line 2); re-export the file as UTF-8 or declare its encoding: in cdp.yml",
    ]
    rendered = summary.render()
    assert rendered.index("REJECTED FILES") < rendered.index("Sources (this run)") < rendered.index("Identity:")
    loaded_in_first = {s["source"] for s in summary.sources if s["files"] > 0}
    # Every source with a landing file (a partner's file lands only when the partner secret is set);
    # survey's good file loaded too.
    with_files = {s.name for s in workspace.sources if any(workspace.landing.glob(s.glob))}
    assert "survey" in with_files and loaded_in_first == with_files
    assert query(workspace, "select count(*) from raw.load_log where status = 'rejected' and file = 'survey/nps_9999.csv'")[0][0] == 1
    assert summary.exports and {e["run_id"] for e in summary.exports} == {first.run_id}
    assert len(runs["first_manifests"]) == len(summary.exports)


def test_figures_of_steps_that_did_not_run_say_they_are_from_an_earlier_run(workspace, runs):
    held = runs["held"].summary.render()  # only the consent source and the exports ran
    assert "Identity (from an earlier run):" in held and "Audience email_newsletter (from an earlier run):" in held
    assert "(from an earlier run)" not in runs["first"].summary.render()


def test_a_rejected_consent_file_holds_every_export(workspace, runs):
    summary = runs["held"].summary
    assert (summary.exit_status, summary.status, summary.failures) == (4, "completed, exports held", [])
    assert summary.exports_held == ["consent file consent/consent_9999.csv was rejected: file is empty"]
    assert summary.exports == []
    assert runs["after_hold"] == runs["before_hold"]  # nothing written, the previous exports stay
    rendered = summary.render()
    assert rendered.index("EXPORTS HELD") < rendered.index("Sources (this run)")


def test_second_run_completes(runs):
    assert runs["second"].success, runs["second"].summary.render()


def test_great_expectations_gates_ran_and_passed_with_data_docs(workspace, runs):
    suites = query(
        workspace,
        "select suite, bool_and(success) from quality.validation_results where run_id = ? group by suite order by suite",
        [runs["second"].run_id],
    )
    assert suites == [("audience_email_newsletter", True), ("audience_gate", True), ("audience_known_customers", True),
                      ("audience_segment", True), ("identity_person_map", True), ("marts_dim_customer", True), ("raw_load", True)]
    assert (workspace.state_dir / "data_docs" / "identity_person_map" / "index.html").is_file()


def test_every_file_reconciles_read_equals_loaded_plus_quarantined(workspace, runs):
    logged = query(workspace, "select source, file, rows_read, rows_loaded, rows_quarantined from raw.load_log where status = 'loaded'")
    assert len(logged) >= len(workspace.sources)
    for source, file, read, loaded, quarantined in logged:
        assert read == loaded + quarantined, file
        assert read == count_records(workspace.landing / file), file
        in_raw = query(workspace, f"select count(*) from raw.{source} where _file = ?", [file])[0][0]
        in_quarantine = query(workspace, "select count(distinct row_number) from raw.quarantine where file = ? and action = 'row'", [file])[0][0]
        assert (in_raw, in_quarantine) == (loaded, quarantined), file


def count_records(path) -> int:
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return pl.read_csv(path, infer_schema=False).height


def test_deliberately_broken_rows_are_quarantined_with_reasons(workspace, runs):
    rows = query(
        workspace,
        "select row_number, column_name, reason from raw.quarantine where file = 'crm/contacts_9999.csv' order by row_number",
    )
    assert rows == [
        (2, "birth_date", "not a valid date in format %d/%m/%Y or %Y-%m-%d"),
        (3, "contact_id", "required value is missing"),
        (4, "updated_at", "not a valid timestamp in format %Y-%m-%d %H:%M:%S"),
    ]
    assert query(workspace, "select contact_id from raw.crm where _file = 'crm/contacts_9999.csv'") == [("X-1",)]


def test_generated_defects_are_quarantined_not_dropped(workspace, runs):
    read, loaded, quarantined = query(workspace, "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from raw.load_log where status = 'loaded'")[0]
    assert quarantined > 3  # the generator's defects plus the three broken CRM rows
    assert read == loaded + quarantined


def test_one_person_map_row_per_identity_record(workspace, runs):
    records, mapped, distinct_keys, unmapped = query(
        workspace,
        """
        select (select count(*) from intermediate.int_identity__records),
               (select count(*) from identity.person_map),
               (select count(distinct record_key) from identity.person_map),
               (select count(*) from intermediate.int_identity__records r
                 where not exists (select 1 from identity.person_map m where m.record_key = r.record_key))
        """,
    )[0]
    assert records > 1000
    assert records == mapped == distinct_keys
    assert unmapped == 0


def test_identity_links_people_across_sources(workspace, runs):
    persons, multi_source = query(
        workspace, "select count(*), count(*) filter (where source_count > 1) from marts.dim_customer"
    )[0]
    assert 0 < persons < query(workspace, "select count(*) from identity.person_map")[0][0]
    assert multi_source > persons * 0.3


def test_dim_customer_has_one_row_per_person(workspace, runs):
    rows, distinct_ids, persons = query(
        workspace,
        "select count(*), count(distinct person_id), (select count(distinct person_id) from identity.person_map) from marts.dim_customer",
    )[0]
    assert rows == distinct_ids == persons


def test_export_written_after_the_gate_passed(workspace, runs):
    folder = workspace.exports / "email_platform" / "email_newsletter"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == runs["second"].run_id
    assert manifest["quality_gate"]["passed"] is True
    assert manifest["row_count"] == pl.read_parquet(folder / "email_newsletter.parquet").height > 0
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]
    exported = set(pl.read_parquet(folder / "email_newsletter.parquet")["person_id"])
    granted = {r[0] for r in query(workspace, "select person_id from marts.customer_consent where purpose = 'email_marketing' and status = 'granted'")}
    assert exported <= granted


def test_a_planted_formula_is_exported_as_text_in_csv_and_unchanged_in_parquet(workspace, runs):
    [(person_id, first_name)] = query(workspace, "select person_id, first_name from marts.dim_customer where email = ?",
                                      ["planted.formula@example.com"])
    assert first_name == PLANTED_FORMULA  # the contract lets it through: the export is the last line of defence
    folder = workspace.exports / "email_platform" / "email_newsletter"
    exported_csv = pl.read_csv(folder / "email_newsletter.csv", infer_schema=False).filter(pl.col("person_id") == person_id)
    assert exported_csv["first_name"].to_list() == ["'" + PLANTED_FORMULA]
    exported_parquet = pl.read_parquet(folder / "email_newsletter.parquet").filter(pl.col("person_id") == person_id)
    assert exported_parquet["first_name"].to_list() == [PLANTED_FORMULA]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["csv_formula_guard"]["cells_prefixed"] >= 1


def test_rerun_loads_nothing_new_and_keeps_every_person_id(workspace, runs):
    third = runs["third"]
    assert all(s["files"] == 0 and s["rows_read"] == 0 for s in third.summary.sources)
    with connect(workspace.warehouse) as con:
        ids_now = con.sql("select record_key, person_id from identity.person_map").pl()
    assert ids_now.sort("record_key").equals(runs["ids_after_second"].sort("record_key"))


def test_failed_gate_blocks_the_export_and_says_which_expectation(workspace, runs):
    third = runs["third"]
    assert not third.success
    failures = [f for f in third.summary.failures if "export__email_platform__email_newsletter" in f]
    assert len(failures) == 1
    assert "expect_table_row_count_to_be_between" in failures[0]
    assert "was not exported" in failures[0]
    manifest = json.loads((workspace.exports / "email_platform" / "email_newsletter" / "manifest.json").read_text())
    assert manifest["run_id"] == runs["second"].run_id  # the previous export is untouched
    results = query(workspace, "select count(*) from quality.validation_results where run_id = ? and not success", [third.run_id])
    assert results[0][0] >= 1
