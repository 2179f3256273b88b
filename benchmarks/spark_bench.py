"""Benchmark engine: spark (local mode) beside engine: duckdb on the same landing files.

    .venv/bin/python benchmarks/spark_bench.py --people 100000 [--master local[2]] [--workdir DIR] [--keep]
    .venv/bin/python benchmarks/spark_bench.py --workdir DIR --spark-only   # Spark again, beside DIR's DuckDB run

Generates the people into a DuckDB workspace (a copy of cdp.yml), copies the landing files to a
second workspace with engine: spark, and runs the whole pipeline in each, through Dagster (as
`cdp run`: quality gates and publishing included). DuckDB runs first and trains the identity and ML models; the Spark run reuses them, as training stays on
DuckDB with either engine. Reports each step's wall time on both engines, by stage too, and the
outcome compared: partition agreement of the identity records, customers, segment sizes and
exported rows. Needs the spark extra (pip install -e .[spark]) and Java 17.

The DuckDB run's figures are kept in the work folder (duckdb_run.json), so `--spark-only` can run
Spark again from scratch (a new Spark workspace on the same landing files and models) without
generating the people or running DuckDB again, e.g. after a Spark run failed late.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_bench import peak_rss_mib, step_durations  # noqa: E402

from dagster_project.config import DEFAULT_CONFIG, load_config  # noqa: E402


DUCKDB_RUN = "duckdb_run.json"  # in the work folder: the people, landing rows and the DuckDB run's figures


def workspace(folder: Path, engine: str, master: str):
    """A copy of cdp.yml in `folder` with the engine (and Spark's master) set."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["engine"] = engine
    if engine == "spark":
        raw["spark"] = {"master": master}
    (folder / "cdp.yml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(folder / "cdp.yml")


def by_stage(steps: dict[str, float]) -> dict[str, float]:
    """Step times summed by stage: the asset key's first part (raw, identity, ml, export ...), dbt's selections as dbt."""
    stages: dict[str, float] = {}
    for step, seconds in steps.items():
        stage = "dbt" if step.startswith("dbt_") else step.split("__")[0]
        stages[stage] = round(stages.get(stage, 0) + seconds, 1)
    return dict(sorted(stages.items(), key=lambda item: -item[1]))


def timed_run(config) -> dict:
    from dagster_project.pipeline import run_pipeline

    started = time.perf_counter()
    result = run_pipeline(config)
    seconds = time.perf_counter() - started
    steps = step_durations(config, result.run_id)
    if not result.success:
        print(result.summary.render(), file=sys.stderr)
    return {"run_seconds": round(seconds, 1), "success": result.success, "stages_seconds": by_stage(steps),
            "steps_seconds": steps}


def compared(duckdb_config, spark_config) -> dict:
    """The Spark run's outcome against the DuckDB run's."""
    from dagster_project.spark.compare import outcome_on_duckdb, outcome_on_spark, partition_agreement
    from dagster_project.spark.resource import SparkResource

    resource = SparkResource.for_workspace(spark_config)
    try:
        on_spark = outcome_on_spark(spark_config, resource.session())
    finally:
        resource.release()
    on_duckdb = outcome_on_duckdb(duckdb_config)
    return {
        "identity_records": len(on_duckdb["person_map"]),
        "persons": {"duckdb": len({p for _, p in on_duckdb["person_map"]}), "spark": len({p for _, p in on_spark["person_map"]})},
        "partition_agreement": round(partition_agreement(on_spark["person_map"], on_duckdb["person_map"]), 6),
        "customers": {"duckdb": on_duckdb["customers"], "spark": on_spark["customers"]},
        "same_segment_sizes": on_spark["segment_sizes"] == on_duckdb["segment_sizes"],
        "segment_sizes": {"duckdb": on_duckdb["segment_sizes"], "spark": on_spark["segment_sizes"]},
        "same_exported_rows": on_spark["exports"] == on_duckdb["exports"],
        "exported_rows": {"duckdb": {k: sum(v.values()) for k, v in on_duckdb["exports"].items()},
                          "spark": {k: sum(v.values()) for k, v in on_spark["exports"].items()}},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--master", default="local[2]", help="Spark master, local[N]")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the workspaces afterwards")
    parser.add_argument("--spark-only", action="store_true",
                        help="run Spark again beside the DuckDB run of --workdir (not generated or run again)")
    args = parser.parse_args()

    if args.spark_only and not (args.workdir and (args.workdir / DUCKDB_RUN).exists()):
        parser.error(f"--spark-only needs --workdir of an earlier run (with its {DUCKDB_RUN})")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cdp-spark-bench-"))
    if args.spark_only:
        shutil.rmtree(workdir / "spark", ignore_errors=True)  # Spark from scratch: no table of an earlier run
        report = json.loads((workdir / DUCKDB_RUN).read_text())
    duckdb_config = workspace(workdir / "duckdb", "duckdb", args.master)
    spark_config = workspace(workdir / "spark", "spark", args.master)

    from dagster_project.generate import generate_sample
    from dagster_project.spark.compare import copy_models

    if not args.spark_only:
        stats = generate_sample(duckdb_config.landing, duckdb_config.truth, people=args.people, seed=args.seed)
        report = {"people": args.people, "landing_rows": sum(stats["files"].values())}
        report["duckdb"] = timed_run(duckdb_config)
        (workdir / DUCKDB_RUN).write_text(json.dumps(report))  # kept if the Spark run fails or is stopped
    report["spark_master"] = args.master
    shutil.copytree(duckdb_config.landing, spark_config.landing, dirs_exist_ok=True)
    copy_models(duckdb_config, spark_config)
    report["spark"] = timed_run(spark_config)
    report["spark_over_duckdb"] = round(report["spark"]["run_seconds"] / report["duckdb"]["run_seconds"], 2)
    success = report["duckdb"]["success"] and report["spark"]["success"]
    if success:
        report["compared"] = compared(duckdb_config, spark_config)
    report["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(report, indent=2))
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir)
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
