"""The bundled quality-gate suites (expectations/*.json), run_suites and Data Docs.

Each suite runs on a small warehouse built here (raw, intermediate, identity and
marts tables); every test of bad data checks that exactly the expectation meant
to catch it fails.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from dagster_project.identity.conflicts import DOB_CONFLICT, conflicting_persons_sql
from dagster_project.identity.phonetic import write_record_phonetics

from dagster_project.quality import (
    NO_SUPPRESSION,
    GateError,
    GateResult,
    SuiteError,
    SuiteRun,
    audience_gate_params,
    audience_gate_run,
    load_suite,
    run_suite,
    run_suites,
    warehouse_gate_runs,
    write_data_docs,
)
from dagster_project.quality.suites import resolve_placeholders

REPO = Path(__file__).resolve().parents[1]
EXPECTATIONS = REPO / "expectations"
RAW_LOAD = EXPECTATIONS / "raw_load.json"
PERSON_MAP = EXPECTATIONS / "identity_person_map.json"
DIM_CUSTOMER = EXPECTATIONS / "marts_dim_customer.json"
AUDIENCE = EXPECTATIONS / "audience_gate.json"

PEOPLE = 40
PURPOSES = ["email_marketing", "sms_marketing", "ad_personalisation", "profiling", "analytics"]
IDENTITY_PARAMS = {"max_cluster_size": 3}
NEWSLETTER = "select * from marts.aud_newsletter_test"
NEWSLETTER_ROWS = 20  # odd person numbers: email_marketing granted, all have an email
NEWSLETTER_PARAMS = audience_gate_params("email_marketing", min_rows=10, max_rows=100)
# What the ad destination receives (dagster_project.export.queries): hashed identifiers only.
AD_QUERY = """
select
    audience.person_id,
    sha256(customers.email) as email_sha256,
    sha256(customers.phone) as phone_sha256
from marts.dim_customer as audience
inner join marts.dim_customer as customers on customers.person_id = audience.person_id
inner join marts.customer_consent as consent
    on consent.person_id = audience.person_id
    and consent.purpose = 'ad_personalisation'
    and consent.status = 'granted'
