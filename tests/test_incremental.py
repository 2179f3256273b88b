"""Incremental runs: Splink scores only new or changed records, and the result equals a full recompute.

The end-to-end check reuses the multi-day workspace (its second run was
already incremental): on copies of its warehouse, a third day brings a record
that joins two existing persons and corrects another record (same key, new
values); one copy resolves incrementally, the other recomputes in full.
The incremental dbt models are checked the same way: in a copy of the
workspace, an erasure, a corrected raw record and a person merge, then dbt
incrementally, then dbt --full-refresh: the same rows (the person-level marts
rebuild only the persons touched: an untouched person's stored rows stay).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import duckdb
import polars as pl
import pytest
import yaml
from dagster import DagsterEventType

from dagster_project.config import BUNDLED_DBT_PROJECT, load_config
from dagster_project.dbt_workspace import WorkspaceDbtPreparer, dbt_executable, workspace_dbt_project
from dagster_project.dbt_workspace import record_models_built
from dagster_project.defs.dbt import (
    BY_CONSTRUCTION,
    FULL_RUNS_ONLY,
    KEPT_IN_PLACE,
    ChecksLeftToFullRuns,
    build_args,
    quiet_checks_left_to_full_runs,
    staging_in_place,
    data_tests_left_to_full_runs,
)
from dagster_project.governance.erasure import erase_person
from dagster_project.identity.incremental import blocking_key_columns, keep_possible_partners, plan_scoring, reuse_scores
from dagster_project.identity.resolve import resolve_identities
from dagster_project.identity.splink_prepare import PREPARED, SCRATCH, scratch_database
from dagster_project.identity.term_frequencies import freeze_term_frequencies, frozen_lookups, frozen_path
from dagster_project.ml.models import model_too_old
from dagster_project.pipeline import dagster_instance
from dagster_project.run_mode import full_run_tags
from dagster_project.warehouse import connect

RECORDS = "intermediate.int_identity__records"
LINKS = "intermediate.int_identity__links"
# Two people the links keep apart (same first name and birth date, nothing else shared),
# then a record with the first one's email and the second one's phone.
TWIN_A = {"record_key": "crm:incr-a", "source": "crm", "source_record_id": "incr-a", "first_name_norm": "zebedee",
          "last_name_norm": "quorn", "date_of_birth": "1971-02-03", "email": "zq@example.org", "postcode_norm": "ZZ11AA"}
TWIN_B = {"record_key": "crm:incr-b", "source": "crm", "source_record_id": "incr-b", "first_name_norm": "zebedee",
          "last_name_norm": "vellacott", "date_of_birth": "1971-02-03", "phone": "+447700900123", "postcode_norm": "YY99ZZ"}
BRIDGE = {"record_key": "ecommerce_accounts:incr-n", "source": "ecommerce_accounts", "source_record_id": "incr-n",
          "first_name_norm": "zebedee", "date_of_birth": "1971-02-03", "email": "zq@example.org", "phone": "+447700900123"}


def _copy(config, folder):
    folder.mkdir()
    shutil.copy(config.warehouse, folder / "warehouse.duckdb")
    for path in (config.identity_model, frozen_path(config.identity_model)):
        shutil.copy(path, folder / path.name)
    return dataclasses.replace(config, warehouse=folder / "warehouse.duckdb", identity_model=folder / config.identity_model.name)


def _add_records(con, *records: dict) -> None:
    for record in records:
        columns = ", ".join(record)
        con.execute(f"insert into {RECORDS} ({columns}) values ({', '.join('?' * len(record))})", list(record.values()))


def _partition(con) -> dict[str, str]:
    return dict(con.execute("select record_key, person_id from identity.person_map").fetchall())


@pytest.fixture(scope="module")
def third_day(multi_day, tmp_path_factory):
    """(incremental report, full report, incremental copy, full copy, the corrected record)."""
    folder = tmp_path_factory.mktemp("incremental")
    config = _copy(multi_day["config"], folder / "incremental")
    with connect(config.warehouse) as con:
        _add_records(con, TWIN_A, TWIN_B)
        resolve_identities(con, config, "day-2b", full=False)
        persons = _partition(con)
        assert persons[TWIN_A["record_key"]] != persons[TWIN_B["record_key"]]
        # The third day: a bridging record and a correction of a record of a person with several.
        _add_records(con, BRIDGE)
        con.execute(f"insert into {LINKS} values (?, ?, 'email'), (?, ?, 'phone')",
                    sorted([BRIDGE["record_key"], TWIN_A["record_key"]]) + sorted([BRIDGE["record_key"], TWIN_B["record_key"]]))
        corrected = con.execute(
            f"""select r.record_key from {RECORDS} r join identity.person_map m using (record_key)
                where m.cluster_size >= 3 and r.first_name_norm is not null and r.date_of_birth is not null
                order by r.record_key limit 1"""
        ).fetchall()[0][0]
        con.execute(f"update {RECORDS} set first_name_norm = 'xanthippe', first_name_canonical = 'xanthippe', "
                    "date_of_birth = date '1901-01-01' where record_key = ?", [corrected])
    full_config = _copy(config, folder / "full")
    with connect(config.warehouse) as con:
        incremental = resolve_identities(con, config, "day-3", full=False)
    with connect(full_config.warehouse) as con:
        full = resolve_identities(con, full_config, "day-3", full=True)
    return incremental, full, config, full_config, corrected


def test_incremental_scores_only_the_new_and_changed_records(third_day):
    incremental, full, *_ = third_day
    assert incremental.scoring == "incremental: 2 new or changed records scored, 0 gone"
    assert full.scoring.startswith("full")


def test_incremental_equals_a_full_recompute(third_day):
    incremental, full, config, full_config, corrected = third_day
    with connect(config.warehouse) as con, connect(full_config.warehouse) as full_con:
        persons, persons_full = _partition(con), _partition(full_con)
        assert persons == persons_full  # the same partition, and the same ids
        for table in ("identity.scored_pairs", "identity.edges"):
            query = f"select * exclude (run_id) from {table}" if table.endswith("edges") else f"select * from {table}"
            ours, theirs = con.sql(query).pl(), full_con.sql(query).pl()
            key = ["record_key", "linked_record_key"] + (["rule"] if "rule" in ours.columns else [])
            assert ours.sort(key).equals(theirs.sort(key)), table
    assert (incremental.persons, incremental.links, incremental.merges, incremental.splits) == \
        (full.persons, full.links, full.merges, full.splits)
    # The bridge joined the two persons; the corrected record left its person.
    assert persons[TWIN_A["record_key"]] == persons[TWIN_B["record_key"]] == persons[BRIDGE["record_key"]]
    assert incremental.merges >= 1
    with connect(config.warehouse) as con:
        size = con.execute("select cluster_size from identity.person_map where record_key = ?", [corrected]).fetchall()[0][0]
    assert size == 1


def test_a_second_incremental_run_without_changes_scores_nothing(third_day):
    _, _, config, _, _ = third_day
    with connect(config.warehouse) as con:
        before = _partition(con)
        report = resolve_identities(con, config, "day-3-again", full=False)
        assert _partition(con) == before
    assert report.scoring == "incremental: 0 new or changed records scored, 0 gone"


def test_frozen_term_frequencies_keep_shared_values_and_count_new_ones_as_seen_once(tmp_path):
    con = duckdb.connect()
    model = {"comparisons": [{"comparison_levels": [{"tf_adjustment_column": "last_name_norm"}]}]}
    # (first name, last name, date of birth): john okafor's three records hold okafor once.
    records = [("john", "smith", "1970-01-01"), ("jane", "smith", "1972-02-02"), ("amy", "smith", None),
               ("ann", "jones", None), ("bob", "jones", None),
               ("john", "okafor", "1980-03-03"), ("john", "okafor", "1980-03-03"), ("john", "okafor", "1980-03-03"),
               ("kim", None, None)]
    with scratch_database(con):
        con.execute(f"create table {SCRATCH}.main.{PREPARED} (first_name_norm varchar, last_name_norm varchar, "
                    "date_of_birth date)")
        con.executemany(f"insert into {SCRATCH}.main.{PREPARED} values (?, ?, ?)", records)
        freeze_term_frequencies(con, model, tmp_path / "model.json")
        con.execute(f"insert into {SCRATCH}.main.{PREPARED} values ('ed', 'smith', null), ('yu', 'nakamura', null)")  # a later day
        table = frozen_lookups(con, model, tmp_path / "model.json")["last_name_norm"]
        lookup = dict(con.execute(f"select * from {SCRATCH}.main.{table}").fetchall())
    # 6 holders: smith 3, jones 2, okafor 1: a rare name stays as rare as a name seen once
    assert lookup == {"smith": 3 / 6, "jones": 2 / 6, "okafor": 1 / 6, "nakamura": 1 / 6}
    stored = pl.read_parquet(frozen_path(tmp_path / "model.json"))
    assert "smith" not in stored["value_hash"].to_list() and stored.height == 3  # hashes only: smith, jones, seen once


def test_plan_scoring_is_full_without_stored_scores_or_when_asked(tmp_path):
    con = duckdb.connect()
    with scratch_database(con):
        assert plan_scoring(con, "signature", False, "fingerprints").reason == "no scores stored yet"
        assert plan_scoring(con, "signature", True, "fingerprints").reason == "full run asked for"


def test_stored_scores_are_reused_for_unchanged_records_when_a_full_run_would_score_them(tmp_path):
    con = duckdb.connect()
    con.execute("create schema identity")
    con.execute("""create table identity.scored_pairs as select * from (values
        ('a', 'b', 0.99, true), ('a', 'c', 0.99, true),   -- c changed: scored again
        ('b', 'd', 0.10, false), ('a', 'd', 0.20, false)  -- kept for the veto: only b-d still is a vetoable pair
    ) as t(record_key, linked_record_key, match_probability, from_blocking)""")
    with scratch_database(con):
        con.execute(f"create table {SCRATCH}.main.clean_records as select * from (values ('a'), ('b'), ('d')) as t(record_key)")
        con.execute(f"create table {SCRATCH}.main.vetoable as select 'b' as record_key_l, 'd' as record_key_r")
        reuse_scores(con, f"{SCRATCH}.main.vetoable", "reused")
        reused = con.sql("select record_key, linked_record_key from reused order by all").fetchall()
    assert reused == [("a", "b"), ("b", "d")]


def test_an_incremental_run_scores_among_the_records_sharing_a_blocking_key_with_a_changed_one():
    model = {"blocking_rules_to_generate_predictions": [
        {"blocking_rule": 'l."bk_name" = r."bk_name"'}, {"blocking_rule": "l.bk_email = r.bk_email and l.bk_dob = r.bk_dob"}]}
    assert blocking_key_columns(model) == ["bk_name", "bk_email"]
    con = duckdb.connect()
    with scratch_database(con):
        con.execute(f"""create table {SCRATCH}.main.{PREPARED} as select * from (values
            ('new', 'ann|lee', 'a@x'), ('same name', 'ann|lee', null), ('same email', 'bob|ray', 'a@x'),
            ('vetoable', 'cy|dee', 'c@x'), ('unrelated', 'cy|dee', null), ('no keys', null, null)
        ) as t(record_key, bk_name, bk_email)""")
        con.execute(f"""create table {SCRATCH}.main.clean_records as select * from (values
            ('same name'), ('same email'), ('vetoable'), ('unrelated'), ('no keys')) as t(record_key)""")
        con.execute(f"create table {SCRATCH}.main.vetoable as select 'same name' as record_key_l, 'vetoable' as record_key_r")
        assert keep_possible_partners(con, model, f"{SCRATCH}.main.vetoable") == 4
        kept = con.sql(f"select record_key, is_new_or_changed from {SCRATCH}.main.{PREPARED} order by all").fetchall()
    assert kept == [("new", True), ("same email", False), ("same name", False), ("vetoable", False)]
    # A rule that is not key equalities (a fuzzy one, or an `or`): every record may be a partner.
    for rule in ("levenshtein(l.bk_name, r.bk_name) <= 1", "l.bk_name = r.bk_name or l.bk_email = r.bk_email"):
        assert blocking_key_columns({"blocking_rules_to_generate_predictions": [{"blocking_rule": rule}]}) is None


def test_a_model_older_than_max_age_is_retrained(workspace_factory):
    config = workspace_factory("model_age")
    card = config.models.folder / "churn.card.json"
    trained = datetime(2025, 1, 1, tzinfo=timezone.utc)
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(f'{{"trained_at": "{trained.isoformat()}"}}')
    days = config.models.max_age_days
    assert not model_too_old(config, "churn", now=(trained + timedelta(days=days)).replace(tzinfo=None))
    assert model_too_old(config, "churn", now=(trained + timedelta(days=days + 1)).replace(tzinfo=None))


INCREMENTAL_MODELS = {"intermediate.int_identity__records": "record_key", "marts.fct_orders": "order_line_key",
                      "marts.fct_events": "event_key", "marts.dim_customer": "person_id",
                      "marts.customer_identifiers": "person_id, identifier_type, identifier_value",
                      "marts.customer_consent": "person_id, purpose"}


def _dbt_run(config, *args: str) -> None:
    """The incremental models, and the person fingerprints the person-level marts compare against."""
    project = config.state_dir / "dbt"
    subprocess.run([dbt_executable(), "run", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project),
                    "--select", *(table.split(".")[1] for table in INCREMENTAL_MODELS), "int_customer__input_fingerprints",
                    *args], check=True)


def _rows(config) -> dict:
    """Each incremental model's rows in key order, without the load time (the watermark)."""
    with connect(config.warehouse) as con:
        return {table: con.sql(f"select * from {table} order by {key}").pl().drop("_loaded_at", strict=False)
                for table, key in INCREMENTAL_MODELS.items()}


