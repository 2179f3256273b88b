"""Shared fixtures: fresh workspaces made from a copy of the default cdp.yml."""

from __future__ import annotations

import os

# Two pytest-xdist workers share the machine's cores (pyproject: -n 2): each one's
# DuckDB, dbt and polars get one thread, or four sets of threads fight over two
# cores. Set before polars is imported (it reads its setting once).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("CDP_THREADS", "1")
    os.environ.setdefault("POLARS_MAX_THREADS", "1")

import json
import shutil
from collections import Counter
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from dagster_project.config import DEFAULT_CONFIG, load_config
from dagster_project.generate import generate_sample
from dagster_project.identity.evaluate import evaluate_identity
from dagster_project.pipeline import run_pipeline
from dagster_project.warehouse import connect


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks (it suffixes node ids with the group)
def pytest_collection_modifyitems(items):
    """Two pytest-xdist workers share the suite (pyproject: -n 2 --dist loadgroup). Each
    module runs whole on one worker, so a module fixture is built once; and every module
    using the session's multi_day workspace (three pipeline runs) runs on the same worker,
    so that workspace is built once too."""
    shared = {item.module.__name__ for item in items if "multi_day" in item.fixturenames}
    group = {item.nodeid: "multi_day" if item.module.__name__ in shared else item.module.__name__ for item in items}
    sizes = Counter(group.values())
    # xdist hands the groups out in this order (pyproject: --no-loadscope-reorder): the Spark
    # end-to-end module first, the longest for its few tests (minutes), so that it does not start
    # last while the other worker idles; then the largest groups first, as xdist would order them.
    items.sort(key=lambda item: (not group[item.nodeid].endswith("test_spark_flow"), -sizes[group[item.nodeid]]))
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group[item.nodeid]))


def require_spark() -> None:
    """At a Spark test module's top: pyspark and dbt-spark come with `pip install -e .[dev]`, so in CI
    their absence is a broken install and fails; elsewhere (an older environment) the module skips."""
    from dagster_project.spark.settings import spark_installed

    if not spark_installed():
        message = "pyspark and dbt-spark are not installed (pip install -e .[dev] brings them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


# Spark tests beyond the end-to-end run of tests/test_spark_flow.py take minutes each on 2 cores:
# a plain `make test` skips them, CDP_SPARK_TESTS=all runs them (with the spark extra installed).
slow_spark = pytest.mark.skipif(os.environ.get("CDP_SPARK_TESTS") != "all",
                                reason="slow on Spark: CDP_SPARK_TESTS=all runs it")


def make_workspace(folder: Path, mutate=None) -> Path:
    """A copy of cdp.yml in `folder` (optionally changed); returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    if mutate:
        mutate(raw)
    path = folder / "cdp.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def workspace_factory(tmp_path_factory):
    def factory(name: str, mutate=None):
        return load_config(make_workspace(tmp_path_factory.mktemp(name), mutate))
    return factory


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


# The multi-day workspace shared by the identity and profile tests (one set of
# pipeline runs for both keeps the suite fast): 800 people; a custom golden
# record (e-commerce accounts trusted over the CRM for names) and its own
# segments.yml with an extra segment big_spenders. Run 1 on the first batch;
# then a later day's batch, big_spenders' threshold raised (members exit),
# run 2 (its exports are kept in a copy; two readers query the published
# warehouse throughout it); then an identical run 3.
MULTI_DAY_PEOPLE = 800
PROFILE_TRUST = ["ecommerce_accounts", "loyalty", "crm", "service_tickets", "pos", "consent", "survey",
                 "campaign_responses", "web_events"]
PROFILE_GOLDEN_RULES = {
    "name": {"fields": ["first_name", "last_name"], "rule": "trust"},
    "email": {"rule": "recency"},
    "address": {"fields": ["address_line", "postcode", "city", "region", "country"], "rule": "completeness"},
}
ALL_BUYERS = {"name": "all_buyers", "description": "Everyone who ordered (broad on purpose).", "where": "order_count >= 1"}


def write_segments(folder: Path, big_spender_threshold: float) -> None:
    raw = yaml.safe_load(load_config().segments_path.read_text())
    raw["segments"] += [ALL_BUYERS, {"name": "big_spenders", "description": "Spent a lot.",
                                     "where": f"lifetime_value >= {big_spender_threshold}"}]
    (folder / "segments.yml").write_text(yaml.safe_dump(raw, sort_keys=False))


# Queries the published warehouse every 0.5 s until a line arrives on stdin,
# then prints what it saw. "held": one connection opened at the start, as an
# analyst's notebook keeps it; "fresh": a new connection per query.
READER = """
import duckdb, json, sys, threading
path, mode = sys.argv[1], sys.argv[2]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
held = duckdb.connect(path, read_only=True) if mode == "held" else None
queries, errors, persons = 0, [], set()
print("reading", flush=True)
while True:
    stopping = stop.wait(0.5)  # a last query once told to stop: after the run
    try:
        con = held or duckdb.connect(path, read_only=True)
        persons.add(con.execute("select count(distinct person_id) from identity.person_map").fetchone()[0])
        if con is not held:
            con.close()
        queries += 1
    except Exception as error:
        errors.append(str(error))
    if stopping:
        break
print(json.dumps({"queries": queries, "errors": errors, "persons": sorted(persons)}), flush=True)
"""


def start_reader(path: Path, mode: str) -> subprocess.Popen:
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline() == "reading\n"
    return reader


def stop_reader(reader: subprocess.Popen) -> dict:
    seen, _ = reader.communicate("stop\n", timeout=60)
    return json.loads(seen)


def _person_ids(config) -> pl.DataFrame:
    with connect(config.warehouse) as con:
        return con.sql("select record_key, person_id from identity.person_map").pl()


@pytest.fixture(scope="session")
def multi_day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi_day")
    write_segments(folder, big_spender_threshold=100)

    def mutate(raw):
        raw["golden_record"] = {"source_trust": PROFILE_TRUST, "default_rule": "recency", "attributes": PROFILE_GOLDEN_RULES}

    config = load_config(make_workspace(folder, mutate))
    generate_sample(config.landing, config.truth, people=MULTI_DAY_PEOPLE, seed=21, defect_rate=0)
    first = run_pipeline(config)
    evaluation = evaluate_identity(config.warehouse, config.truth)
    ids_first = _person_ids(config)
    with connect(config.warehouse) as con:
        big_spenders_first = con.sql("select person_id from marts.seg_big_spenders").pl()
    generate_sample(config.landing, config.truth, people=MULTI_DAY_PEOPLE, seed=21, batch=2, defect_rate=0)
    write_segments(folder, big_spender_threshold=400)
    config = load_config(config.path)
    readers = {mode: start_reader(config.published, mode) for mode in ("held", "fresh")}
    try:
        second = run_pipeline(config)
    finally:
        reads_during_second = {mode: stop_reader(reader) for mode, reader in readers.items()}
    ids_second = _person_ids(config)
    with connect(config.warehouse) as con:
        history_second = con.sql("select * from marts.segment_membership").pl()
    exports_second = folder / "exports_after_second_run"
    shutil.copytree(config.exports, exports_second)
    third = run_pipeline(config)
    ids_third = _person_ids(config)
    return {
        "config": config, "runs": (first, second, third), "evaluation": evaluation,
        "ids": (ids_first, ids_second, ids_third), "big_spenders_first": big_spenders_first,
        "history_second": history_second, "exports_second": exports_second,
        "reads_during_second": reads_during_second,
    }
