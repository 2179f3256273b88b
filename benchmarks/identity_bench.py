"""Identity benchmark: our identity step against a plain Splink script, same data.

    .venv/bin/python benchmarks/identity_bench.py --records 100000 [--records 1000000]

For each size, generates sample data for about records/8 people (the sample
has ~8 identity records per person), runs the pipeline (stage times from
Dagster's step events), then, on the same int_identity__records table, runs
a plain Splink script in a fresh process: the same trained comparisons,
train + input preparation + predict + Splink's own clustering at the same
threshold. Prints
wall times, peak RSS and the ratio of our identity step (model training +
resolution with deterministic links, vetoes, stable ids) to plain Splink.
"""

from __future__ import annotations

import argparse
import json
import shutil
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
print(json.dumps({"seconds": {k: round(v, 1) for k, v in times.items()}, "persons": persons,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
'''


def bench(records: int, workdir: Path) -> dict:
    people = max(100, int(records / RECORDS_PER_PERSON))
    pipeline = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pipeline_bench.py"), "--people", str(people), "--workdir", str(workdir), "--keep"],
        capture_output=True, text=True,
    )
    if pipeline.returncode != 0:
        raise RuntimeError(pipeline.stdout[-3000:] + pipeline.stderr[-3000:])
    ours = json.loads(pipeline.stdout[pipeline.stdout.index("{"):])
    steps = ours["steps_seconds"]
    identity_seconds = steps.get("identity__model", 0) + steps.get("identity__person_map", 0)

    from dagster_project.config import load_config
    config = load_config(workdir / "cdp.yml")
    plain = subprocess.run(
        [sys.executable, "-c", PLAIN_SPLINK, str(config.warehouse), str(workdir / "plain_model.json"), str(config.match_threshold)],
        capture_output=True, text=True, cwd=ROOT,
    )
    if plain.returncode != 0:
        raise RuntimeError(plain.stderr[-3000:])
    plain_report = json.loads(plain.stdout.strip().splitlines()[-1])
    plain_seconds = sum(plain_report["seconds"].values())
    return {
        "identity_records": ours["identity_records"],
        "people_generated": people,
        "ours": {
            "identity_model_seconds": steps.get("identity__model"),
            "person_map_seconds": steps.get("identity__person_map"),
            "identity_total_seconds": round(identity_seconds, 1),
            "persons": ours["persons"],
            "pipeline_seconds": ours["run_seconds"],
            "pipeline_peak_rss_mib": ours["peak_rss_mib"],
            "all_steps_seconds": steps,
        },
        "plain_splink": {**plain_report, "total_seconds": round(plain_seconds, 1)},
        "ratio_ours_to_plain": round(identity_seconds / plain_seconds, 2) if plain_seconds else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, action="append", help="identity records (repeatable); default 100000")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    results = []
    for records in args.records or [100_000]:
        workdir = Path(tempfile.mkdtemp(prefix=f"cdp-identity-bench-{records}-"))
        started = time.perf_counter()
        result = bench(records, workdir)
        result["bench_wall_seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
