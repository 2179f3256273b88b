"""Identity accuracy on an independent town: census, survey, benefit and tax records of one population.

    .venv/bin/python benchmarks/town_holdout.py [--people 5000] [--noise 1 --noise 5] [--seed 11] [--workdir DIR]

A second benchmark, written apart from the sample generator (dagster_project/generate/ is never read
or imported): its own name lists, households, sources and noise model (benchmarks/town/). People
live in households with twins, a father and son of one name (Jr/Sr, written only sometimes), spouses
of other or hyphenated surnames, three generations, lodgers and flats at one address, movers and
same-name strangers. Four agencies' exports, each with its own columns and date format, are mapped
as bring-your-own-data identity sources in a fresh workspace's cdp.yml (no email, phone or SSN; the
tax forms carry no date of birth and often an initial or no first name). Per noise level: `cdp run`,
`cdp evaluate`, plain Splink on the same identity records (benchmarks/plain_splink.py), both scored
by the evaluator's code; then false merges by relation of the two true persons and missed true pairs
by which fields disagree, with example records.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.identity_accuracy import figures, run  # noqa: E402
from benchmarks.town.population import build_town  # noqa: E402
from benchmarks.town.sources import write_sources  # noqa: E402

# A benchmark workspace: everything beside cdp.yml, identity sources only; the sources follow.
WORKSPACE = """\
warehouse: warehouse.duckdb
published: published.duckdb
landing: landing
exports: exports
truth: truth.csv
identity:
  model: identity_model.json
