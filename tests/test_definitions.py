"""The Dagster definitions: one lineage graph, checks, schedule and sensor."""

import dagster as dg
import pytest

from dagster_project.defs.automation import FULL_RUN_JOB
from dagster_project.definitions import build_definitions


@pytest.fixture(scope="module")
def workspace(workspace_factory):
    config = workspace_factory("defs")
    config.landing.mkdir(parents=True)
    return config


@pytest.fixture(scope="module")
def definitions(workspace):
    return build_definitions(workspace)


def key(path: str) -> dg.AssetKey:
    return dg.AssetKey(path.split("/"))


def test_every_stage_is_in_one_graph(definitions, workspace):
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for source in workspace.sources:
        assert f"raw/{source.name}" in keys
        assert f"staging/{source.staging_model}" in keys
    assert {"intermediate/int_identity__records", "identity/person_map", "marts/dim_customer",
            "marts/customer_consent", "marts/aud_email_newsletter",
            "export/email_platform/email_newsletter"} <= keys


def test_ingest_asset_is_the_dbt_source_so_lineage_is_connected(definitions):
    graph = definitions.resolve_asset_graph()
    assert key("raw/crm") in graph.get(key("staging/stg_crm__contacts")).parent_keys
    assert key("identity/person_map") in graph.get(key("marts/dim_customer")).parent_keys
    assert key("intermediate/int_identity__links") in graph.get(key("identity/person_map")).parent_keys
    assert key("marts/aud_email_newsletter") in graph.get(key("export/email_platform/email_newsletter")).parent_keys


def test_groups_follow_the_stages(definitions):
    graph = definitions.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["raw/crm"] == "ingest"
    assert groups["staging/stg_crm__contacts"] == "staging"
    assert groups["intermediate/int_identity__records"] == "intermediate"
    assert groups["identity/person_map"] == "identity"
    assert groups["marts/dim_customer"] == "marts"
    assert groups["export/email_platform/email_newsletter"] == "export"


def test_dbt_tests_and_gates_are_asset_checks(definitions):
    checks = {(c.asset_key.to_user_string(), c.name) for c in definitions.resolve_asset_graph().asset_check_keys}
    assert ("marts/dim_customer", "unique_dim_customer_person_id") in checks
    assert ("intermediate/int_identity__records", "unique_int_identity__records_record_key") in checks
    assert ("raw/crm", "loaded_plus_quarantined_equals_read") in checks
    assert ("identity/person_map", "one_row_per_identity_record") in checks
    assert ("identity/person_map", "ge_identity_person_map") in checks
    assert ("marts/dim_customer", "ge_marts_dim_customer") in checks
    assert ("raw/pos", "ge_raw_load") in checks


def test_daily_schedule_runs_the_full_job(definitions):
    schedule = definitions.resolve_schedule_def("cdp_daily")
    assert schedule.job_name == FULL_RUN_JOB
    assert schedule.cron_schedule == "0 3 * * *"


def test_sensor_requests_a_run_only_for_new_landing_files(definitions, workspace):
    sensor = definitions.resolve_sensor_def("new_landing_files")
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance, definitions=definitions)
    assert isinstance(sensor(context), dg.SkipReason)

    (workspace.landing / "crm").mkdir(exist_ok=True)
    (workspace.landing / "crm" / "contacts_0001.csv").write_text("contact_id\nC1\n")
    (workspace.landing / "crm" / "notes.txt").write_text("not a source file")
    first = sensor(context)
    assert isinstance(first, dg.RunRequest)
    cursor = context.cursor

    again = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
    assert isinstance(sensor(again), dg.SkipReason)

    (workspace.landing / "crm" / "contacts_0002.csv").write_text("contact_id\nC2\n")
    later = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
    second = sensor(later)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key


def test_the_module_level_definitions_load(monkeypatch):
    import importlib

    import dagster_project.definitions as module
    assert isinstance(importlib.reload(module).defs, dg.Definitions)
