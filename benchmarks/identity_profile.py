"""Profile identity resolution alone, on a copy of a workspace's warehouse.

    .venv/bin/python benchmarks/identity_profile.py --config WORKSPACE/cdp.yml --copy DIR [--again] [--reuse-scores] [--cprofile FILE]
    .venv/bin/python benchmarks/identity_profile.py --compare DIR_A/warehouse.duckdb DIR_B/warehouse.duckdb

The first form copies the workspace's cdp.yml, model, decisions and warehouse into DIR (the
workspace is left as it is), runs resolve_identities there and prints the wall-clock and CPU seconds of
each sub-step, the peak RSS and, with --cprofile, the costliest functions (the profile is saved
to FILE). --reuse-scores runs as an incremental day with nothing new (Splink's stored scores
reused), which times the clustering without Splink's scoring; without it Splink scores everything.
--again runs on that copy as it is, e.g. a second day after a first run that stored its scores.

The second form says whether two such copies hold the same identity results: person_map
(record, person id, cluster size), edges, accepted_conflicts, scored_pairs and id_history, all
but their run ids and times. Timings go here, never into pass/fail tests.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dagster_project.config import load_config  # noqa: E402
from dagster_project.identity.term_frequencies import frozen_path  # noqa: E402

# Table -> the columns compared: all but the run's id and time.
COMPARED = {
    "identity.person_map": "record_key, source, source_record_id, person_id, cluster_size",
    "identity.edges": "* exclude (run_id)",
    "identity.accepted_conflicts": "*",
    "identity.scored_pairs": "*",
    "identity.id_history": "event, old_person_ids, person_id, records",
}


def copy_workspace(config_path: Path, target: Path) -> Path:
    """A copy of the workspace's config, model, decisions and warehouse in `target`; its cdp.yml."""
    config = load_config(config_path)
    target.mkdir(parents=True, exist_ok=True)
    copied = target / "cdp.yml"
    text = config_path.read_text()
    for path in (config.identity_model, frozen_path(config.identity_model), config.identity_decisions, config.warehouse):
        if path.exists():
            relative = path.relative_to(config_path.parent)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / relative)
    copied.write_text(text)
    return copied


def _count_cpu_per_step() -> dict[str, float]:
    """CPU seconds per sub-step (all threads), beside the wall-clock seconds the report gives:
    on a machine shared with other jobs they vary less."""
    from dagster_project.identity.step_times import StepTimes

    cpu: dict[str, float] = {}
    wall_clock_step = StepTimes.step

    @contextmanager
    def step(self, name):
        started = _cpu_seconds()
        with wall_clock_step(self, name):
            yield
        cpu[name] = round(cpu.get(name, 0.0) + _cpu_seconds() - started, 2)

    StepTimes.step = step
    return cpu


def profile(config_path: Path, reuse_scores: bool, cprofile: Path | None) -> dict:
    from dagster_project.identity.resolve import resolve_identities
    from dagster_project.warehouse import connect

    step_cpu = _count_cpu_per_step()
    config = load_config(config_path)
    # CPU time of all threads (DuckDB's and polars' too), which a busy machine disturbs less than wall-clock time.
    profiler = cProfile.Profile(timer=time.process_time) if cprofile else None
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    with connect(config.warehouse) as con:
        if profiler:
            profiler.enable()
        report = resolve_identities(con, config, "identity-profile", full=not reuse_scores)
        if profiler:
            profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.dump_stats(str(cprofile))
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return {
        "records": report.records, "persons": report.persons, "links": report.links, "scoring": report.scoring, "region": report.region,
        "seconds": round(seconds, 1), "cpu_seconds": round(_cpu_seconds() - cpu_started, 1),  # all threads: steadier on a busy machine
        "step_seconds": report.step_seconds, "step_cpu_seconds": step_cpu,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def compare(left: Path, right: Path) -> dict[str, dict]:
    """Per table: rows in each, and rows of one missing from the other (as multisets)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"attach '{left}' as a (read_only)")
    con.execute(f"attach '{right}' as b (read_only)")
    result = {}
    for table, columns in COMPARED.items():
        a, b = f"select {columns} from a.{table}", f"select {columns} from b.{table}"
        counts = con.execute(
            f"select (select count(*) from ({a})), (select count(*) from ({b})),"
            f" (select count(*) from ({a} except all {b})), (select count(*) from ({b} except all {a}))"
        ).fetchall()[0]
        result[table] = dict(zip(["rows_a", "rows_b", "only_in_a", "only_in_b"], counts))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--copy", type=Path, help="directory for the copy of the workspace")
    parser.add_argument("--again", action="store_true", help="run again on the copy made by an earlier run (--copy) as it is")
    parser.add_argument("--reuse-scores", action="store_true", help="reuse Splink's stored scores (time the clustering)")
    parser.add_argument("--cprofile", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar="WAREHOUSE")
    args = parser.parse_args()
    if args.compare:
        result = compare(*args.compare)
        print(json.dumps(result, indent=2))
        return 0 if all(r["only_in_a"] == r["only_in_b"] == 0 for r in result.values()) else 1
    copied = args.copy / "cdp.yml" if args.again else copy_workspace(args.config.resolve(), args.copy)
    print(json.dumps(profile(copied, args.reuse_scores, args.cprofile), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
