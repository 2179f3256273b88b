"""Match a partner's encoded records to our persons, on match keys only.

Two ways to match, both on keys (partner_keys.py), never on raw PII:
- exact: the partner row's email_key or phone_key is the key of exactly one
  of our persons and the hashed date of birth agrees too, confirmed by a
  Dice similarity of at least `key_min_dice` (a household's shared email,
  or a recycled address, is not one person: the birthday tells them apart);
- fuzzy: Dice similarity of the Bloom filters (anonlink) of at least
  `dice_threshold`, compared only within blocks sharing the hashed date of
  birth, postcode or name key, and agreeing exactly on at least two of those
  three keys. Among a million partner rows many strangers share a common name
  (or a birthday) with one of ours, and one field's bigrams, with another
  field missing, lift Dice over the threshold; a typo or a move changes one
  key, rarely two.
A partner row whose best person is not ahead of the runner-up by `margin`
(in Dice) is left unmatched, as census linkers leave ties: two near-equal
candidates mean the keys cannot tell them apart. Each partner row matches at
most one person and each person at most one partner row: the best pairs
first (greedy, exact before fuzzy).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import polars as pl
from anonlink.candidate_generation import find_candidate_pairs
from anonlink.similarities import dice_coefficient_accelerated
from bitarray import bitarray

from dagster_project.identity.partner_keys import KEY_COLUMNS, encode, our_records

BLOCK_KEYS = ("dob_key", "postcode_key", "name_key")
MIN_AGREEING_KEYS = 2  # of BLOCK_KEYS, for a fuzzy match
MATCH_COLUMNS = {"partner_record_id": pl.String, "person_id": pl.String, "matched_by": pl.String, "similarity": pl.Float64}


@dataclass(frozen=True)
class Thresholds:
    dice_threshold: float = 0.8
    key_min_dice: float = 0.6
    margin: float = 0.05


def _bits(clks: pl.Series) -> list[bitarray]:
    out = []
    for value in clks:
        bits = bitarray()
        bits.frombytes(base64.b64decode(value))
        out.append(bits)
    return out


def candidate_pairs(ours: pl.DataFrame, theirs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """(our row, their row, dice) for every pair in a shared block with dice >= threshold."""
    datasets = [_bits(ours["clk"]), _bits(theirs["clk"])]
    blocks = [list(zip(*(frame[key].to_list() for key in BLOCK_KEYS))) for frame in (ours, theirs)]

    def blocking(dataset: int, row: int, _clk) -> list:
        return [(i, key) for i, key in enumerate(blocks[dataset][row]) if key]

    similarity, _datasets, rows = find_candidate_pairs(datasets, dice_coefficient_accelerated, threshold, blocking_f=blocking)
    return pl.DataFrame({
        "our_row": pl.Series(rows[0], dtype=pl.Int64),
        "their_row": pl.Series(rows[1], dtype=pl.Int64),
        "similarity": pl.Series(similarity, dtype=pl.Float64),
    })


def with_agreeing_keys(pairs: pl.DataFrame, ours: pl.DataFrame, theirs: pl.DataFrame) -> pl.DataFrame:
    """`pairs` (our_row, their_row, ...) plus `agreeing`: how many of BLOCK_KEYS are present on both sides and equal."""
    def keyed(frame: pl.DataFrame, row: str, suffix: str) -> pl.DataFrame:
        return frame.select(BLOCK_KEYS).with_row_index(row).cast({row: pl.Int64}).rename({k: k + suffix for k in BLOCK_KEYS})
    equal = [(pl.col(k + "_ours") == pl.col(k + "_theirs")).fill_null(False).cast(pl.Int8) for k in BLOCK_KEYS]
    return (pairs.join(keyed(ours, "our_row", "_ours"), on="our_row", how="left")
            .join(keyed(theirs, "their_row", "_theirs"), on="their_row", how="left")
            .with_columns(agreeing=pl.sum_horizontal(equal))
            .drop([k + suffix for k in BLOCK_KEYS for suffix in ("_ours", "_theirs")]))


def _dice(a: bitarray, b: bitarray) -> float:
    total = a.count() + b.count()
    return 2 * (a & b).count() / total if total else 0.0


def key_pairs(ours: pl.DataFrame, theirs: pl.DataFrame, min_dice: float) -> pl.DataFrame:
    """(our row, their row, dice) sharing an email or phone key that names one person
    only, and the hashed date of birth."""
    pairs = []
    for key in ("email_key", "phone_key"):
        unique = (ours.with_row_index("our_row").filter(pl.col(key).is_not_null() & pl.col("dob_key").is_not_null())
                  .filter(pl.col("person_id").n_unique().over(key) == 1))
        pairs.append(theirs.with_row_index("their_row").filter(pl.col(key).is_not_null())
                     .join(unique.select(key, "dob_key", "our_row"), on=[key, "dob_key"]).select("our_row", "their_row"))
    joined = pl.concat(pairs).unique().cast(pl.Int64)
    our_bits, their_bits = _bits(ours["clk"]), _bits(theirs["clk"])
    dice = [_dice(our_bits[o], their_bits[t]) for o, t in joined.iter_rows()]
    return joined.with_columns(similarity=pl.Series(dice, dtype=pl.Float64)).filter(pl.col("similarity") >= min_dice)


def clear_winners(pairs: pl.DataFrame, runners_up: pl.DataFrame, margin: float) -> pl.DataFrame:
    """Pairs whose person is ahead of every other person for that partner row by
    `margin` in Dice (`runners_up`: their_row, person_id, similarity of the
    candidates just below the threshold too); a key match counts as ahead."""
    rivals = (pl.concat([pairs.select("their_row", "person_id", "similarity"), runners_up])
              .group_by("their_row", "person_id").agg(pl.col("similarity").max()))
    best_of_others = (pairs.select("their_row", "person_id").join(rivals, on="their_row", suffix="_rival")
                      .filter(pl.col("person_id") != pl.col("person_id_rival"))
                      .group_by("their_row", "person_id").agg(rival=pl.col("similarity").max()))
    return (pairs.join(best_of_others, on=["their_row", "person_id"], how="left")
            .filter((pl.col("rank") == 0) | pl.col("rival").is_null() | (pl.col("similarity") - pl.col("rival") >= margin))
            .drop("rival"))


def greedy_one_to_one(pairs: pl.DataFrame) -> pl.DataFrame:
    """Best pairs first; a partner row and a person are each used once."""
    used_rows, used_people, kept = set(), set(), []
    for row in pairs.sort(["rank", "similarity"], descending=[False, True]).iter_rows(named=True):
        if row["their_row"] in used_rows or row["person_id"] in used_people:
            continue
        used_rows.add(row["their_row"])
        used_people.add(row["person_id"])
        kept.append(row)
    return pl.DataFrame(kept, schema=pairs.schema)


def match(ours: pl.DataFrame, theirs: pl.DataFrame, thresholds: Thresholds = Thresholds()) -> pl.DataFrame:
    """`ours`: person_id + key columns (one row per identity record); `theirs`:
    partner_record_id + key columns. Returns partner_record_id, person_id,
    matched_by (key | bloom) and similarity."""
    if ours.is_empty() or theirs.is_empty():
        return pl.DataFrame(schema=MATCH_COLUMNS)
    people = ours.select("person_id").with_row_index("our_row").cast({"our_row": pl.Int64})
    partner_ids = theirs.select("partner_record_id").with_row_index("their_row").cast({"their_row": pl.Int64})
    exact = key_pairs(ours, theirs, thresholds.key_min_dice).with_columns(matched_by=pl.lit("key"), rank=pl.lit(0))
    near = candidate_pairs(ours, theirs, max(thresholds.dice_threshold - thresholds.margin, 0.0)).join(people, on="our_row")
    above = near.filter(pl.col("similarity") >= thresholds.dice_threshold)
    fuzzy = (with_agreeing_keys(above, ours, theirs).filter(pl.col("agreeing") >= MIN_AGREEING_KEYS).drop("agreeing")
             .with_columns(matched_by=pl.lit("bloom"), rank=pl.lit(1)))
    pairs = pl.concat([exact.join(people, on="our_row"), fuzzy], how="diagonal_relaxed")
    # One candidate per (partner row, person): the best of the person's records.
    best = pairs.sort(["rank", "similarity"], descending=[False, True]).unique(["their_row", "person_id"], keep="first")
    chosen = greedy_one_to_one(clear_winners(best, near.select("their_row", "person_id", "similarity"), thresholds.margin))
    return chosen.join(partner_ids, on="their_row").select(
        "partner_record_id", "person_id", "matched_by", similarity=pl.col("similarity").round(4),
    ).sort("partner_record_id")


PARTNER_MATCHES_DDL = """
    create or replace table identity.partner_matches (
        source varchar not null,             -- the partner source (kind partner in cdp.yml)
        source_record_id varchar not null,   -- the partner's record id
        person_id varchar not null,
        matched_by varchar not null,         -- key (hashed email/phone) | bloom (Dice of the Bloom filters)
        similarity double not null
    )
"""


def match_partner_sources(con, config, secret: str | None) -> dict[str, int]:
    """identity.partner_matches for every source of kind partner; matches per source.
    Without the secret nothing can be encoded on our side: no matches."""
    con.execute("create schema if not exists identity")
    con.execute(PARTNER_MATCHES_DDL)
    sources = [s for s in config.sources if s.kind == "partner"]
    if not sources or not secret:
        return {s.name: 0 for s in sources}
    records = our_records(con)
    ours = pl.concat([records.select("person_id"), encode(records, secret, config.default_phone_country_code)], how="horizontal")
    thresholds = Thresholds(config.partner_dice_threshold, config.partner_key_min_dice, config.partner_margin)
    counts = {}
    for source in sources:
        theirs = con.sql(f'select source_record_id as partner_record_id, {", ".join(KEY_COLUMNS)} '
                         f'from staging."{source.staging_model}" where clk is not null').pl()
        found = match(ours, theirs, thresholds).rename({"partner_record_id": "source_record_id"})
        con.register("found_matches", found)
        con.execute("insert into identity.partner_matches select ?, source_record_id, person_id, matched_by, similarity "
                    "from found_matches", [source.name])
        con.unregister("found_matches")
        counts[source.name] = found.height
    return counts
