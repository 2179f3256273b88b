"""Identity benchmark: our identity step against a plain Splink script, same data.

    .venv/bin/python benchmarks/identity_bench.py --records 100000 [--records 1000000] [--repeats 3]

For each size, generates sample data for about records/8 people (the sample
has ~8 identity records per person) and runs the pipeline (stage times from
Dagster's step events). Then, on the same int_identity__records table, it
times in turn, `--repeats` times, each in a fresh process:
- ours: the identity step as a first run does it: model training, then
  resolution (Splink prediction, deterministic links, vetoes, bare-record
  attachment, stable ids, writing identity.person_map and identity.edges);
- plain Splink: the same trained comparisons, training + input preparation +
  predict + Splink's own clustering at the same threshold + saving what it
  found in the warehouse (record -> cluster, and the scored links with their
  comparison levels and weights), as ours saves identity.person_map and
  identity.edges. The save is timed on its own ("save"), so the ratio
  without it can be computed from the output.
Alternating the two spreads the machine's noise over both. Prints wall times,
peak RSS, the ratio of each pair of runs and the ratio of the medians, and
the same without training (a daily run reuses the trained model). Both sides
prepare the input twice, once for training and once for prediction, as our
identity/model and identity/person_map assets do.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECORDS_PER_PERSON = 8.1

PLAIN_SPLINK = r'''
import json, resource, sys, time
from pathlib import Path
import duckdb
from splink import DuckDBAPI, Linker
from dagster_project.identity.splink_model import train_model
from dagster_project.identity.splink_prepare import PREPARED, SCRATCH, prepare_records, scratch_database

warehouse, model_path, threshold = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
con = duckdb.connect(warehouse)
home = con.execute("select current_database()").fetchone()[0]
times = {}
started = time.perf_counter()
train_model(con, "intermediate.int_identity__records", model_path)
times["train"] = time.perf_counter() - started
model = json.loads(model_path.read_text())
with scratch_database(con):
    # The comparisons read derived columns (house number, postcode sector, block keys): plain Splink needs them too.
    started = time.perf_counter()
    prepare_records(con, "intermediate.int_identity__records")
    times["prepare"] = time.perf_counter() - started
    con.execute(f"use {SCRATCH}")
    linker = Linker(DuckDBAPI(con).register(PREPARED), model)
    started = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    times["predict"] = time.perf_counter() - started
    started = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    persons = con.execute(f"select count(distinct cluster_id) from {clusters.physical_name}").fetchall()[0][0]
    times["cluster"] = time.perf_counter() - started
    # Its deliverable, as ours: record -> cluster and the scored links with
    # their per-comparison levels and weights, saved in the warehouse.
    started = time.perf_counter()
    con.execute("begin transaction")
    con.execute(f"create schema if not exists {home}.plain_splink")
    con.execute(f"create or replace table {home}.plain_splink.clusters as select record_key, cluster_id from {clusters.physical_name}")
    con.execute(f"create or replace table {home}.plain_splink.predictions as "
                f"select record_key_l, record_key_r, match_probability, match_weight, columns('^(gamma|mw)_') from {predictions.physical_name}")
    con.execute("commit")
    times["save"] = time.perf_counter() - started
print(json.dumps({"seconds": {k: round(v, 1) for k, v in times.items()}, "persons": persons,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
'''


OUR_IDENTITY_STEP = r'''
import dataclasses, json, resource, sys, time
from pathlib import Path
from dagster_project.config import load_config
from dagster_project.identity.resolve import ensure_model, resolve_identities
from dagster_project.warehouse import connect

config = load_config(Path(sys.argv[1]))
config = dataclasses.replace(config, identity_model=Path(sys.argv[2]))
times = {}
with connect(config.warehouse) as con:
    # A first run: no earlier persons to keep ids from.
    for table in ("person_map", "edges", "id_history"):
        con.execute(f"drop table if exists identity.{table}")
    started = time.perf_counter()
    ensure_model(con, config, retrain=True)
    times["train"] = time.perf_counter() - started
    started = time.perf_counter()
    report = resolve_identities(con, config)
    times["resolve"] = time.perf_counter() - started
print(json.dumps({"seconds": {k: round(v, 1) for k, v in times.items()}, "persons": report.persons,
                  "resolve_steps": report.step_seconds,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
'''


def _run_script(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["total_seconds"] = round(sum(report["seconds"].values()), 1)
    return report


def bench(records: int, workdir: Path, repeats: int) -> dict:
    people = max(100, int(records / RECORDS_PER_PERSON))
    pipeline = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pipeline_bench.py"), "--people", str(people), "--workdir", str(workdir), "--keep"],
        capture_output=True, text=True,
    )
    if pipeline.returncode != 0:
        raise RuntimeError(pipeline.stdout[-3000:] + pipeline.stderr[-3000:])
    # pipeline_bench prints day one's report on a line of its own before its whole report.
    in_pipeline = json.loads(next(line for line in pipeline.stdout.splitlines() if line.startswith('{"day_one"')))["day_one"]
    steps = in_pipeline["steps_seconds"]

    from dagster_project.config import load_config
    config = load_config(workdir / "cdp.yml")
    ours, plain = [], []
    for _ in range(repeats):
        ours.append(_run_script(OUR_IDENTITY_STEP, str(workdir / "cdp.yml"), str(workdir / "ours_model.json")))
        plain.append(
            _run_script(PLAIN_SPLINK, str(config.warehouse), str(workdir / "plain_model.json"), str(config.match_threshold))
        )
    ours_median = statistics.median(r["total_seconds"] for r in ours)
    plain_median = statistics.median(r["total_seconds"] for r in plain)
    # A daily run reuses the trained model: resolution against plain Splink's
    # preparation + prediction + clustering + save.
    ours_daily = statistics.median(r["seconds"]["resolve"] for r in ours)
    plain_daily = statistics.median(r["total_seconds"] - r["seconds"]["train"] for r in plain)
    return {
        "identity_records": in_pipeline["identity_records"],
        "people_generated": people,
        "pipeline": {
            "identity_model_seconds": steps.get("identity__model"),
            "person_map_seconds": steps.get("identity__person_map"),
            "persons": in_pipeline["persons"],
            "run_seconds": in_pipeline["run_seconds"],
            "peak_rss_mib": in_pipeline["peak_rss_mib"],
            "all_steps_seconds": steps,
        },
        "ours": ours,
        "plain_splink": plain,
        "ratio_per_run": [round(o["total_seconds"] / p["total_seconds"], 2) for o, p in zip(ours, plain)],
        "median_seconds": {"ours": ours_median, "plain_splink": plain_median},
        "ratio_of_medians": round(ours_median / plain_median, 2),
        "without_training": {"ours": ours_daily, "plain_splink": round(plain_daily, 1), "ratio": round(ours_daily / plain_daily, 2)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, action="append", help="identity records (repeatable); default 100000")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side (default 3)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    results = []
    for records in args.records or [100_000]:
        workdir = Path(tempfile.mkdtemp(prefix=f"cdp-identity-bench-{records}-"))
        started = time.perf_counter()
        result = bench(records, workdir, args.repeats)
        result["bench_wall_seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
        if args.keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