# A person none of the changes touches: the person marts keep the rows stored for them (these
# marked values prove it), and only the persons touched are rebuilt.
UNTOUCHED_MARKS = {"marts.dim_customer": ("record_count", -1), "marts.customer_identifiers": ("record_count", -1),
                   "marts.customer_consent": ("status", "kept")}


def _mark_untouched_person(con, *touched: str) -> str:
    person = con.execute("""select person_id from identity.person_map group by person_id
                            having count(*) >= 2 and list_intersect(list(source_record_id), ?) = []
                               and person_id not in (select unnest(?)) order by 1 limit 1""",
                         [list(touched), list(touched)]).fetchall()[0][0]
    for table, (column, value) in UNTOUCHED_MARKS.items():
        con.execute(f"update {table} set {column} = ? where person_id = ?", [value, person])
    return person


@pytest.fixture(scope="module")
def dbt_day(multi_day, tmp_path_factory):
    """A copy of the multi-day workspace after an erasure, a corrected CRM record (a new raw version), a
    merge of the persons of an order's and an event's records and a split, built by dbt incrementally:
    (config, the incremental rows, the corrected record's key, the erased person, (the moved device, its new person),
    the person marked as untouched, the person left with one record that has no identifier)."""
    folder = tmp_path_factory.mktemp("dbt_day") / "workspace"
    shutil.copytree(multi_day["config"].path.parent, folder, ignore=shutil.ignore_patterns(".cdp"))
    config = load_config(folder / "cdp.yml")
    workspace_dbt_project(config)  # rendered for the copy's warehouse
    with connect(config.warehouse) as con:
        erased = con.execute("""select person_id from marts.fct_orders where person_id is not null
                                intersect select person_id from marts.fct_events order by 1 limit 1""").fetchall()[0][0]
        order_record, event_record, survivor = con.execute(
            """select o.source_record_id, e.device_record_id, o.person_id
               from marts.fct_orders o, marts.fct_events e
               where o.person_id is not null and e.person_id is not null and o.person_id <> e.person_id
                 and ? not in (o.person_id, e.person_id) order by 1, 2 limit 1""", [erased]).fetchall()[0]
        corrected = con.execute("""select contact_id from raw.crm where contact_id not in (
                                       select source_record_id from identity.person_map where person_id = ?)
                                   order by 1 limit 1""", [erased]).fetchall()[0][0]
        # A person with a record that carries no identifier, whose other records identity moves to the survivor.
        bare_person, bare_record = con.execute(
            """select m.person_id, m.record_key from intermediate.int_identity__records r join identity.person_map m using (record_key)
               where coalesce(r.email, r.phone, r.loyalty_id, r.device_id, r.address_line) is null and m.cluster_size >= 2
                 and m.person_id not in (?, ?) and m.person_id in (select person_id from marts.customer_identifiers)
               order by 1 limit 1""", [erased, survivor]).fetchall()[0]
    erase_person(config, person_id=erased)
    with connect(config.warehouse) as con:
        untouched = _mark_untouched_person(con, erased, survivor, bare_person, order_record, event_record, corrected)
        con.execute("""insert into raw.crm select * replace ('Xanthippe' as first_name, updated_at + interval 1 day as updated_at,
                                                          now()::timestamp as _loaded_at)
                       from raw.crm where contact_id = ? order by updated_at desc limit 1""", [corrected])
        # identity merged the event's device into the order's person (person ids as a run would leave them)
        con.execute("update identity.person_map set person_id = ? where source_record_id = ?", [survivor, event_record])
        con.execute("update identity.person_map set person_id = ? where person_id = ? and record_key <> ?",
                    [survivor, bare_person, bare_record])
    _dbt_run(config)
    return config, _rows(config), f"crm:{corrected}", erased, (event_record, survivor), untouched, bare_person


