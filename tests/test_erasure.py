"""Right to erasure on generated data: the person is gone from every table and
export file, stays gone after re-runs and re-loads, and the audit holds no
personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil

import polars as pl
import pytest

from dagster_project import identifiers
from dagster_project.generate import generate_sample
from dagster_project.ingest.tombstones import tombstone_secret
from dagster_project.governance.erasure import erase_person
from dagster_project.identity.partner_keys import SECRET_ENV
from dagster_project.governance.requests import process_erasure_requests
from dagster_project.export.writer import PENDING_ERASURES
from dagster_project.pipeline import run_pipeline
from dagster_project.warehouse import connect, table_exists


def pick_person(config):
    """A person with an email, a phone and records in several sources, exported somewhere."""
    with connect(config.warehouse) as con:
        return con.execute(
            """
            select c.person_id, c.email, c.phone
            from marts.dim_customer c join marts.aud_email_newsletter a using (person_id)
            where c.phone is not null and c.source_count >= 3
            order by c.record_count desc, c.person_id limit 1
            """
        ).fetchall()[0]


def identifying_values(config, person_id: str) -> dict[str, list[str]]:
    with connect(config.warehouse) as con:
        rows = con.execute(
            """select distinct r.email, r.phone, r.loyalty_id, r.device_id, r.source_record_id, r.record_key
               from identity.person_map m join intermediate.int_identity__records r using (record_key)
               where m.person_id = ?""",
            [person_id],
        ).fetchall()
    values = {"substring": set(), "exact": {person_id}, "plain": plain_identifiers(config, person_id)}
    for email, phone, loyalty, device, record_id, record_key in rows:
        values["substring"].update(v for v in (email, loyalty, device) if v)
        if phone:
            values["substring"].add(phone.lstrip("+")[-10:])  # national digits (UK: 10), whatever the format
        values["exact"].update([record_id, record_key])
    return values


def plain_identifiers(config, person_id: str) -> dict[str, set[str]]:
    """The person's emails, phones (last 10 digits: UK national digits, as `person_values`) and names ("first last", and the last name),
    as plain text; a name also on another person's records (a namesake) legitimately stays."""
    with connect(config.warehouse) as con:
        emails, phones, names = con.execute(
            """with names as (
                   select m.person_id, unnest([lower(r.first_name || ' ' || r.last_name), lower(r.last_name)]) as name
                   from identity.person_map m join intermediate.int_identity__records r using (record_key))
               select (select list(distinct lower(r.email)) filter (where r.email is not null)
                       from identity.person_map m join intermediate.int_identity__records r using (record_key) where m.person_id = $1),
                      (select list(distinct right(regexp_replace(r.phone, '[^0-9]', '', 'g'), 10)) filter (where r.phone is not null)
                       from identity.person_map m join intermediate.int_identity__records r using (record_key) where m.person_id = $1),
                      (select list(distinct name) from names where person_id = $1 and name is not null
                         and name not in (select name from names where person_id <> $1 and name is not null))""",
            [person_id]).fetchall()[0]
    return {"email": set(emails or []), "phone": set(phones or []), "name": set(names or [])}


def plain_text_files_holding(config, plain: dict[str, set[str]]) -> list[str]:
    """Every file of the workspace (warehouse, published snapshot, Dagster storage, dbt target and
    logs, Data Docs, exports) whose raw bytes hold one of the values as a whole word, case-insensitive;
    a phone matches with any separators between its digits. The landing folder (the sources' own files)
    and the generator's truth files are not the platform's to erase."""
    patterns = [rb"(?<![a-z0-9.])" + re.escape(v.encode()) + rb"(?![a-z0-9])" for v in plain["email"] | plain["name"]]
    patterns += [rb"[ .()-]*".join(re.escape(d.encode()) for d in phone) for phone in plain["phone"]]
    wanted = re.compile(b"|".join(patterns), re.IGNORECASE)
    found = []
    for path in sorted(config.root.rglob("*")):
        relative = path.relative_to(config.root).as_posix()
        if not path.is_file() or relative.startswith(config.landing.relative_to(config.root).as_posix() + "/") \
                or relative.startswith(config.truth.stem):
            continue
        found += [f"{relative} holds {match.group().decode(errors='replace')}" for match in wanted.finditer(path.read_bytes())]
    return found