audiences: []
destinations: []
sources:
"""

CONFIG = "# An independent town (benchmarks/town_holdout.py): four agencies' exports as identity sources.\n" + WORKSPACE + """\
  - name: census
    kind: identity
    glob: census/*.csv
    format: csv
    one_record_per_person: true
    contract:
      return_id: {type: string, required: true}
      person_no: {type: int, required: true}
      forename: {type: string}
      middle_names: {type: string}
      surname: {type: string}
      sex: {type: string}
      date_of_birth: {type: date, formats: ['%Y-%m-%d']}
      relationship_to_head: {type: string}
      address: {type: string}
      town: {type: string}
      postcode: {type: string}
    mapping:
      source_record_id: return_id || '-' || person_no
      first_name: forename
      last_name: surname
      date_of_birth: date_of_birth
      sex: sex
      address_line: address
      city: town
      postcode: postcode
      updated_at: timestamp '2021-03-21 00:00:00'
  - name: survey
    kind: identity
    glob: survey/*.csv
    format: csv
    contract:
      RespID: {type: string, required: true}
      respondent: {type: string}
      dob: {type: date, formats: ['%d/%m/%Y']}
      home_address: {type: string}
      postcode: {type: string}
    mapping:
      source_record_id: RespID
      first_name: nullif(trim(split_part(respondent, ',', 2)), '')
      last_name: nullif(trim(split_part(respondent, ',', 1)), '')
      date_of_birth: dob
      address_line: home_address
      postcode: postcode
      updated_at: timestamp '2022-05-01 00:00:00'
  - name: benefits
    kind: identity
    glob: benefits/*.csv
    format: csv
    min_age: 18  # claims are made by adults
    contract:
      ApplicationNo: {type: string, required: true}
      ClaimantForename: {type: string}
      ClaimantSurname: {type: string}
      ClaimantDOB: {type: date, formats: ['%d %b %Y']}
      AddrLine1: {type: string}
      AddrLine2: {type: string}
      PostCode: {type: string}
      DateReceived: {type: date, formats: ['%Y-%m-%d']}
    mapping:
      source_record_id: ApplicationNo
      first_name: ClaimantForename
      last_name: ClaimantSurname
      date_of_birth: ClaimantDOB
      address_line: concat_ws(', ', nullif(AddrLine2, ''), nullif(AddrLine1, ''))
      postcode: PostCode
      updated_at: cast(DateReceived as timestamp)
  - name: tax
    kind: identity
    glob: tax/*.csv
    format: csv
    one_record_per_person: true
    min_age: 18  # one form per adult taxpayer
    contract:
      tax_ref: {type: string, required: true}
      title: {type: string}
      first_name_or_initials: {type: string}
      last_name: {type: string}
      address_line: {type: string}
      post_code: {type: string}
    mapping:
      source_record_id: tax_ref
      first_name: nullif(trim(first_name_or_initials), '')
      last_name: last_name
      sex: title
      address_line: address_line
      postcode: post_code
      updated_at: timestamp '2023-04-05 00:00:00'
"""

FIELDS = ["first_name_norm", "last_name_norm", "date_of_birth", "address_line_norm", "postcode_norm"]


def build_workspace(folder: Path, people: int, seed: int, noise: float) -> tuple[Path, dict[str, int]]:
    """A fresh workspace: cdp.yml, the four exports under landing/, the truth files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cdp.yml").write_text(CONFIG, encoding="utf-8")
    counts = write_sources(build_town(people, seed), folder / "landing", folder, noise, seed)
    return folder / "cdp.yml", counts


def records_with_clusters(config, clusters: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every scored identity record: its fields, true person and predicted cluster (ours, or `clusters`)."""
    from dagster_project.warehouse import connect

    with connect(config.warehouse, read_only=True) as con:
        records = con.sql(
            f"select m.record_key, m.source, m.source_record_id, m.person_id, {', '.join('r.' + f for f in FIELDS)},"
            " r.name_suffix from identity.person_map m join intermediate.int_identity__records r using (record_key)"
        ).pl()
    if clusters is not None:
        records = records.drop("person_id").join(
            clusters.select("record_key", pl.col("cluster_id").cast(pl.String).alias("person_id")), on="record_key")
    truth = pl.read_csv(config.truth, infer_schema=False)
    return records.join(truth.rename({"person_id": "true_id"}), on=["source", "source_record_id"])


def relation(a: dict, b: dict) -> str:
    """How two true persons (rows of town_people.csv) are related: the class of a false merge."""
    if a["household_id"] == b["household_id"]:
        roles = {a["relationship"], b["relationship"]}
        if a["twin"] == b["twin"] == "True" and a["dob"] == b["dob"]:
            return "twins"
        if {a["suffix"], b["suffix"]} == {"Jr", "Sr"}:
            return "Jr/Sr"
        if roles == {"head", "spouse"}:
            return "spouses"
        if roles == {"child"}:
            return "siblings"
        if "child" in roles or roles == {"parent", "head"} or roles == {"parent", "spouse"}:
            return "parent and child"
        return "household, other"
    if a["first_name"].lower() == b["first_name"].lower() and a["last_name"].lower() == b["last_name"].lower():
        return "same-name strangers"
    places = {a["address"], a["moved_to"]} & {b["address"], b["moved_to"]} - {""}
    if places or a["address"].split("/", 1)[1] == b["address"].split("/", 1)[1]:
        return "same address or building, other household"
    if a["last_name"].lower() == b["last_name"].lower():
        return "same surname, other household"
    return "other"


def describe(record: dict) -> str:
    dob = record["date_of_birth"] or "-"
    return (f"{record['source']}:{record['source_record_id']} {record['first_name_norm'] or '-'}"
            f" {record['last_name_norm'] or '-'}{' ' + record['name_suffix'] if record['name_suffix'] else ''}"
            f" | {dob} | {record['address_line_norm'] or '-'} {record['postcode_norm'] or '-'}")


def false_merge_analysis(records: pl.DataFrame, people: dict[str, dict], examples: int = 3) -> dict:
    """Pairs of true persons under one predicted person, by relation, with example record pairs."""
    by_class: Counter = Counter()
    shown: dict[str, list[str]] = {}
    for group in records.partition_by("person_id"):
        if group["true_id"].n_unique() < 2:
            continue
        rows = group.to_dicts()
        by_person: dict[str, list[dict]] = {}
        for row in rows:
            by_person.setdefault(row["true_id"], []).append(row)
        for a, b in itertools.combinations(sorted(by_person), 2):
            kind = relation(people[a], people[b])
            by_class[kind] += 1
            if len(shown.setdefault(kind, [])) < examples:
                shown[kind].append(f"{describe(by_person[a][0])}  <->  {describe(by_person[b][0])}")
    return {"by_relation": dict(by_class.most_common()), "examples": shown}


def disagreement(a: dict, b: dict) -> str:
    """Which fields of two records of one person differ or are missing: the class of a missed pair."""
    parts = []
    for field in FIELDS:
        x, y = a[field], b[field]
        short = field.replace("_norm", "").replace("_name", "")
        if x is None or y is None:
            parts.append(f"{short}:missing")
        elif field == "first_name_norm" and (len(x) <= 1 or len(y) <= 1) and x[0] == y[0]:
            parts.append("first:initial")
        elif x != y:
            parts.append(f"{short}:differs")
    return ", ".join(parts) or "all equal"


def missed_pair_analysis(records: pl.DataFrame, examples: int = 2) -> dict:
    """True pairs the resolver left apart, by which fields disagree and by pair of sources."""
    by_fields: Counter = Counter()
    by_sources: Counter = Counter()
    shown: dict[str, list[str]] = {}
    for group in records.partition_by("true_id"):
        if group["person_id"].n_unique() < 2:
            continue
        for a, b in itertools.combinations(group.to_dicts(), 2):
            if a["person_id"] == b["person_id"]:
                continue
            kind = disagreement(a, b)
            by_fields[kind] += 1
            by_sources[" + ".join(sorted([a["source"], b["source"]]))] += 1
            if len(shown.setdefault(kind, [])) < examples:
                shown[kind].append(f"{describe(a)}  <->  {describe(b)}")
    top = dict(by_fields.most_common(12))
    return {"by_fields": top, "by_sources": dict(by_sources.most_common()),
            "examples": {k: shown[k] for k in list(top)[:6]}}


def level_report(folder: Path, people: int, seed: int, noise: float) -> dict:
    from benchmarks.plain_splink import evaluate_clusters, plain_clusters_on_records
    from dagster_project.config import load_config
    from dagster_project.identity.evaluate import evaluate_identity

    config_path, counts = build_workspace(folder, people, seed, noise)
    config = load_config(config_path)
    seconds = run(config, f"noise {noise:g}")
    town = {row["person_id"]: row for row in pl.read_csv(folder / "town_people.csv", infer_schema=False).to_dicts()}
    ours_records = records_with_clusters(config)
    loaded = ours_records.height
    plain, _ = plain_clusters_on_records(config.warehouse, config.match_threshold)
    plain_records = records_with_clusters(config, plain)
    report = {"records_written": counts, "records_scored": loaded, "run_seconds": seconds}
    for name, evaluation, records in (
        ("ours", evaluate_identity(config.warehouse, config.truth), ours_records),
        ("plain_splink", evaluate_clusters(config.warehouse, config.truth, plain), plain_records),
    ):
        report[name] = {**figures(evaluation), "false_merges_by_relation": false_merge_analysis(records, town),
                        "missed_pairs": missed_pair_analysis(records)}
    return report


def summary(levels: dict) -> str:
    lines = ["| noise | records | model | precision | recall | described P | described R | false merges | top relations |",
             "|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for level, report in levels.items():
        for name in ("ours", "plain_splink"):
            r = report[name]
            relations = ", ".join(f"{k} {v}" for k, v in list(r["false_merges_by_relation"]["by_relation"].items())[:4])
            d = r["described_records"] or {"precision": float("nan"), "recall": float("nan")}
            lines.append(f"| {float(level):g}x | {r['records']:,} | {name} | {r['precision']:.4f} | {r['recall']:.4f}"
                         f" | {d['precision']:.4f} | {d['recall']:.4f} | {r['false_merges']} | {relations} |")
    for level, report in levels.items():
        for name in ("ours", "plain_splink"):
            missed = report[name]["missed_pairs"]["by_fields"]
            lines.append(f"\nmissed true pairs, {name}, noise {float(level):g}x (fields that disagree: pairs)")
            lines += [f"  {count:6}  {kind}" for kind, count in list(missed.items())[:8]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--noise", type=float, action="append", help="noise level(s) (default: 1)")
    parser.add_argument("--workdir", type=Path, help="keep the workspaces here (default: a temporary folder)")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="cdp-town-"))
    levels = {}
    for level in args.noise or [1.0]:
        folder = root / f"noise-{level:g}"
        if folder.exists():
            shutil.rmtree(folder)
        levels[str(level)] = level_report(folder, args.people, args.seed, level)
        print(json.dumps({level: levels[str(level)]}, indent=2, default=str), flush=True)
    if not args.workdir:
        shutil.rmtree(root)
    print(summary(levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
