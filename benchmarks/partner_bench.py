"""Partner match benchmark: N of our people (two records each) against M encoded partner records.

    CDP_PARTNER_SECRET=... python benchmarks/partner_bench.py --people 100000 --partner-records 1000000

Prints encode and match times, precision and recall against the generator's truth.
"""

from __future__ import annotations

import argparse
import time

import polars as pl

from dagster_project.generate import partner
from dagster_project.generate.people import CHUNK, EmailRegistry, person_chunk
from dagster_project.generate.plan import Ctx, cohort
from dagster_project.identity import partner_keys, partner_match


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--partner-records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dice-threshold", type=float, default=partner_match.Thresholds.dice_threshold)
    parser.add_argument("--margin", type=float, default=partner_match.Thresholds.margin)
    args = parser.parse_args()
    secret = partner_keys.secret_from_env()
    ctx = Ctx(seed=args.seed, batch=1, people=args.people, defect_rate=0, noise=1.0)
    # Partner records that are not ours per person of ours, so the file has about M rows.
    others = max(0.0, args.partner_records / args.people - partner.SHARE_OF_OURS)
    people, raw, truth = [], [], []
    for chunk in range(ctx.n_chunks):
        ctx.chunk = chunk
        p = cohort(ctx, person_chunk(args.seed, chunk, EmailRegistry(args.seed)))
        rows, t = partner.partner_rows(p, args.seed, chunk, int(p["hi"].max()), others_share=others)
        people.append(p), raw.append(rows), truth.append(t)
    people, raw, truth = pl.concat(people, how="diagonal_relaxed"), pl.concat(raw), pl.concat(truth)
    started = time.perf_counter()
    theirs = partner.encoded_file(raw, secret)
    encoded_partner = time.perf_counter()
    ours_raw = partner.brand_records(people, args.seed)
    ours = pl.concat([ours_raw.select("person_id"), partner_keys.encode(ours_raw, secret)], how="horizontal")
    encoded_ours = time.perf_counter()
    thresholds = partner_match.Thresholds(dice_threshold=args.dice_threshold, margin=args.margin)
    matches = partner_match.match(ours, theirs, thresholds)
    matched = time.perf_counter()
    scored = matches.join(truth, on="partner_record_id", suffix="_true")
    correct = (scored["person_id"] == scored["person_id_true"]).sum()
    print(f"our people {people.height:,} ({ours.height:,} records), partner records {theirs.height:,} (chunk {CHUNK:,})")
    print(f"encode partner {encoded_partner - started:.1f}s, encode ours {encoded_ours - encoded_partner:.1f}s, "
          f"match {matched - encoded_ours:.1f}s")
    for (how,), group in scored.group_by("matched_by"):
        print(f"  by {how}: {group.height:,} matches, {(group['person_id'] != group['person_id_true']).sum():,} "
              f"to another person, {group['person_id_true'].is_null().sum():,} to someone not ours")
    print(f"{thresholds}")
    print(f"matches {matches.height:,}: precision {correct / matches.height:.4f}, "
          f"recall {correct / truth['person_id'].is_not_null().sum():.4f}")


if __name__ == "__main__":
    main()