def occurrences(config, values) -> list[str]:
    """Every table cell (all schemas) and export file that still holds one of the values, apart
    from the rows of a delta that tell the recipient a person was erased (person_id only)."""
    found = []
    wanted = [("exact", v) for v in values["exact"]] + [
        ("digits" if v.isdigit() else "text", v.lower()) for v in values["substring"]]
    with connect(config.warehouse) as con:
        tables = con.execute(
            """select table_schema, table_name, list(column_name) from information_schema.columns
               where data_type = 'VARCHAR'
                 and (table_schema, table_name) in (select table_schema, table_name from information_schema.tables
                                                    where table_type = 'BASE TABLE')
               group by 1, 2""").fetchall()
        for schema, table, columns in tables:
            quoted = ", ".join(f'"{c}"' for c in columns)
            hits = con.execute(f"""
                with cells as (unpivot (select {quoted} from "{schema}"."{table}") on {quoted} into name col value cell),
                wanted as (select unnest(?::varchar[]) as kind, unnest(?::varchar[]) as value)
                select distinct col, value from cells join wanted on
                    (kind = 'exact' and cell = value)
                    or (kind = 'text' and contains(lower(cell), value))
                    or (kind = 'digits' and contains(regexp_replace(cell, '[^0-9]', '', 'g'), value))""",
                [[k for k, _ in wanted], [v for _, v in wanted]]).fetchall()
            found += [f"{schema}.{table}.{col} holds {value}" for col, value in hits]
    for path in sorted(config.exports.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".json":
            text = path.read_text()
        else:
            frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
            if path.name.endswith(".delta.parquet"):
                assert frame.columns == ["person_id", "change", "reason"]
                frame = frame.filter(pl.col("reason") != "erasure")
            text = frame.write_csv()
        name = path.relative_to(config.exports).as_posix()
        found += [f"{name} holds {v}" for v in values["exact"] | {v for v in values["substring"] if "@" in v} if v in text]
    return found


def exported_in(config, person_id: str) -> set[str]:
    """The export folders (destination/audience) whose published audience file lists the person."""
    folders = set()
    for manifest_path in config.exports.glob("*/*/manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["files"]:
            path = manifest_path.parent / entry["name"]
            if entry["name"].startswith(manifest["audience"] + ".") and ".delta." not in entry["name"]:
                frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
                if person_id in frame["person_id"].to_list():
                    folders.add(manifest_path.parent.relative_to(config.exports).as_posix())
    return folders


def published_erasures(config) -> dict[str, dict]:
    """Per export folder: the delta's erasure rows and the manifest's erasure history."""
    published = {}
    for manifest_path in config.exports.glob("*/*/manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        delta = pl.read_parquet(manifest_path.parent / manifest["delta"]["file"])
        published[manifest_path.parent.relative_to(config.exports).as_posix()] = {
            "erased": delta.filter(pl.col("reason") == "erasure").rows(),
            "delta": manifest["delta"],
            "history": manifest["erasures"],
        }
    return published


VARIANTS_FILE = "crm/contacts_variants.csv"
STRANGER_EMAIL = "quentin.zabriskie@example.org"


def write_variants(config, email: str, phone: str) -> None:
    """A CRM file with the person's email and phone spelled as staging would fold them (new contact ids,
    rows V*), and a stranger whose phone shares the person's last 9 digits under another country code."""
    assert phone.startswith("+44")
    national = phone[3:]
    rows = [
        ("V1", email[:4] + " " + email[4:], "", "GB", "2025-07-02 10:00:00"),
        ("V2", f"  {email.upper()} ", "", "GB", "2025-07-02 10:00:00"),
        ("V3", "", f"+44 {national[:4]} {national[4:]}", "GB", "2025-07-02 10:00:00"),
        ("V4", "", f"0044 {national[:4]}-{national[4:]}", "", "2025-07-02 10:00:00"),
        ("V5", "", f"0{national[:4]} {national[4:]}", "United Kingdom", "2025-07-02 10:00:00"),
        ("V6", "", f"(0){national[:4]}.{national[4:7]}.{national[7:]}", "uk", "not a time"),  # quarantined if loaded
        ("S1", f" {STRANGER_EMAIL.upper()}", f"+33 {national[-9:]}", "France", "2025-07-02 10:00:00"),
    ]
    lines = ["contact_id,first_name,last_name,email,phone,birth_date,street,zip,city,country,updated_at"]
    lines += [f"{i},{'Quentin' if i == 'S1' else 'Erased'},Zabriskie,{e},{p},,1 Test Street,ZZ1 1ZZ,Leeds,{c},{t}"
              for i, e, p, c, t in rows]
    (config.landing / VARIANTS_FILE).write_text("\n".join(lines) + "\n")


def grant_second_and_third_party(raw):
    raw["consent"]["defaults"].update(partner_sharing="granted", enrichment="granted")
    # An audience on the enrichment segment of segments.yml, for the destination whose purpose allows enrichment.
    raw["audiences"].append({"name": "large_households", "model": "seg_large_households", "suite": "audience_segment"})
    next(d for d in raw["destinations"] if d["name"] == "email_platform")["audiences"].append("large_households")


def partner_and_enrichment_rows(config, person_id: str) -> dict[str, list]:
    """The person's partner matches, the partner's raw records matched to them, and their enrichment row."""
    with connect(config.warehouse) as con:
        matches = con.execute("select source_record_id from identity.partner_matches where person_id = ?", [person_id]).fetchall()
        return {
            "partner_matches": matches,
            "partner_raw": con.execute("select partner_record_id from raw.airline_partner where partner_record_id in "
                                       "(select unnest(?::varchar[]))", [[m[0] for m in matches]]).fetchall(),
            "enrichment": con.execute("select * from marts.customer_enrichment where person_id = ?", [person_id]).fetchall(),
        }


@pytest.fixture(scope="module")
def erased(workspace_factory):
    config = workspace_factory("erasure", grant_second_and_third_party)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(SECRET_ENV, "erasure-test-partner-secret")  # the partner file and its matches need it
        generate_sample(config.landing, config.truth, people=300, seed=44, defect_rate=0.002)
        assert run_pipeline(config).success
    person_id, email, phone = pick_person(config)
    values = identifying_values(config, person_id)
    assert occurrences(config, values)  # the search finds them before erasure
    folders = exported_in(config, person_id)
    write_variants(config, email, phone)  # loaded by the next run (rerun_with_a_request_file)
    before = partner_and_enrichment_rows(config, person_id)
    report = erase_person(config, email=email.upper() + " ")
    return config, person_id, values, report, folders, before


def test_erasure_removes_the_person_from_every_table_and_export(erased):
    config, person_id, values, report, folders, _ = erased
    assert report.persons == 1 and report.records >= 3
    assert report.counts["raw_rows_erased"] > 0 and report.counts["export_rows_erased"] > 0
    assert len(folders) >= 2
    # Left behind: only the person_id each recipient already had, pending for the next delta.
    assert occurrences(config, values) == [f"{folder}/{PENDING_ERASURES} holds {person_id}" for folder in sorted(folders)]
    for folder in folders:
        pending = json.loads((config.exports / folder / PENDING_ERASURES).read_text())
        assert pending["requests"] == [{"request_id": report.request_id, "erased_at": pending["requests"][0]["erased_at"],
                                        "person_ids": [person_id]}]


def test_erasure_removes_the_persons_partner_matches_records_and_enrichment(erased):
    config, person_id, _, _, _, before = erased
    assert all(before.values()), before  # matched by the partner, enriched by postcode
    assert partner_and_enrichment_rows(config, person_id) == {"partner_matches": [], "partner_raw": [], "enrichment": []}
    with connect(config.warehouse) as con:
        partner = next(s for s in config.sources if s.kind == "partner")
        staged = con.execute(f'select count(*) from staging."{partner.staging_model}" where source_record_id = ?',
                             [before["partner_matches"][0][0]]).fetchall()[0][0]
    assert staged == 0


def second_person(config, first_person):
    with connect(config.warehouse) as con:
        return con.execute(
            """select c.person_id, c.email from marts.dim_customer c join marts.aud_email_newsletter a using (person_id)
               where c.source_count >= 2 and c.person_id <> ? order by c.record_count desc, c.person_id limit 1""",
            [first_person]).fetchall()[0]


@pytest.fixture(scope="module")
def rerun_with_a_request_file(erased):
    """A re-run after `cdp erase`, with an erasure request file for a second person in the landing folder."""
    config, first_person, _, _, _, _ = erased
    person_id, email = second_person(config, first_person)
    values = identifying_values(config, person_id)
    folders = exported_in(config, person_id)
    requests = config.landing / "privacy" / "erasure_requests_0001.csv"
    requests.parent.mkdir(parents=True, exist_ok=True)
    requests.write_text(f"request_id,email,phone,person_id,requested_at\nREQ-1,{email.upper()},,,2025-07-01T09:00:00Z\nREQ-2,,,,\n")
    run = run_pipeline(config)
    return run, person_id, email, values, folders, published_erasures(config)


def test_the_next_delta_tells_each_recipient_who_was_erased(erased, rerun_with_a_request_file):
    config, first_person, _, report, first_folders, _ = erased
    run, second, _, _, second_folders, published = rerun_with_a_request_file
    assert run.success, run.summary.render()
    assert not list(config.exports.rglob(PENDING_ERASURES))  # cleared once published
    for folder, export in published.items():
        erased_here = sorted(p for p, folders in ((first_person, first_folders), (second, second_folders)) if folder in folders)
        assert export["erased"] == [(p, "removed", "erasure") for p in erased_here], folder
        assert export["delta"]["removed_by_erasure"] == len(erased_here)
        if erased_here:
            [entry] = export["history"]
            assert entry["run_id"] == run.run_id and entry["count"] == len(erased_here)
            request_ids = [r["request_id"] for r in entry["requests"]]  # one request per person here
            assert len(request_ids) == len(erased_here)
            assert (report.request_id in request_ids) == (first_person in erased_here)
        else:
            assert export["history"] == []


def test_the_person_stays_gone_after_a_rerun_and_after_reloading_changed_files(erased, rerun_with_a_request_file):
    config, _, values, _, _, _ = erased
    run, *_, published = rerun_with_a_request_file
    assert run.success, run.summary.render()  # reconciliation checks pass with erased rows counted
    assert occurrences(config, values) == []
    # A changed file (new hash) is loaded again in full: tombstones drop the erased rows.
    for path in sorted(config.landing.rglob("*_0001.*")):
        shutil.copy(path, path.with_name(path.name.replace("_0001", "_0002")))
        with path.with_name(path.name.replace("_0001", "_0002")).open("a") as handle:
            handle.write("\n")
    rerun = run_pipeline(config)
    assert rerun.success, rerun.summary.render()
    assert occurrences(config, values) == []
    # The following delta no longer lists erased people; the manifests keep the erasure history.
    for folder, export in published_erasures(config).items():
        assert export["erased"] == [] and export["delta"]["removed_by_erasure"] == 0
        assert export["history"] == published[folder]["history"]
    with connect(config.warehouse) as con:
        erased_on_reload = con.execute("select sum(rows_erased) from raw.load_log where file like '%_0002.%'").fetchall()[0][0]
    assert erased_on_reload > 0


def test_no_file_of_the_workspace_holds_an_erased_persons_email_phone_or_name(erased, rerun_with_a_request_file):
    """After `cdp erase` (the first person) and a run carrying out a request file (the second): every
    table (occurrences) and the raw bytes of every file, the warehouse's free blocks included."""
    config, _, first, _, _, _ = erased
    run, _, _, second, _, _ = rerun_with_a_request_file
    assert run.success, run.summary.render()
    for values in (first, second):
        assert values["plain"]["email"] and values["plain"]["phone"]
        assert occurrences(config, values) == []
    assert first["plain"]["name"] | second["plain"]["name"]  # a name nobody else has, to search for
    assert plain_text_files_holding(config, first["plain"]) == []
    assert plain_text_files_holding(config, second["plain"]) == []
    assert not config.warehouse.with_name(config.warehouse.name + ".wal").exists()


def test_an_erasure_request_file_in_the_landing_folder_is_carried_out_on_the_next_run(erased, rerun_with_a_request_file):
    config, *_ = erased
    run, person_id, email, values, _, _ = rerun_with_a_request_file
    assert run.success, run.summary.render()
    assert occurrences(config, values) == []  # also after the changed files were re-loaded, if that ran first
    with connect(config.warehouse) as con:
        done = con.sql("select request_id, status, persons_erased, reason from governance.erasure_requests where file like '%_0001.csv' order by 1").pl()
        text = con.sql("select * from governance.erasure_requests").pl().write_csv()
    assert done.rows() == [("REQ-1", "erased", 1, None), ("REQ-2", "rejected", 0, "row 3: no email, phone or person_id")]
    assert email not in text.lower() and person_id not in text  # hashed identifiers only
    again = process_erasure_requests(config)  # a file already processed is not processed twice
    assert again.files_processed == 0 and again.files_skipped >= 1


def test_the_audit_log_records_the_request_without_personal_data(erased):
    config, person_id, values, report, _, _ = erased
    with connect(config.warehouse) as con:
        log = con.sql("select * from governance.erasure_log").pl()
    assert log["request_id"].to_list()[0] == report.request_id
    text = log.write_csv()
    assert person_id not in text
    assert not any(v in text for v in values["substring"] | values["exact"])


def test_variants_of_an_erased_email_or_phone_never_come_back_and_nobody_else_is_stopped(erased, rerun_with_a_request_file):
    config, *_ = erased
    run, *_ = rerun_with_a_request_file
    assert run.success, run.summary.render()
    with connect(config.warehouse) as con:
        log = con.execute("select rows_read, rows_loaded, rows_quarantined, rows_erased from raw.load_log where file = ?",
                          [VARIANTS_FILE]).fetchall()
        raw_ids = con.execute("select contact_id from raw.crm where _file = ?", [VARIANTS_FILE]).fetchall()
        quarantined = con.execute("select count(*) from raw.quarantine where file = ?", [VARIANTS_FILE]).fetchall()[0][0]
        records = con.execute("select source_record_id, email, phone from intermediate.int_identity__records "
                              "where source = 'crm' and source_record_id in ('V1', 'V2', 'V3', 'V4', 'V5', 'V6', 'S1')").fetchall()
        stranger = con.execute("select count(*) from marts.dim_customer where email = ?", [STRANGER_EMAIL]).fetchall()[0][0]
    assert log == [(7, 1, 0, 6)]  # V6 would have been quarantined: it is dropped before the contract
    assert raw_ids == [("S1",)] and quarantined == 0
    assert [r[0] for r in records] == ["S1"] and records[0][1] == STRANGER_EMAIL and records[0][2].startswith("+33")
    assert stranger == 1


def test_python_matching_normalises_exactly_as_the_staging_models(erased, rerun_with_a_request_file):
    """Every staged row, plus tricky spellings planted in raw.crm (rolled back): the dbt staging
    view and the Python tombstone SQL give the same email and phone."""
    config, *_ = erased
    tricky = [("T1", " Ann .Smith@Example.COM", "0044 (0) 7700-900123", "Great Britain"),
              ("T2", "ann smith@x.io", "07700 900123", "Éire"), ("T3", "no-at-sign", "+1 (212) 555-0100", None),
              ("T4", None, "00 33 1 23 45 67 89", "fr"), ("T5", "a@b.co", "12345", "")]
    email = identifiers.email_sql("email_original")
    phone = identifiers.phone_sql("phone_original", "country_original", config.default_phone_country_code)
    with connect(config.warehouse) as con:
        con.execute("begin transaction")
        con.executemany("insert into raw.crm (contact_id, email, phone, country, updated_at) values (?, ?, ?, ?, now())", tricky)
        views = con.execute("select table_schema, table_name from information_schema.tables "
                            "where table_name like 'stg_%' and table_type = 'VIEW'").fetchall()
        compared = differing = 0
        for schema, view in views:
            columns = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                                   "where table_schema = ? and table_name = ?", [schema, view]).fetchall()}
            if not {"email_original", "phone_original", "country_original"} <= columns:
                continue
            counts = con.execute(f"""select count(*), count(*) filter (where email is distinct from {email}
                                                                      or phone is distinct from {phone})
                                     from "{schema}"."{view}" """).fetchall()[0]
            compared, differing = compared + counts[0], differing + counts[1]
        [crm_view] = [f'"{schema}"."{view}"' for schema, view in views if view == "stg_crm__contacts"]
        planted = con.execute(f"""select source_record_id, email, phone, {email}, {phone} from {crm_view}
                                  where source_record_id like 'T_' order by 1""").fetchall()
        con.execute("rollback")
    assert compared > 1000 and differing == 0
    assert [(r[0], r[1], r[2]) for r in planted] == [
        ("T1", "ann.smith@example.com", "+4407700900123"),  # a "(0)" after the country code is kept, by both
        ("T2", "annsmith@x.io", "+3537700900123"),
        ("T3", None, "+12125550100"), ("T4", None, "+33123456789"), ("T5", "a@b.co", None)]
    assert all((r[1], r[2]) == (r[3], r[4]) for r in planted)


def test_tombstones_hold_keyed_hashes_only(erased):
    config, person_id, values, report, _, _ = erased
    emails = [v for v in values["substring"] if "@" in v]
    secret = tombstone_secret(config.state_dir)
    with connect(config.warehouse) as con:
        tombstones = con.sql("select * from governance.erasure_tombstones").pl()
        requests_text = con.sql("select * from governance.erasure_requests").pl().write_csv() if table_exists(
            con, "governance", "erasure_requests") else ""
    text = tombstones.write_csv() + requests_text
    assert "value_sha256" not in tombstones.columns
    for email in emails:
        assert hashlib.sha256(email.encode()).hexdigest() not in text
        assert hmac.new(secret, email.encode(), hashlib.sha256).hexdigest() in tombstones["value_hmac"].to_list()


def test_a_segment_on_enrichment_holds_fresh_large_households_and_reaches_only_its_destination(erased):
    config = erased[0]
    with connect(config.warehouse) as con:
        members = {r[0] for r in con.sql("select person_id from marts.seg_large_households").fetchall()}
        fresh_large = {r[0] for r in con.sql("select person_id from marts.customer_enrichment "
                                             "where household_size >= 4 and not is_stale").fetchall()}
        stale_large = {r[0] for r in con.sql("select person_id from marts.customer_enrichment "
                                             "where household_size >= 4 and is_stale").fetchall()}
    assert members and stale_large and members <= fresh_large  # stale enrichment feeds no segment
    exported = set(pl.read_parquet(config.exports / "email_platform" / "large_households" / "large_households.parquet")["person_id"])
    assert exported and exported <= members
    assert not (config.exports / "ad_platform" / "large_households").exists()
