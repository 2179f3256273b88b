"""Benchmark ingest of one source's landing files: time and peak memory.

    .venv/bin/python benchmarks/ingest_bench.py --config WORKSPACE/cdp.yml --source web_events

Loads every landing file of the source into a fresh scratch warehouse (the
workspace's own warehouse is not touched) and reports rows, seconds and the
peak RSS of this process (the reader, the contract check and DuckDB's insert
all run in it). Use a workspace that `benchmarks/pipeline_bench.py --keep`
or `cdp generate --people N` filled, e.g. at 1,000,000 people, whose web-event
file is 2.4 GB of JSON lines.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dagster_project.config import load_config  # noqa: E402
from dagster_project.ingest.load import load_source  # noqa: E402
from dagster_project.warehouse import connect  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    config = load_config(args.config)
    source = next((s for s in config.sources if s.name == args.source), None)
    if source is None:
        raise SystemExit(f"no source {args.source!r} in {args.config}")
    with tempfile.TemporaryDirectory(prefix="cdp-ingest-") as scratch:
        started = time.perf_counter()
        with connect(Path(scratch) / "warehouse.duckdb") as con:
            report = load_source(con, source, config.landing)
        seconds = time.perf_counter() - started
    print(json.dumps({
        "source": source.name,
        "files": [{"file": f.file, "status": f.status, "rows_read": f.rows_read, "error": f.error} for f in report.files],
        "bytes": sum(p.stat().st_size for p in config.landing.glob(source.glob)),
        "rows_loaded": report.total("rows_loaded"),
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }, indent=2))
    return 0 if report.count("rejected") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
