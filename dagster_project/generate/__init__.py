"""Sample-data generator: landing files of the bundled sample retailer plus ground truth.

generate_sample() streams people in chunks; every chunk's draws are seeded
from (seed, batch, chunk), so the output is byte-identical for the same
arguments and memory stays flat whatever the number of people.
"""

from __future__ import annotations

from pathlib import Path

import os

import polars as pl

from dagster_project.identity.partner_keys import SECRET_ENV

from . import defects, enrichment, partner
from .people import EmailRegistry, person_chunk
from .plan import Ctx, cohort
from .sources import SOURCES, Writer

__all__ = ["generate_sample"]


def generate_sample(landing_dir: Path, truth_path: Path, people: int, seed: int, batch: int = 1,
                    defect_rate: float = 0.0005, noise: float = 1.0) -> dict:
    """Write batch `batch` of the sample landing files and its truth rows.

    Batch 1 is the history 2023-01-01..2025-06-30 of `people` people and
    overwrites truth.csv; batch b > 1 is the single day 2025-06-30 + (b-1)
    with ~2% new people and ~5% of existing ones active, appended to truth.csv.
    `noise` scales the rates of typos, look-alike and sound-alike characters,
    nicknames, blanks and wrong digits (1 = the sample's rates, 0 = none).
    """
    if people < 1 or batch < 1 or not 0 <= defect_rate <= 1 or noise < 0:
        raise ValueError("people >= 1, batch >= 1, 0 <= defect_rate <= 1 and noise >= 0 are required")
    ctx = Ctx(seed=seed, batch=batch, people=people, defect_rate=defect_rate, noise=noise)
    registry = EmailRegistry(seed)
    writer = Writer(Path(landing_dir), Path(truth_path), batch)
    stats = {"new_people": 0, "changed_people": 0, "defective_rows": 0}
    # The partner file needs the secret shared with the partner; without it there is none.
    partner_secret = os.environ.get(SECRET_ENV) if batch == 1 else None
    partner_parts: list[tuple[pl.DataFrame, pl.DataFrame]] = []
    postcodes: list[pl.Series] = []
    try:
        for chunk in range(ctx.n_chunks):
            ctx.chunk = chunk
            p = cohort(ctx, person_chunk(seed, chunk, registry))
            stats["new_people"] += int(p["is_new"].sum())
            writer.write_households(p.filter(p["is_new"]))
            stats["changed_people"] += int((~p["is_new"]).sum())
            _write_chunk(ctx, p, writer, stats)
            if batch == 1:
                postcodes.append(enrichment.postcodes(p))
            if partner_secret:
                partner_parts.append(partner.partner_rows(p, seed, chunk, int(p["hi"].max())))
    finally:
        files = writer.close()
    if postcodes:
        stats["enrichment_postcodes"] = _write_enrichment(pl.concat(postcodes), seed, Path(landing_dir))
    if partner_parts:
        stats["partner_records"] = _write_partner(partner_parts, partner_secret, Path(landing_dir), Path(truth_path))
    return {"people": ctx.total, "batch": batch, **stats, "files": files, "truth_rows": writer.truth_rows}


def _write_enrichment(postcodes: pl.Series, seed: int, landing_dir: Path) -> int:
    """landing/enrichment/postcode_enrichment_0001.csv: the provider's rows by postcode."""
    rows = enrichment.enrichment_rows(postcodes, seed)
    folder = landing_dir / "enrichment"
    folder.mkdir(parents=True, exist_ok=True)
    rows.write_csv(folder / "postcode_enrichment_0001.csv")
    return rows.height


def _write_partner(parts, secret: str, landing_dir: Path, truth_path: Path) -> int:
    """landing/partner/members_encoded_0001.csv (keys only) and partner_truth.csv beside truth.csv."""
    raw = pl.concat([rows for rows, _ in parts])
    folder = landing_dir / "partner"
    folder.mkdir(parents=True, exist_ok=True)
    partner.encoded_file(raw, secret).write_csv(folder / "members_encoded_0001.csv")
    pl.concat([truth for _, truth in parts]).write_csv(truth_path.with_name("partner_truth.csv"))
    return raw.height


def _write_chunk(ctx: Ctx, p, writer: Writer, stats: dict) -> None:
    for tag, src in enumerate(SOURCES):
        if p.height == 0:
            return
        df, truth = src.make(ctx, p, ctx.rng(tag))
        if df is None or df.height == 0:
            continue
        if src.truth and truth is not None and truth.height:
            writer.write_truth(src, truth)
        df, broken = defects.inject(df, src.name, ctx.rng(100 + tag), ctx.defect_rate, src.fmt == "csv")
        stats["defective_rows"] += broken
        writer.write(src, df)
