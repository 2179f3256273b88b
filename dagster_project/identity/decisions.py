"""Human identity decisions: must-link and cannot-link, kept in a CSV beside cdp.yml.

`cdp identity must-link KEY KEY` and `cdp identity cannot-link KEY KEY`
append a line to `identity.decisions` (default `identity_decisions.csv`), a
plain file to review in git. Every run reads all of it, so decisions hold
after a full recompute and a retrain: a must-link joins the two records'
persons whatever the automatic evidence says (unless a cannot-link forbids
it), a cannot-link keeps them apart whatever links join them. The last
decision on a pair wins. A decision that names a record which is not (or no
longer: erased) an identity record is reported, never silently dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

KINDS = ("must_link", "cannot_link")
COLUMNS = ["decision", "record_key", "linked_record_key", "reason", "decided_at"]
SCHEMA = {name: pl.String for name in COLUMNS}


class DecisionError(ValueError):
    pass


@dataclass
class Decisions:
    must_link: pl.DataFrame  # record_key, linked_record_key: the pairs to join
    cannot_link: pl.DataFrame  # record_key, linked_record_key: the pairs to keep apart
    table: pl.DataFrame  # every current decision with its status (applied | unknown record)

    @property
    def unknown(self) -> pl.DataFrame:
        return self.table.filter(pl.col("status") != "applied")


def record_decision(path: Path, kind: str, key: str, other: str, reason: str) -> dict:
    """Append one decision to the decisions file (created with its header)."""
    if kind not in KINDS:
        raise DecisionError(f"unknown decision {kind!r} ({', '.join(KINDS)})")
    for value in (key, other):
        if ":" not in value:
            raise DecisionError(f"{value!r} is not a record key: write source:source_record_id, as `cdp explain` prints it")
    if key == other:
        raise DecisionError("a decision needs two different records")
    row = {
        "decision": kind, "record_key": min(key, other), "linked_record_key": max(key, other),
        "reason": reason, "decided_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    new_file = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        writer.writerow(row)
    return row


def read_decisions(path: Path) -> pl.DataFrame:
    """The current decision per pair (the last one written wins)."""
    if not path.exists():
        return pl.DataFrame(schema=SCHEMA)
    frame = pl.read_csv(path, schema=SCHEMA)
    bad = frame.filter(~pl.col("decision").is_in(KINDS) | pl.col("record_key").is_null() | pl.col("linked_record_key").is_null())
    if bad.height:
        raise DecisionError(f"{path}: {bad.height} line(s) are not a must_link or cannot_link between two record keys")
    pair = [pl.min_horizontal("record_key", "linked_record_key"), pl.max_horizontal("record_key", "linked_record_key")]
    frame = frame.with_columns(pair[0].alias("record_key"), pair[1].alias("linked_record_key"))
    return frame.with_row_index("line").sort("line").unique(["record_key", "linked_record_key"], keep="last", maintain_order=True).drop("line")


def resolve_decisions(path: Path, record_keys: pl.Series) -> Decisions:
    """The decisions that apply to these identity records, and those naming unknown ones."""
    current = read_decisions(path)
    # The few keys the decisions name that are records: a set of those, not of a million record keys (0.8 s).
    named = pl.concat([current["record_key"], current["linked_record_key"]])
    found = record_keys.filter(record_keys.is_in(named.implode())).implode()
    known = pl.col("record_key").is_in(found) & pl.col("linked_record_key").is_in(found)
    table = current.with_columns(
        pl.when(known).then(pl.lit("applied")).otherwise(pl.lit("unknown or erased record")).alias("status")
    )
    applied = table.filter(pl.col("status") == "applied")
    pairs = ["record_key", "linked_record_key"]
    return Decisions(
        must_link=applied.filter(pl.col("decision") == "must_link").select(pairs),
        cannot_link=applied.filter(pl.col("decision") == "cannot_link").select(pairs),
        table=table,
    )


def rule_edges(links: pl.DataFrame, rule: str, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Links (record_key, linked_record_key) as standing edges of `rule`, in the edges' schema `columns`."""
    edges = links.with_columns(
        pl.lit(rule).alias("rule"), pl.lit(False).alias("vetoed"), pl.lit(None, pl.String).alias("veto_reason")
    )
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in columns.items() if name not in edges.columns]
    return edges.with_columns(missing).select(list(columns)).cast(columns)


def must_link_edges(decisions: Decisions, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Must-link decisions as edges of rule 'must_link', in the edges' schema."""
    return rule_edges(decisions.must_link, "must_link", columns)