def test_incremental_dbt_models_equal_a_full_refresh(dbt_day):
    config, incremental, corrected, erased, (event_record, survivor), untouched, bare_person = dbt_day
    records = incremental["intermediate.int_identity__records"]
    assert records.filter(pl.col("record_key") == corrected)["first_name"].to_list() == ["Xanthippe"]
    events = incremental["marts.fct_events"]
    assert set(events.filter(pl.col("device_record_id") == event_record)["person_id"]) == {survivor}
    for table in ("marts.fct_orders", "marts.fct_events", *UNTOUCHED_MARKS):
        assert erased not in incremental[table]["person_id"].to_list(), table
    # A person left with a record without identifiers keeps a golden record and has no identifier left.
    assert incremental["marts.dim_customer"].filter(pl.col("person_id") == bare_person)["record_count"].to_list() == [1]
    assert bare_person not in incremental["marts.customer_identifiers"]["person_id"].to_list()
    # The person marts kept an untouched person's stored rows: they rebuilt only the persons touched.
    for table, (column, value) in UNTOUCHED_MARKS.items():
        assert incremental[table].filter(pl.col("person_id") == untouched)[column].unique().to_list() == [value], table
    _dbt_run(config, "--full-refresh")
    rebuilt = _rows(config)
    for table in UNTOUCHED_MARKS:  # the marked person aside, the same rows
        incremental[table], rebuilt[table] = (rows.filter(pl.col("person_id") != untouched)
                                              for rows in (incremental[table], rebuilt[table]))
    for table in INCREMENTAL_MODELS:
        assert incremental[table].height == rebuilt[table].height, table
        assert incremental[table].equals(rebuilt[table]), table