where customers.email is not null or customers.phone is not null
"""


def pid(number: int) -> str:
    return f"P{number:04d}"


def build_warehouse(
    tmp_path: Path, *statements: str, name: str = "warehouse.duckdb", people: int = PEOPLE
) -> Path:
    """A consistent warehouse of ``people`` persons, then ``statements`` to break it.

    Person n has one CRM record, and a second (ecommerce) record when n % 4 == 0;
    person 4's two records disagree on the date of birth (1 of 40 persons, 2.5%).
    Email is null when n % 10 == 0, phone when n % 6 == 0; email_marketing is
    granted for odd n, ad_personalisation when n % 3 != 0.  Person ids are P0001, P0002, ...
    """
    width = max(4, len(str(people)))
    path = tmp_path / name
    con = duckdb.connect(str(path))
    try:
        for schema in ("raw", "intermediate", "identity", "marts", "reference"):
            con.execute(f"create schema {schema}")
        for seed in ("nicknames", "nickname_alternates"):
            con.execute(f"create table reference.{seed} as select * from (values ('bob', 'robert')) as t(nickname, canonical)")
        con.execute(
            """
            create table raw.load_log as select * from (values
                ('crm', 'crm/contacts_0001.csv', sha256('crm/contacts_0001.csv'), 'loaded', 42, 40, 2, 0, null, timestamp '2024-05-01 10:00:00', 'run-1'),
                ('ecommerce_accounts', 'ecommerce/accounts_0001.jsonl', sha256('ecommerce/accounts_0001.jsonl'), 'loaded', 10, 10, 0, 0, null, timestamp '2024-05-01 10:00:01', 'run-1'),
                ('consent', 'consent/consent_0001.csv', sha256('consent/consent_0001.csv'), 'loaded', 0, 0, 0, 0, null, timestamp '2024-05-01 10:00:02', 'run-1'),
                ('crm', 'crm/contacts_0002.csv', sha256('crm/contacts_0002.csv'), 'failed', 0, 0, 0, 0, 'not valid UTF-8', timestamp '2024-05-02 10:00:00', 'run-2')
            ) as t(source, file, sha256, status, rows_read, rows_loaded, rows_quarantined, rows_erased, error, loaded_at, run_id)
            """
        )
        con.execute(
            """
            create table raw.quarantine as
            select 'crm' as source, 'crm/contacts_0001.csv' as file, sha256('crm/contacts_0001.csv') as file_sha256,
                   n as row_number, 'birth_date' as column_name, 'not a date' as value, 'invalid date' as reason,
                   '{"contact_id": "x"}' as raw_record, timestamp '2024-05-01 10:00:00' as quarantined_at, 'run-1' as run_id
            from range(41, 43) as r(n)
            """
        )
        con.execute(
            f"""
            create table intermediate.int_identity__records as
            with people as (
                select n, date '1960-01-01' + cast((n * 97) % 20000 as integer) as dob from range(1, {people + 1}) as r(n)
            ),
            records as (
                select n, 'crm' as source, 'C' || n as source_record_id, dob as date_of_birth from people
                union all
                select n, 'ecommerce_accounts', 'A' || n,
                       case when n = 4 then dob + 1 when n = 8 then null else dob end
                from people where n % 4 = 0
            )
            select
                source || ':' || source_record_id as record_key, source, source_record_id,
                'First' || n as first_name, 'first' || n as first_name_norm, 'first' || n as first_name_canonical, false as first_name_listed,
                'Last' || n as last_name, 'last' || n as last_name_norm, null::varchar as name_suffix,
                case when n % 10 <> 0 then 'person' || n || '@example.com' end as email,
                case when n % 6 <> 0 then '+447700' || lpad(cast(n as varchar), 6, '0') end as phone,
                date_of_birth, n || ' High Street' as address_line, 'AB1 ' || n || 'CD' as postcode,
                'AB1' || n || 'CD' as postcode_norm, 'Leeds' as city, 'West Yorkshire' as region, 'GB' as country,
                null::varchar as loyalty_id, null::varchar as device_id, null::varchar as sex,
                timestamp '2024-01-01 00:00:00' + to_days(cast(n as integer)) as updated_at,
                n as person_number
            from records
            """
        )
        con.execute(
            f"""
            create table identity.person_map as
            select record_key, source, source_record_id,
                   'P' || lpad(cast(person_number as varchar), {width}, '0') as person_id,
                   count(*) over (partition by person_number) as cluster_size,
                   'run-1' as run_id, timestamp '2024-05-01 11:00:00' as resolved_at
            from intermediate.int_identity__records
            """
        )
        write_record_phonetics(con, "intermediate.int_identity__records")  # as identity resolution does
        con.execute("create table identity.accepted_conflicts (record_key varchar, linked_record_key varchar, reason varchar)")
        con.execute(
            """
            create table identity.edges as
            select a.record_key, b.record_key as linked_record_key, 'email' as rule,
                   1.0 as match_probability, 20.0 as match_weight, false as vetoed, 'run-1' as run_id
            from intermediate.int_identity__records as a
            join intermediate.int_identity__records as b
              on a.person_number = b.person_number and a.record_key < b.record_key
            """
        )
        con.execute(
            """
            create table marts.dim_customer as
            select
                m.person_id,
                max(first_name) as first_name, 'crm' as first_name_source,
                max(last_name) as last_name, 'crm' as last_name_source,
                max(email) as email, 'crm' as email_source,
                max(phone) as phone, 'crm' as phone_source,
                max(date_of_birth) as date_of_birth, 'crm' as date_of_birth_source,
                max(address_line) as address_line, 'crm' as address_line_source,
                max(postcode) as postcode, 'crm' as postcode_source,
                max(city) as city, 'crm' as city_source,
                max(region) as region, 'crm' as region_source,
                max(country) as country, 'crm' as country_source,
                max(loyalty_id) as loyalty_id, null::varchar as loyalty_id_source,
                count(*) as record_count, count(distinct r.source) as source_count,
                min(updated_at) as first_seen_at, max(updated_at) as last_updated_at
            from intermediate.int_identity__records as r
            join identity.person_map as m using (record_key)
            group by m.person_id
            """
        )
        purposes = " union all ".join(f"select '{p}' as purpose" for p in PURPOSES)
        con.execute(
            f"""
            create table marts.customer_consent as
            select
                d.person_id, p.purpose,
                case
                    when p.purpose = 'email_marketing' and cast(substr(d.person_id, 2) as integer) % 2 = 1 then 'granted'
                    when p.purpose = 'ad_personalisation' and cast(substr(d.person_id, 2) as integer) % 3 <> 0 then 'granted'
                    when p.purpose in ('profiling', 'analytics') then 'granted'
                    else 'withdrawn'
                end as status,
                timestamp '2024-03-01 12:00:00' as status_at, 'web' as channel, 'consent' as source,
                'E' || d.person_id || p.purpose as source_record_id,
                p.purpose in ('profiling', 'analytics', 'sms_marketing') as is_default
            from marts.dim_customer as d cross join ({purposes}) as p
            """
        )
        con.execute(
            """
            create table marts.aud_newsletter_test as
            select c.person_id, c.email, c.first_name
            from marts.dim_customer as c
            join marts.customer_consent as k
              on k.person_id = c.person_id and k.purpose = 'email_marketing' and k.status = 'granted'
            where c.email is not null
            """
        )
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def good_warehouse(tmp_path_factory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("good"))


def good_runs() -> list[SuiteRun]:
    return [
        *warehouse_gate_runs(EXPECTATIONS, **IDENTITY_PARAMS),
        SuiteRun(AUDIENCE, NEWSLETTER, NEWSLETTER_PARAMS),
        audience_gate_run(EXPECTATIONS, AD_QUERY, "ad_personalisation", target="ad_platform/known_customers"),
        audience_gate_run(EXPECTATIONS, "select person_id from marts.aud_newsletter_test", "email_marketing"),
    ]


def only_failure(result: GateResult):
    """The single failed expectation of a result (fails the test otherwise)."""
    assert not result.passed
    failures = result.failures
    assert len(failures) == 1, result.describe_failures()
    assert failures[0].error is None, failures[0].error
    return failures[0]


def failing_query(result: GateResult) -> str:
    return only_failure(result).kwargs["unexpected_rows_query"]


# --------------------------------------------------------------------------- good data


def test_every_suite_passes_on_good_data(good_warehouse):
    results = run_suites(good_warehouse, good_runs())

    assert [r.suite_name for r in results] == [
        "raw_load", "identity_person_map", "marts_dim_customer",
        "audience_gate", "audience_gate", "audience_gate",
    ]
    for result in results:
        assert result.passed, f"{result.suite_name}: {result.describe_failures()}"
        assert all(o.error is None for o in result.results)
    raw, person_map, dim, newsletter, ads, ids_only = results
    assert (raw.target, raw.row_count) == ("raw.load_log", 4)
    assert (person_map.target, person_map.row_count) == ("identity.person_map", 50)
    assert (dim.target, dim.row_count) == ("marts.dim_customer", PEOPLE)
    assert newsletter.row_count == NEWSLETTER_ROWS
    assert ads.target == "ad_platform/known_customers" and ads.row_count > 0
    assert ids_only.row_count == NEWSLETTER_ROWS  # a person_id-only export is fine too
    max_cluster = next(o for o in person_map.results if o.expectation_type == "expect_column_max_to_be_between")
    assert max_cluster.observed_value == 2 and max_cluster.kwargs["max_value"] == 3
    json.dumps([r.to_dict() for r in results])


def test_every_expectation_has_notes_and_the_suites_declare_their_params():
    expected = {
        RAW_LOAD: set(),
        PERSON_MAP: {"max_cluster_size"},
        DIM_CUSTOMER: set(),
        AUDIENCE: {"purpose", "suppressed_query", "min_rows", "max_rows"},
    }
    from dagster_project.quality.suites import placeholders

    for path, params in expected.items():
        suite = load_suite(path)
        assert all(e["meta"].get("notes") for e in suite["expectations"]), path.name
        assert suite["meta"].get("notes"), path.name
        assert placeholders(suite) == params, path.name


def test_run_suites_equals_run_suite_for_each(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "update marts.dim_customer set phone = '07700900123' where person_id = 'P0003'",
        "update raw.load_log set rows_loaded = 39 where file = 'crm/contacts_0001.csv'",
    )
    runs = good_runs()
    together = run_suites(warehouse, runs)
    alone = [run_suite(warehouse, *run[:3], target=run.target) for run in runs]

    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    assert [dataclasses.replace(r, evaluated_at=epoch) for r in together] == [
        dataclasses.replace(r, evaluated_at=epoch) for r in alone
    ]
    assert [r.passed for r in together] == [False, True, False, True, True, True]
    assert together[0].evaluated_at <= together[-1].evaluated_at


def test_run_suites_checks_every_suite_before_opening_the_warehouse(good_warehouse, tmp_path):
    with pytest.raises(SuiteError, match=r"identity_person_map\.json.*max_cluster_size"):
        run_suites(good_warehouse, [
            SuiteRun(RAW_LOAD, "select * from raw.load_log"),
            SuiteRun(PERSON_MAP, "select * from identity.person_map", {}),
        ])
    assert run_suites(good_warehouse, []) == []
    with pytest.raises(FileNotFoundError):
        run_suites(tmp_path / "missing.duckdb", good_runs())


def test_an_unreadable_query_raises_naming_its_suite_and_releases_the_file(tmp_path):
    warehouse = build_warehouse(tmp_path)
    with pytest.raises(GateError, match="'marts_dim_customer'.*cannot read the rows of marts.no_such_table"):
        run_suites(warehouse, [
            SuiteRun(RAW_LOAD, "select * from raw.load_log"),
            SuiteRun(DIM_CUSTOMER, "select * from marts.no_such_table"),
        ])
    con = duckdb.connect(str(warehouse))  # read-write again: run_suites closed everything
    con.execute("create table main.after_the_gate as select 1 as x")
    con.close()


# --------------------------------------------------------------------------- raw_load


def raw_load(warehouse: Path) -> GateResult:
    return run_suite(warehouse, RAW_LOAD, "select * from raw.load_log")


def test_a_loaded_file_that_does_not_reconcile_fails(tmp_path):
    warehouse = build_warehouse(
        tmp_path, "update raw.load_log set rows_loaded = 39 where file = 'crm/contacts_0001.csv'"
    )
    failure = only_failure(raw_load(warehouse))

    assert failure.expectation_type == "unexpected_rows_expectation"
    assert "rows_loaded + rows_quarantined + coalesce(rows_erased, 0) <> rows_read" in failure.kwargs["unexpected_rows_query"]
    assert failure.unexpected_count == 1
    assert failure.samples[0]["file"] == "crm/contacts_0001.csv"
    assert (failure.samples[0]["rows_read"], failure.samples[0]["rows_loaded"]) == (42, 39)


def test_a_failed_file_need_not_reconcile(tmp_path):
    warehouse = build_warehouse(
        tmp_path, "update raw.load_log set rows_read = 7 where status = 'failed'"
    )
    assert raw_load(warehouse).passed


@pytest.mark.parametrize(
    ("statement", "expectation_type", "column"),
    [
        ("update raw.load_log set status = 'skipped' where file = 'consent/consent_0001.csv'",
         "expect_column_values_to_be_in_set", "status"),
        ("update raw.load_log set sha256 = 'abc123' where file = 'consent/consent_0001.csv'",
         "unexpected_rows_expectation", None),
        ("update raw.load_log set sha256 = upper(sha256) where file = 'consent/consent_0001.csv'",
         "unexpected_rows_expectation", None),
        ("update raw.load_log set sha256 = sha256 || 'a' where file = 'consent/consent_0001.csv'",
         "unexpected_rows_expectation", None),
    ],
    ids=["unknown-status", "short-sha", "upper-case-sha", "65-chars-sha"],
)
def test_bad_status_or_checksum_fails(tmp_path, statement, expectation_type, column):
    failure = only_failure(raw_load(build_warehouse(tmp_path, statement)))
    assert (failure.expectation_type, failure.column) == (expectation_type, column)
    if expectation_type == "unexpected_rows_expectation":
        assert "sha256" in failure.kwargs["unexpected_rows_query"]
        assert failure.samples[0]["file"] == "consent/consent_0001.csv"


def test_a_null_checksum_fails_not_null(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "create or replace table raw.load_log as select * replace (case when status = 'failed' then null else sha256 end as sha256) from raw.load_log",
    )
    failure = only_failure(raw_load(warehouse))
    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_not_be_null", "sha256")
    assert failure.samples == [{"source": "crm", "file": "crm/contacts_0002.csv", "sha256": None}]


# --------------------------------------------------------------------------- identity_person_map


def person_map(warehouse: Path, **params) -> GateResult:
    return run_suite(warehouse, PERSON_MAP, "select * from identity.person_map", {**IDENTITY_PARAMS, **params})


def test_a_record_missing_from_the_person_map_fails(tmp_path):
    warehouse = build_warehouse(tmp_path, "delete from identity.person_map where record_key = 'crm:C7'")
    failure = only_failure(person_map(warehouse))

    assert "intermediate.int_identity__records as records anti join" in failure.kwargs["unexpected_rows_query"]
    assert failure.samples == [{"record_key": "crm:C7", "source": "crm", "source_record_id": "C7"}]


def test_a_stale_person_map_row_fails(tmp_path):
    warehouse = build_warehouse(tmp_path, "delete from intermediate.int_identity__records where record_key = 'crm:C7'")
    failure = only_failure(person_map(warehouse))
    assert failure.samples == [
        {"record_key": "crm:C7", "source": "crm", "source_record_id": "C7", "person_id": "P0007"}
    ]


def test_a_cluster_above_the_max_fails(tmp_path):
    # Persons 1, 2, 3 and 5 (one record each, same date of birth) merged into P0001.
    warehouse = build_warehouse(
        tmp_path,
        "update intermediate.int_identity__records set date_of_birth = date '1980-01-01' where record_key in ('crm:C1', 'crm:C2', 'crm:C3', 'crm:C5')",
        "update identity.person_map set person_id = 'P0001', cluster_size = 4 where record_key in ('crm:C1', 'crm:C2', 'crm:C3', 'crm:C5')",
    )
    failure = only_failure(person_map(warehouse))

    assert (failure.expectation_type, failure.column) == ("expect_column_max_to_be_between", "cluster_size")
    assert failure.observed_value == 4 and failure.kwargs["max_value"] == 3
    assert person_map(warehouse, max_cluster_size=4).passed


def test_a_cluster_size_that_does_not_match_the_records_fails(tmp_path):
    warehouse = build_warehouse(tmp_path, "update identity.person_map set cluster_size = 1 where person_id = 'P0012'")
    failure = only_failure(person_map(warehouse))
    assert "cluster_size" in failure.kwargs["unexpected_rows_query"]
    assert failure.samples == [{"person_id": "P0012", "min_cluster_size": 1, "max_cluster_size": 1, "records": 2}]


def test_duplicate_or_unresolved_records_fail(tmp_path):
    duplicate = build_warehouse(
        tmp_path, "insert into identity.person_map select * from identity.person_map where record_key = 'crm:C9'",
        "update identity.person_map set cluster_size = 2 where person_id = 'P0009'", name="duplicate.duckdb",
    )
    failure = only_failure(person_map(duplicate))
    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_be_unique", "record_key")

    unresolved = build_warehouse(
        tmp_path, "update identity.person_map set person_id = null where record_key = 'crm:C9'", name="null.duckdb"
    )
    failure = only_failure(person_map(unresolved))
    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_not_be_null", "person_id")
    assert failure.samples == [{"record_key": "crm:C9", "person_id": None}]


def test_a_person_holding_conflicting_records_fails_the_graph_health_check(tmp_path):
    # Person 12's two records: dates of birth decades apart; person 16's: a
    # junior and a senior. Person 4's one-day difference is a typo, not a conflict.
    warehouse = build_warehouse(
        tmp_path,
        "update intermediate.int_identity__records set date_of_birth = date '1931-05-05' where record_key = 'ecommerce_accounts:A12'",
        "update intermediate.int_identity__records set name_suffix = case source when 'crm' then 'sr' else 'jr' end "
        "where record_key in ('crm:C16', 'ecommerce_accounts:A16')",
    )
    failures = person_map(warehouse).failures
    assert len(failures) == 1
    assert DOB_CONFLICT in failures[0].kwargs["unexpected_rows_query"]  # the rule identity resolution applies
    assert sorted(s["person_id"] for s in failures[0].samples) == ["P0012", "P0016"]
    examples = {sample["person_id"]: sample["example_pair"] for sample in failures[0].samples}
    assert examples["P0012"] == "crm:C12 / ecommerce_accounts:A12"


def test_the_graph_health_expectation_is_the_rule_identity_resolution_applies():
    suite = json.loads(PERSON_MAP.read_text())
    query = suite["expectations"][-1]["kwargs"]["unexpected_rows_query"]
    assert query == " ".join(conflicting_persons_sql("{batch}", "intermediate.int_identity__records").split())


def test_a_typo_in_a_date_of_birth_is_no_conflict(good_warehouse):
    # Person 4's records are one day apart, person 8's second record has none.
    assert person_map(good_warehouse).passed


# --------------------------------------------------------------------------- marts_dim_customer


def dim_customer(warehouse: Path) -> GateResult:
    return run_suite(warehouse, DIM_CUSTOMER, "select * from marts.dim_customer")


@pytest.mark.parametrize("phone", ["07700900123", "+0447700900123", "+44 7700 900123", "+1234567", "+1234567890123456"])
def test_an_invalid_phone_fails_the_e164_check(tmp_path, phone):
    warehouse = build_warehouse(tmp_path, f"update marts.dim_customer set phone = '{phone}' where person_id = 'P0005'")
    failure = only_failure(dim_customer(warehouse))

    assert "regexp_matches(phone" in failure.kwargs["unexpected_rows_query"]
    assert failure.samples == [{"person_id": "P0005", "phone": phone}]


def test_the_shortest_and_longest_e164_numbers_pass(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "update marts.dim_customer set phone = '+12345678' where person_id = 'P0005'",
        "update marts.dim_customer set phone = '+123456789012345' where person_id = 'P0007'",
    )
    assert dim_customer(warehouse).passed


@pytest.mark.parametrize("email", ["Person5@example.com", "person5@example", "person 5@example.com", "a@@example.com"])
def test_a_malformed_email_fails(tmp_path, email):
    warehouse = build_warehouse(tmp_path, f"update marts.dim_customer set email = '{email}' where person_id = 'P0005'")
    failure = only_failure(dim_customer(warehouse))
    assert failure.samples == [{"person_id": "P0005", "email": email}]


def test_a_person_missing_consent_rows_fails_consent_coverage(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "delete from marts.customer_consent where person_id = 'P0011' and purpose in ('profiling', 'email_marketing')",
        "delete from marts.customer_consent where person_id = 'P0013' and purpose = 'profiling'",
    )
    failure = only_failure(dim_customer(warehouse))

    assert "marts.customer_consent" in failure.kwargs["unexpected_rows_query"]
    assert sorted(failure.samples, key=lambda s: s["person_id"]) == [
        {"person_id": "P0011", "consent_rows": 3, "purposes": 5, "missing": ["email_marketing", "profiling"]},
        {"person_id": "P0013", "consent_rows": 4, "purposes": 5, "missing": ["profiling"]},
    ]


def test_a_person_without_any_consent_row_fails_consent_coverage(tmp_path):
    warehouse = build_warehouse(tmp_path, "delete from marts.customer_consent where person_id = 'P0002'")
    failure = only_failure(dim_customer(warehouse))
    assert failure.samples == [{"person_id": "P0002", "consent_rows": 0, "purposes": 5, "missing": sorted(PURPOSES)}]


def test_duplicate_person_fails_uniqueness(tmp_path):
    warehouse = build_warehouse(
        tmp_path, "insert into marts.dim_customer select * from marts.dim_customer where person_id = 'P0003'"
    )
    failure = only_failure(dim_customer(warehouse))
    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_be_unique", "person_id")


# --------------------------------------------------------------------------- audience_gate


def newsletter(warehouse: Path, **params) -> GateResult:
    return run_suite(warehouse, AUDIENCE, NEWSLETTER, {**NEWSLETTER_PARAMS, **params})


def test_an_audience_member_without_consent_for_the_purpose_fails(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "update marts.customer_consent set status = 'withdrawn' where person_id = 'P0003' and purpose = 'email_marketing'",
        "delete from marts.customer_consent where person_id = 'P0005' and purpose = 'email_marketing'",
    )
    failure = only_failure(newsletter(warehouse))

    assert "consent.purpose = 'email_marketing'" in failure.kwargs["unexpected_rows_query"]
    assert sorted(s["person_id"] for s in failure.samples) == ["P0003", "P0005"]


def test_consent_is_checked_for_the_purpose_given(good_warehouse):
    # Newsletter members are odd persons; those divisible by 3 have no ad_personalisation consent.
    failure = only_failure(newsletter(good_warehouse, purpose="ad_personalisation"))
    assert failure.unexpected_count == len([n for n in range(1, PEOPLE + 1, 2) if n % 3 == 0 and n % 10])


def test_a_suppressed_member_fails(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "create table marts.suppressions as select 'P0007' as person_id, 'erasure request' as reason",
    )
    params = audience_gate_params(
        "email_marketing", min_rows=10, max_rows=100,
        suppressed_query="select person_id from marts.suppressions;",
    )
    failure = only_failure(run_suite(warehouse, AUDIENCE, NEWSLETTER, params))

    assert "(select person_id from marts.suppressions) as suppressed" in failure.kwargs["unexpected_rows_query"]
    assert failure.samples == [{"person_id": "P0007"}]


def test_a_suppression_query_with_braces_and_joins_works(good_warehouse):
    # Regex quantifiers are braces, which GX's {batch} substitution would otherwise choke on.
    query = (
        "select c.person_id from marts.dim_customer as c join marts.customer_consent as k using (person_id) "
        "where regexp_matches(c.person_id, '^P0{2}1[13]$') and k.purpose = 'profiling'"
    )
    failure = only_failure(newsletter(good_warehouse, suppressed_query=query))
    assert sorted(s["person_id"] for s in failure.samples) == ["P0011", "P0013"]
    assert "'^P0{{2}}1[13]$'" in failure.kwargs["unexpected_rows_query"]  # escaped for GX


def test_nobody_suppressed_by_default(good_warehouse):
    params = audience_gate_params("email_marketing")
    assert params == {"purpose": "email_marketing", "suppressed_query": NO_SUPPRESSION, "min_rows": 1, "max_rows": None}
    assert run_suite(good_warehouse, AUDIENCE, NEWSLETTER, params).passed


@pytest.mark.parametrize(("min_rows", "max_rows"), [(21, None), (1, 19), (100, 200)])
def test_audience_size_outside_the_band_fails(good_warehouse, min_rows, max_rows):
    failure = only_failure(newsletter(good_warehouse, min_rows=min_rows, max_rows=max_rows))
    assert failure.expectation_type == "expect_table_row_count_to_be_between"
    assert failure.observed_value == NEWSLETTER_ROWS
    assert failure.kwargs == {"min_value": min_rows, "max_value": max_rows}


def test_audience_size_band_is_inclusive(good_warehouse):
    assert newsletter(good_warehouse, min_rows=NEWSLETTER_ROWS, max_rows=NEWSLETTER_ROWS).passed


def test_duplicate_or_null_audience_members_fail(tmp_path):
    warehouse = build_warehouse(
        tmp_path,
        "insert into marts.aud_newsletter_test select * from marts.aud_newsletter_test where person_id = 'P0001'",
    )
    failure = only_failure(newsletter(warehouse))
    assert (failure.expectation_type, failure.column) == ("expect_column_values_to_be_unique", "person_id")


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("select person_id, upper(email) as email from marts.aud_newsletter_test", "email"),
        ("select person_id, email, '0044' || person_id as phone from marts.aud_newsletter_test", "phone"),
        ("select person_id, upper(sha256(email)) as email_sha256 from marts.aud_newsletter_test", "email_sha256"),
        ("select person_id, sha256(email) as email_sha256, md5(email) as phone_sha256 from marts.aud_newsletter_test",
         "phone_sha256"),
    ],
    ids=["upper-case-email", "phone-not-e164", "upper-case-hash", "md5-not-sha256"],
)
def test_malformed_identifiers_in_an_export_fail(good_warehouse, query, bad):
    failure = only_failure(run_suite(good_warehouse, AUDIENCE, query, NEWSLETTER_PARAMS))
    assert failure.unexpected_count == NEWSLETTER_ROWS
    assert {s["bad_identifiers"] for s in failure.samples} == {bad}


def test_audience_gate_params_are_checked():
    with pytest.raises(SuiteError, match="purpose"):
        audience_gate_params("email'; drop table x; --")
    with pytest.raises(SuiteError, match="min_rows or max_rows"):
        audience_gate_params("email_marketing", min_rows=None)


def test_placeholders_inside_a_query_are_literal_sql_for_gx():
    suite = {"name": "s", "path": "s.json", "expectations": [{"type": "unexpected_rows_expectation", "meta": {}, "kwargs": {
        "unexpected_rows_query": "select * from {batch} where x = '${v}' and y ~ '[0-9]{{3}}' and z in (${q})",
    }}, {"type": "t", "meta": {}, "kwargs": {"other": "${q}", "whole": "${q}"}}]}
    resolved = resolve_placeholders(suite, {"v": "a{b}", "q": "select '{x}'"})["expectations"]
    assert resolved[0]["kwargs"]["unexpected_rows_query"] == (
        "select * from {batch} where x = 'a{{b}}' and y ~ '[0-9]{{3}}' and z in (select '{{x}}')"
    )
    assert resolved[1]["kwargs"] == {"other": "select '{x}'", "whole": "select '{x}'"}  # only GX-formatted kwargs


# --------------------------------------------------------------------------- Data Docs


def test_data_docs_list_every_suite_without_personal_data(tmp_path, good_warehouse):
    broken = build_warehouse(
        tmp_path,
        "update marts.dim_customer set phone = '07700 SECRET' where person_id = 'P0005'",
        "update marts.aud_newsletter_test set email = 'Secret.Person@Example.com' where person_id = 'P0009'",
    )
    results = run_suites(broken, good_runs())
    assert [r.passed for r in results] == [True, True, False, False, True, True]

    index = write_data_docs(results, tmp_path / "docs")

    assert index == tmp_path / "docs" / "index.html"
    text = index.read_text()
    for suite in ("raw_load", "identity_person_map", "marts_dim_customer", "audience_gate"):
        assert suite in text
    for target in ("raw.load_log", "identity.person_map", "marts.dim_customer", "ad_platform/known_customers"):
        assert target in text
    assert text.count('class="failed">FAILED') >= 2 and 'class="passed">passed' in text
    assert "1 unexpected row" in text  # observed values per expectation
    assert "consent coverage" in text  # notes per expectation
    assert results[0].evaluated_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") in text
    pages = sorted((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == len(results)
    for page in pages:
        assert page.relative_to(tmp_path / "docs").as_posix() in text  # linked from the index
        assert "Great Expectations" in page.read_text()
    everything = "".join(p.read_text() for p in [index, *pages])
    assert "SECRET" not in everything and "Secret.Person" not in everything
    assert "http" not in text  # the index needs no network

    with_samples = write_data_docs(results, tmp_path / "docs_with_samples", include_samples=True).read_text()
    assert "07700 SECRET" in with_samples and "P0009" in with_samples


def test_data_docs_gx_pages_carry_the_validation(tmp_path, good_warehouse):
    results = run_suites(good_warehouse, good_runs()[:2])
    write_data_docs(results, tmp_path)
    (page,) = (tmp_path / "validations" / "identity_person_map").rglob("*.html")
    text = page.read_text()
    assert "identity.person_map" in text and "identity_person_map" in text
    assert "Evaluated Expectations" in text
    assert '"../../../../index.html"' in text  # GX's Home link leads back to the index


def test_an_expectation_that_raises_fails_its_gate_and_the_docs_name_the_error(tmp_path):
    warehouse = build_warehouse(tmp_path, "drop table identity.accepted_conflicts")  # the graph-health query reads it
    (result,) = run_suites(warehouse, [r for r in good_runs() if r.suite_path.stem == "identity_person_map"])
    assert not result.passed and any("accepted_conflicts" in (f.error or "") for f in result.failures)
    write_data_docs([result], tmp_path / "docs")
    (page,) = (tmp_path / "docs" / "validations" / "identity_person_map").rglob("*.html")
    assert "accepted_conflicts" in page.read_text()
