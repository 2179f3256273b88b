"""Sources that hold at most one record per person (duplicate-free sources).

A census return, a tax form file, a loyalty scheme: each person is in it
once, so a person never holds two of its records. Census-style linkers rely
on this (Splink's `cluster_using_single_best_links`): when two records of
such a source end up linked, one of the links is wrong. identity.conflicts
uses it to refuse a union that would put two records of one such source in
one person.

A source says so in cdp.yml (`one_record_per_person: true|false`). When it
does not, it is detected from the links: a source is duplicate-free when
almost none of its described records (a first name or a date of birth)
link directly to another record of the same source. Only described records
count: a bare record (a receipt, a consent event) links to the person's
described records, never to its own source's other records, so its
duplicates would not show.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# A source is duplicate-free when fewer than this share of its described
# records link to another record of the source: a source with duplicates
# (CRM contacts keyed twice, accounts opened twice) links a quarter or more
# of them, a duplicate-free one only its false links between look-alike
# relatives, which are rare.
MAX_DUPLICATE_SHARE = 0.01
# Below this many described records the share says too little to decide.
MIN_DESCRIBED_RECORDS = 100


@dataclass(frozen=True)
class SourceVerdict:
    source: str
    one_per_person: bool
    reason: str


def duplicate_free_sources(records: pl.DataFrame, edges: pl.DataFrame, declared: dict[str, bool | None]) -> list[SourceVerdict]:
    """Each source of `records` (record_key, source, is_described) and whether
    it holds one record per person: as `declared` (source -> true / false /
    None) says, else as its unvetoed `edges` (record_key, linked_record_key,
    vetoed) show."""
    linked = _records_linked_within_source(edges)
    counts = (
        records.filter(pl.col("is_described"))
        .with_columns(pl.col("record_key").is_in(linked.implode()).alias("linked"))
        .group_by("source").agg(pl.len().alias("described"), pl.col("linked").sum().alias("linked"))
    )
    by_source = {row["source"]: row for row in counts.iter_rows(named=True)}
    verdicts = []
    for source in sorted(records["source"].unique().to_list()):
        if declared.get(source) is not None:
            flag = bool(declared[source])
            verdicts.append(SourceVerdict(source, flag, f"declared one_record_per_person: {str(flag).lower()} in cdp.yml"))
            continue
        row = by_source.get(source, {"described": 0, "linked": 0})
        verdicts.append(_detected(source, row["described"], row["linked"]))
    return verdicts


def _detected(source: str, described: int, linked: int) -> SourceVerdict:
    if described < MIN_DESCRIBED_RECORDS:
        return SourceVerdict(source, False, f"too few records to tell: {described} with a first name or date of birth "
                                            f"(at least {MIN_DESCRIBED_RECORDS} needed)")
    share = linked / described
    flag = share < MAX_DUPLICATE_SHARE
    found = f"{linked} of {described} described records ({share:.1%}) link to another record of the source"
    if flag:
        return SourceVerdict(source, True, f"detected: {found}, fewer than {MAX_DUPLICATE_SHARE:.0%}")
    return SourceVerdict(source, False, f"has duplicates: {found}")


def _records_linked_within_source(edges: pl.DataFrame) -> pl.Series:
    """Keys of records with an unvetoed link to another record of their own source."""
    within = edges.filter(~pl.col("vetoed") & (_source_of_key("record_key") == _source_of_key("linked_record_key")))
    return pl.concat([within["record_key"], within["linked_record_key"]]).unique()


def _source_of_key(column: str) -> pl.Expr:
    """The source of a record key ("source:source_record_id", as int_identity__records builds it; a
    source name holds no colon): read from the key, without a join of millions of keys."""
    return pl.col(column).str.splitn(":", 2).struct.field("field_0")