def test_a_full_run_or_changed_models_pass_full_refresh_to_dbt(tmp_path):
    (tmp_path / ".models_fingerprint").write_text("v1")
    assert "--full-refresh" in build_args(full_run_tags(False), tmp_path)  # no complete run known yet
    record_models_built(tmp_path)
    incremental, full = build_args(full_run_tags(False), tmp_path), build_args(full_run_tags(True), tmp_path)
    assert "--full-refresh" not in incremental and "--full-refresh" in full
    # The tests that hold by construction of the SQL, or are left to full runs, run only when models change or on --full.
    assert incremental[-2:] == ["--exclude", f"{BY_CONSTRUCTION} {FULL_RUNS_ONLY}"]
    assert BY_CONSTRUCTION not in " ".join(full) and FULL_RUNS_ONLY not in " ".join(full)
    # The staging views and seeds stay as the last run left them, when the warehouse has them.
    assert build_args(full_run_tags(False), tmp_path, staging_in_place=True)[-1] == f"{BY_CONSTRUCTION} {FULL_RUNS_ONLY} {KEPT_IN_PLACE}"
    assert KEPT_IN_PLACE not in " ".join(build_args(full_run_tags(True), tmp_path, staging_in_place=True))
    # Another currency rate, mapping or model: the incremental models are rebuilt whole once.
    (tmp_path / ".models_fingerprint").write_text("v2")
    assert "--full-refresh" in build_args(full_run_tags(False), tmp_path)


