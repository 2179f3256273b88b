"""Benchmark the whole pipeline on generated data: stage times and peak memory.

    .venv/bin/python benchmarks/pipeline_bench.py --people 100000 [--workdir DIR] [--keep] [--incremental [--no-full-recompute] [--tiny-batch]]

Generates a fresh workspace (a copy of cdp.yml), times `cdp generate`, then
runs the pipeline through Dagster and reports each step's wall time (from
Dagster's step events), per dbt selection its data tests and slowest models
(dbt's run_results.json), the load average at each run's start and end, the
peak RSS of this process and of its children (dbt runs as a subprocess), and
the row counts. Timings go here, never into pass/fail tests.

--incremental then adds a second day's batch and runs it incrementally (the
default), and in a copy of the workspace as it was after day one, in full
(`cdp run --full`): it reports both times, their ratio, and whether both
give the same partition of records into persons and the same mart row counts.

--tiny-batch then lands ONE new record (a CRM contact in a file of its own) in
the incrementally run workspace and runs it incrementally: the fixed cost of
the stack (Dagster, dbt start-ups, publishing, the report), whatever the batch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dagster_project.config import DEFAULT_CONFIG, load_config  # noqa: E402


def peak_rss_mib() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": round(own, 1), "children": round(children, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    parser.add_argument("--incremental", action="store_true", help="then a second day: incremental run against a full recompute")
    parser.add_argument("--no-full-recompute", action="store_true",
                        help="with --incremental: time only the incremental second day (at 1,000,000 people the full one is day one again)")
    parser.add_argument("--tiny-batch", action="store_true",
                        help="with --incremental: then an incremental run whose batch is one new record (the floor)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cdp-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULT_CONFIG, workdir / "cdp.yml")
    config = load_config(workdir / "cdp.yml")

    from dagster_project.generate import generate_sample

    started = time.perf_counter()
    stats = generate_sample(config.landing, config.truth, people=args.people, seed=args.seed)
    generate_seconds = time.perf_counter() - started

    from dagster_project.pipeline import run_pipeline

    load_before = os.getloadavg()
    started = time.perf_counter()
    result = run_pipeline(config)
    run_seconds = time.perf_counter() - started
    steps = step_durations(config, result.run_id)

    report = {
        "people": args.people,
        "landing_rows": sum(stats["files"].values()),
        "generate_seconds": round(generate_seconds, 1),
        "run_seconds": round(run_seconds, 1),
        "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "success": result.success,
        "steps_seconds": steps,
        "dbt": dbt_node_seconds(config, result.run_id),
        "report_seconds": result.summary.report_seconds,  # writing the run report, after the steps
        "peak_rss_mib": peak_rss_mib(),
        "identity_records": result.summary.identity_records,
        "persons": result.summary.persons,
        "audiences": result.summary.audiences,
    }
    print(json.dumps({"day_one": report}), flush=True)  # kept even if day two is stopped
    if args.incremental and result.success:
        report["second_day"] = second_day(config, workdir, args)
        if args.tiny_batch:
            report["second_day"]["one_record"] = one_record_run(config)
        result.success = all(report["second_day"][run]["success"] for run in ("incremental", "full", "one_record")
                             if run in report["second_day"])
    print(json.dumps(report, indent=2))
    if not result.success:
        print(result.summary.render(), file=sys.stderr)
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir)
        shutil.rmtree(workdir.parent / f"{workdir.name}-full", ignore_errors=True)
    return 0 if result.success else 1


def second_day(config, workdir: Path, args) -> dict:
    """Day two's batch: an incremental run, then (unless --no-full-recompute) a full recompute of
    the same files in a copy of the workspace as it was after day one."""
    from dagster_project.generate import generate_sample
    if args.no_full_recompute:
        generate_sample(config.landing, config.truth, people=args.people, seed=args.seed, batch=2)
        run = _timed_run(config, full=False)
        return {"incremental": run, "peak_rss_mib": peak_rss_mib()}
    # The same workspace as after day one, for the full recompute (`cdp run --full`).
    copy = workdir.parent / f"{workdir.name}-full"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(".cdp"))  # its own Dagster home and dbt launcher
    full_config = load_config(copy / "cdp.yml")
    for each in (config, full_config):
        generate_sample(each.landing, each.truth, people=args.people, seed=args.seed, batch=2)
    runs = {"incremental": _timed_run(config, full=False), "full": _timed_run(full_config, full=True)}
    same_partition = _partition(config) == _partition(full_config)
    counts, full_counts = _mart_counts(config), _mart_counts(full_config)
    return {
        **runs,
        "incremental_over_full": round(runs["incremental"]["run_seconds"] / runs["full"]["run_seconds"], 3),
        "same_partition": same_partition,
        "same_mart_row_counts": counts == full_counts,
        "mart_row_count_differences": {t: (n, full_counts.get(t)) for t, n in counts.items() if full_counts.get(t) != n},
        "peak_rss_mib": peak_rss_mib(),
    }


ONE_RECORD_FILE = "crm/contacts_one_record.csv"  # matches the crm source's glob (crm/*.csv)


def add_one_record(config) -> Path:
    """Land one new CRM contact, in a file of its own: a batch of one record."""
    path = config.landing / ONE_RECORD_FILE
    path.write_text(
        "contact_id,first_name,last_name,email,phone,birth_date,street,zip,city,country,updated_at\n"
        "C-ONE-RECORD,Imogen,Fairweather,imogen.fairweather@example.org,,14/02/1987,"
        "7 Quarry Lane,LS6 2AB,Leeds,UK,2025-07-01 09:30:00\n"
    )
    return path


def one_record_run(config) -> dict:
    """An incremental run whose batch is one new record: the floor of an incremental run."""
    add_one_record(config)
    return _timed_run(config, full=False)


def _timed_run(config, full: bool) -> dict:
    from dagster_project.pipeline import run_pipeline

    load_before = os.getloadavg()
    started = time.perf_counter()
    result = run_pipeline(config, full=full)
    seconds = time.perf_counter() - started
    steps = step_durations(config, result.run_id)
    summary = result.summary
    return {"run_seconds": round(seconds, 1), "success": result.success, "mode": summary.mode,
            "identity_records": summary.identity_records, "persons": summary.persons,
            "report_seconds": summary.report_seconds,  # writing the run report, after the steps
            "publish_seconds": summary.publish_seconds,  # copying the warehouse for readers, after the steps
            # the rest outside Dagster's steps: building the definitions, recording freshness, the summary
            "other_outside_steps_seconds": round(seconds - sum(steps.values()) - (summary.report_seconds or 0)
                                                 - (summary.publish_seconds or 0), 1),
            "steps_seconds": steps,
            "identity_substeps_seconds": identity_substeps(config, result.run_id),
            "dbt": dbt_node_seconds(config, result.run_id),
            # 1-minute load average when the run started and ended: how busy the 2 cores were
            "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)]}


def _partition(config) -> set[frozenset[str]]:
    """The persons as sets of record keys."""
    from dagster_project.warehouse import connect

    with connect(config.warehouse) as con:
        groups = con.execute("select list(record_key) from identity.person_map group by person_id").fetchall()
    return {frozenset(keys) for (keys,) in groups}


def _mart_counts(config) -> dict[str, int]:
    from dagster_project.warehouse import connect

    with connect(config.warehouse) as con:
        tables = [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'").fetchall()]
        return {name: con.execute(f'select count(*) from marts."{name}"').fetchall()[0][0] for name in sorted(tables)}


def dbt_node_seconds(config, run_id: str, slowest: int = 8) -> dict[str, dict]:
    """Per dbt selection of the run (the run_results.json in the target folder dagster-dbt names
    <selection>-<run id's first 7 characters>-...): dbt's elapsed time, its data tests and their
    summed time, and the slowest models."""
    selections = {}
    for path in sorted((config.state_dir / "dbt" / "target").glob(f"dbt_*-{run_id[:7]}-*/run_results.json")):
        run_results = json.loads(path.read_text())
        tests = [r for r in run_results["results"] if r["unique_id"].startswith("test.")]
        models = sorted((r for r in run_results["results"] if not r["unique_id"].startswith("test.")),
                        key=lambda r: -r["execution_time"])
        selections[path.parent.name.split("-")[0]] = {
            "elapsed": round(run_results["elapsed_time"], 1),
            "tests": len(tests), "test_seconds": round(sum(r["execution_time"] for r in tests), 1),
            "slowest_models": {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in models[:slowest]},
        }
    return selections


def identity_substeps(config, run_id: str) -> dict[str, float]:
    """The identity step's sub-step times (its materialization's step_seconds metadata)."""
    from dagster import AssetKey, DagsterEventType, EventRecordsFilter

    from dagster_project.pipeline import dagster_instance

    with dagster_instance(config) as instance:
        records = instance.get_event_records(EventRecordsFilter(
            DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey(["identity", "person_map"])), limit=1)
    for record in records:
        if record.run_id == run_id:
            return record.asset_materialization.metadata["step_seconds"].value
    return {}


def step_durations(config, run_id: str) -> dict[str, float]:
    from dagster import DagsterEventType

    from dagster_project.pipeline import dagster_instance

    with dagster_instance(config) as instance:
        records = instance.get_records_for_run(run_id).records
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    for record in records:
        event = record.event_log_entry
        if not event.is_dagster_event or not event.step_key:
            continue
        kind = event.dagster_event.event_type
        if kind == DagsterEventType.STEP_START:
            started[event.step_key] = event.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and event.step_key in started:
            durations[event.step_key] = round(event.timestamp - started[event.step_key], 2)
    return dict(sorted(durations.items(), key=lambda item: -item[1]))


if __name__ == "__main__":
    sys.exit(main())
