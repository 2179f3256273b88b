"""The Dagster definitions: one lineage graph, checks, schedule and sensor."""

import os
import subprocess
import sys
from datetime import datetime, timezone

import dagster as dg
import pytest

from dagster_project.config import PROJECT_ROOT, load_config
from dagster_project.defs.automation import FULL_RUN_JOB
from dagster_project.defs.run_lock import workspace_locked_executor
from dagster_project.definitions import build_definitions
from dagster_project.pipeline import REPORT_TAG, dagster_instance
from dagster_project.report import report_path
from dagster_project.run_lock import current_holder, workspace_lock


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


def test_schedule_and_sensor_skip_while_a_run_is_going_on(definitions, workspace):
    schedule = definitions.resolve_schedule_def("cdp_daily")
    sensor = definitions.resolve_sensor_def("new_landing_files")
    (workspace.landing / "crm").mkdir(exist_ok=True)
    (workspace.landing / "crm" / "contacts_0100.csv").write_text("contact_id\nC9\n")  # new: the sensor would run
    tick = datetime(2025, 1, 1, 3, tzinfo=timezone.utc)
    with dg.instance_for_test() as instance:
        def evaluate():
            return (schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)),
                    sensor(dg.build_sensor_context(instance=instance, definitions=definitions)))

        with workspace_lock(workspace.state_dir, "cdp run"):
            for result in evaluate():
                assert isinstance(result, dg.SkipReason) and "run lock" in result.skip_message
        instance.add_run(dg.DagsterRun(job_name=FULL_RUN_JOB, run_id="started-run", status=dg.DagsterRunStatus.STARTED))
        for result in evaluate():
            assert isinstance(result, dg.SkipReason) and "run started-run of cdp_full_run has not ended" in result.skip_message
        instance.delete_run("started-run")  # no run left unfinished
        assert all(isinstance(result, dg.RunRequest) for result in evaluate())


def _lock_probe_job():
    """A one-op job on the workspace executor; the op returns who holds the lock."""
    config = load_config(os.environ["CDP_CONFIG"])

    @dg.op
    def holder_seen_by_the_run(context) -> str:
        holder = current_holder(config.state_dir)
        context.add_output_metadata({"holder_pid": holder.pid})
        return holder.run

    @dg.job(executor_def=workspace_locked_executor(config))
    def lock_probe():
        holder_seen_by_the_run()

    return lock_probe


def test_runs_that_dagster_launches_hold_the_workspace_lock(workspace, monkeypatch):
    monkeypatch.setenv("CDP_CONFIG", str(workspace.path))
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.execute_job(dg.reconstructable(_lock_probe_job), instance) as result:
            assert result.success
            assert result.output_for_node("holder_seen_by_the_run") == f"Dagster run {result.run_id}"
        assert current_holder(workspace.state_dir) is None  # released when the run ended
        # It ends as `cdp run` does: its run report written and linked from the run.
        report = report_path(workspace, result.run_id)
        assert report.is_file() and instance.get_run_by_id(result.run_id).tags[REPORT_TAG] == str(report)

        # A busy workspace (a `cdp run` in another process) fails the run before any step.
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(workspace.state_dir)], cwd=PROJECT_ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline() == "held\n"
            with dg.execute_job(dg.reconstructable(_lock_probe_job), instance, raise_on_error=False) as result:
                assert not result.success
                assert not result.get_step_success_events()
            events = instance.all_logs(result.run_id)
            assert any("is busy" in str(e.dagster_event.event_specific_data) for e in events if e.dagster_event)
        finally:
            holder.kill()
            holder.wait()


HOLD = """
import sys
from pathlib import Path
from dagster_project.run_lock import workspace_lock
with workspace_lock(Path(sys.argv[1]), "cdp run"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_the_workspace_instance_has_telemetry_off_and_runs_one_at_a_time(workspace, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with dagster_instance(workspace) as instance:
        assert instance.telemetry_enabled is False
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


def test_the_instance_keeps_settings_already_in_its_dagster_yaml(workspace, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = workspace.state_dir / "dagster" / "dagster.yaml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("run_queue:\n  max_concurrent_runs: 3\n")
    try:
        with dagster_instance(workspace) as instance:
            assert instance.telemetry_enabled is False
            assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
    finally:
        settings.unlink()


def _tree_state(folder):
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def test_the_module_builds_nothing_on_import_and_loads_the_configured_workspace(workspace, definitions, monkeypatch):
    """A `cdp run --config OTHER` imports the module: that must not build the
    repository's own workspace. `dagster dev -m dagster_project.definitions`
    (Dagster's own loader) builds CDP_CONFIG's workspace, leaving .cdp/ alone."""
    import importlib

    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.workspace.autodiscovery import loadable_targets_from_python_module

    import dagster_project.definitions as module

    repository_state = _tree_state(PROJECT_ROOT / ".cdp")
    monkeypatch.delenv("CDP_CONFIG", raising=False)
    assert not isinstance(importlib.reload(module).defs, dg.Definitions)  # lazy: nothing built yet
    assert _tree_state(PROJECT_ROOT / ".cdp") == repository_state

    monkeypatch.setenv("CDP_CONFIG", str(workspace.path))
    targets = loadable_targets_from_python_module("dagster_project.definitions", working_directory=None)
    assert [t.attribute for t in targets] == ["defs"]
    repository = ReconstructableRepository.for_module("dagster_project.definitions", "defs").get_definition()
    assert repository.get_job(FULL_RUN_JOB).executor_def.name == "in_process"
    assert repository.get_top_level_resources()["cdp"].config_schema.default_value == {"config_path": str(workspace.path)}
    assert repository.has_sensor_def("new_landing_files") and repository.has_schedule_def("cdp_daily")
    assert _tree_state(PROJECT_ROOT / ".cdp") == repository_state


def test_a_failing_identity_gate_blocks_marts_and_exports(definitions):
    """The graph-health gate is a blocking check on the person map, and every
    mart and export is downstream of it, so none runs on a wrong graph."""
    graph = definitions.resolve_asset_graph()
    gate = next(spec for spec in graph.asset_check_keys if spec.name == "ge_identity_person_map")
    assert gate.asset_key == key("identity/person_map")
    assert graph.get_check_spec(gate).blocking
    downstream, frontier = set(), [key("identity/person_map")]
    while frontier:
        for child in graph.get(frontier.pop()).child_keys - downstream:
            downstream.add(child)
            frontier.append(child)
    assert {key("marts/dim_customer"), key("export/email_platform/email_newsletter"), key("export/ad_platform/known_customers")} <= set(downstream)


def test_customer_features_are_built_with_the_marts_that_read_them(definitions):
    """int_customer__* models read the facts (after identity) and feed the
    activity snapshots (before scoring) and the traits: they run in the marts
    step, the identity intermediates in the first one."""
    graph = definitions.resolve_asset_graph()

    def step(path: str) -> str:
        return definitions.get_assets_def(key(path)).node_def.name

    assert step("intermediate/int_identity__records") == "dbt_staging_and_intermediate"
    assert step("intermediate/int_customer__tickets") == step("marts/customer_activity_snapshots") == "dbt_marts"
    assert step("marts/customer_traits") == "dbt_activation"
    assert key("marts/fct_service_tickets") in graph.get(key("intermediate/int_customer__tickets")).parent_keys
    for feature in ("tickets", "last_survey_answer", "loyalty"):
        shared = key(f"intermediate/int_customer__{feature}")
        assert shared in graph.get(key("marts/customer_traits")).parent_keys
        assert shared in graph.get(key("marts/customer_activity_snapshots")).parent_keys