def test_staging_views_and_seeds_are_in_place_only_when_the_warehouse_has_every_one(workspace_factory):
    config = workspace_factory("staging_views")
    WorkspaceDbtPreparer(config).render(config.state_dir / "dbt")  # its seed files
    seeds = sorted(path.stem for path in (config.state_dir / "dbt" / "seeds").glob("*.csv"))
    assert seeds and not staging_in_place(config)  # no warehouse yet
    with connect(config.warehouse) as con:
        con.execute("create schema staging")
        for source in config.sources:
            con.execute(f"create view staging.{source.staging_model} as select 1 as id")
        assert not staging_in_place(config)  # no seed yet
        con.execute("create schema reference")
        for seed in seeds:
            con.execute(f"create table reference.{seed} as select 1 as id")
    assert staging_in_place(config)
    with connect(config.warehouse) as con:
        con.execute(f"drop table reference.{seeds[0]}")
    assert not staging_in_place(config)
    with connect(config.warehouse) as con:
        con.execute(f"create table reference.{seeds[0]} as select 1 as id")
        con.execute(f"drop view staging.{config.sources[0].staging_model}")
    assert not staging_in_place(config)
    assert not staging_in_place(dataclasses.replace(config, engine="spark"))


def test_an_incremental_run_keeps_the_staging_views_and_seeds_and_skips_no_step(multi_day):
    config, third = multi_day["config"], multi_day["runs"][2]  # the third run was incremental
    with dagster_instance(config) as instance:
        events = [record.event_log_entry.dagster_event for record in instance.get_records_for_run(third.run_id).records
                  if record.event_log_entry.is_dagster_event]
    assert not [event.step_key for event in events if event.event_type == DagsterEventType.STEP_SKIPPED]
    kept = {tuple(event.asset_key.path) for event in events if event.event_type == DagsterEventType.ASSET_MATERIALIZATION
            and "kept" in event.step_materialization_data.materialization.metadata}
    seeds = {("reference", path.stem) for path in (config.state_dir / "dbt" / "seeds").glob("*.csv")}
    assert kept == {("staging", source.staging_model) for source in config.sources} | seeds


def test_an_incremental_run_runs_only_the_data_tests_marked_for_every_run(multi_day):
    config, first, third = multi_day["config"], multi_day["runs"][0], multi_day["runs"][2]
    manifest = json.loads((config.state_dir / "dbt" / "target" / "manifest.json").read_text())
    tests = {node["name"]: node["config"]["meta"].get("cdp_every_run") for node in manifest["nodes"].values()
             if node["resource_type"] == "test"}
    every_run = {name for name, marked in tests.items() if marked}
    # Each test dbt_project.yml names is a test of the project (a renamed one would drop out silently).
    assert _tests_named_in_project_config() <= every_run
    assert {"unique_dim_customer_person_id", "cdp_unique_combination_customer_consent_person_id__purpose",
            "unique_aud_email_newsletter_person_id"} <= every_run
    # The dbt tests among the asset checks (Great Expectations gates are checks too).
    assert _checks_evaluated(config, third.run_id) & tests.keys() == every_run  # the third run was incremental
    assert _checks_evaluated(config, first.run_id) & tests.keys() > every_run  # the first was full
    # Dagster's warning that a blocking check gave no result is dropped for exactly the others.
    assert data_tests_left_to_full_runs(config.state_dir / "dbt" / "target" / "manifest.json") == tests.keys() - every_run


def test_dagster_does_not_warn_of_each_test_left_to_full_runs_but_of_any_other_check(tmp_path, caplog):
    manifest = tmp_path / "manifest.json"
    tests = {"every_day": {"meta": {"cdp_every_run": True}}, "full_runs": {"meta": {"cdp_every_run": False}},
             "unmarked": {"meta": {}}, "by_construction": {"meta": {"cdp_every_run": True}, "tags": ["cdp_by_construction"]}}
    manifest.write_text(json.dumps({"nodes": {
        f"test.cdp.{name}": {"resource_type": "test", "name": name, "config": {"meta": spec["meta"]}, "tags": spec.get("tags", [])}
        for name, spec in tests.items()} | {"model.cdp.full_runs": {"resource_type": "model", "name": "full_runs", "config": {}}}}))
    logger = logging.getLogger("dagster._core.execution.plan.active")
    before = list(logger.filters)
    try:
        quiet_checks_left_to_full_runs(manifest)
        quiet_checks_left_to_full_runs(manifest)  # replaces the filter it installed
        assert len([f for f in logger.filters if isinstance(f, ChecksLeftToFullRuns)]) == 1
        with caplog.at_level(logging.WARNING, logger=logger.name):
            for name in [*tests, "a_great_expectations_gate"]:
                logger.warning(f"Blocking asset check 'marts/dim_customer:{name}' emitted no result in step 'dbt_marts'; "
                               "downstream step 'dbt_activation' will proceed without gating on it.")
            logger.warning("another warning of full_runs")
    finally:
        logger.filters[:] = before
    assert [record.getMessage().split("'")[1] for record in caplog.records if "emitted no result" in record.getMessage()] == \
        ["marts/dim_customer:every_day", "marts/dim_customer:a_great_expectations_gate"]
    assert any(record.getMessage() == "another warning of full_runs" for record in caplog.records)


def _tests_named_in_project_config() -> set[str]:
    """The test names under data_tests in dbt_project.yml (keys that are no folder of models/)."""
    folders = {path.name for path in (BUNDLED_DBT_PROJECT / "models").rglob("*") if path.is_dir()}
    names, pending = set(), [yaml.safe_load((BUNDLED_DBT_PROJECT / "dbt_project.yml").read_text())["data_tests"]["cdp"]]
    while pending:
        for key, value in pending.pop().items():
            if key.startswith("+"):
                continue
            if key in folders:
                pending.append(value)
            else:
                names.add(key)
    return names


def _checks_evaluated(config, run_id: str) -> set[str]:
    with dagster_instance(config) as instance:
        records = instance.get_records_for_run(run_id).records
    return {record.event_log_entry.dagster_event.asset_check_evaluation_data.check_name for record in records
            if record.event_log_entry.is_dagster_event
            and record.event_log_entry.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION}
