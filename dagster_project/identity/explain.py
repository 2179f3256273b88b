"""`cdp explain PERSON_ID`: why these records are one person.

Prints the person's records grouped by source, then every link between them
(the deterministic rule, or the Splink match probability and the weight of
each comparison), the links that were vetoed, and the person id's history.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from dagster_project.identity.source_ages import stored_min_ages
from dagster_project.warehouse import connect, table_exists

RECORD_COLUMNS = [
    "first_name", "last_name", "email", "phone", "date_of_birth", "address_line",
    "postcode", "city", "country", "loyalty_id", "device_id", "updated_at",
]


class UnknownPersonError(LookupError):
    pass


@dataclass
class PersonExplanation:
    person_id: str
    records: pl.DataFrame
    links: pl.DataFrame
    vetoed: pl.DataFrame
    history: pl.DataFrame
    decisions: pl.DataFrame | None = None  # human must-link / cannot-link decisions naming its records
    one_record_sources: dict | None = None  # source -> why it holds one record per person
    accepted: pl.DataFrame | None = None  # conflicting records joined on purpose (identity.accepted_conflicts)
    min_ages: dict | None = None  # source -> (age, why): its people are at least that old (identity.source_ages)

    def render(self) -> str:
        sources = self.records["source"].n_unique()
        lines = [f"Person {self.person_id}: {self.records.height} records from {sources} sources", ""]
        one_record, min_ages = self.one_record_sources or {}, self.min_ages or {}
        for (source,), group in self.records.group_by("source", maintain_order=True):
            notes = [f"one record per person: {one_record[source]}"] if source in one_record else []
            notes += [f"at least {min_ages[source][0]} years old: {min_ages[source][1]}"] if source in min_ages else []
            lines.append(source + (f" ({'; '.join(notes)})" if notes else ""))
            for row in group.iter_rows(named=True):
                values = [f"{c}={row[c]}" for c in RECORD_COLUMNS if row.get(c) is not None]
                lines.append(f"  {row['source_record_id']}: {', '.join(values)}")
        lines += ["", f"Links ({self.links.height})"]
        lines += [_describe_link(row) for row in self.links.iter_rows(named=True)] or ["  none: a single record"]
        refused = self.vetoed.filter(pl.col("veto_reason").str.starts_with("refused") | pl.col("veto_reason").str.starts_with("ambiguous"))
        vetoed = self.vetoed.filter(~pl.col("veto_reason").is_in(refused["veto_reason"].implode()))
        if vetoed.height:
            lines += ["", f"Vetoed links ({vetoed.height}): shared identifier, but the other evidence says different people"]
            lines += [_describe_link(row) for row in vetoed.iter_rows(named=True)]
        if refused.height:
            lines += ["", f"Refused and ambiguous links ({refused.height}): they would join clearly conflicting records "
                      "or two records of a one-record-per-person source, or a record with little evidence to one of several persons"]
            lines += [_describe_link(row) for row in refused.iter_rows(named=True)]
        if self.accepted is not None and self.accepted.height:
            lines += ["", f"Joined despite a conflict ({self.accepted.height}): the sole link of two one-record-per-person "
                      "sources, or a conflict that household safety, off for data without households, leaves to the model's weights"]
            lines += [f"  {row['record_key']} <-> {row['linked_record_key']}: {row['reason']}"
                      for row in self.accepted.iter_rows(named=True)]
        if self.decisions is not None and self.decisions.height:
            lines += ["", f"Human decisions ({self.decisions.height}, win over every automatic link)"]
            for row in self.decisions.iter_rows(named=True):
                lines.append(f"  {row['decision'].replace('_', '-')} {row['record_key']} {row['linked_record_key']} "
                             f"({row['decided_at']}, {row['status']}): {row['reason']}")
        if self.history.height:
            lines += ["", "Id history"]
            for row in self.history.iter_rows(named=True):
                lines.append(f"  {row['recorded_at']:%Y-%m-%d %H:%M} {row['event']}: {', '.join(row['old_person_ids']) or '-'} -> {row['person_id']} ({row['records']} records, run {row['run_id']})")
        return "\n".join(lines)


def _describe_link(row: dict) -> str:
    head = f"  {row['record_key']} <-> {row['linked_record_key']}: "
    if row["rule"] == "must_link":
        head += "human must-link decision"
    elif row["rule"] == "household":
        head += ("household pass, after the passes below left them apart: at one address, each the other's "
                 "only candidate alike in name (identity/household_pass.py)")
    elif row["rule"] == "best_link":
        head += (f"best-link pass: under the threshold (Splink match probability {row['match_probability']:.4f}, weight "
                 f"{row['match_weight']:+.1f}), each record the other's clearly best candidate between two "
                 "one-record-per-person sources; in household data a record without a date of birth or full "
                 "first name joins only where both names are alike (identity/best_links.py)")
    elif row["rule"] == "splink":
        head += f"Splink match probability {row['match_probability']:.4f} (weight {row['match_weight']:+.1f})"
    else:
        head += f"deterministic, same {row['rule'].replace('_', ' ')}" if row["rule"] != "login" else "deterministic, device logged into this account"
        if row.get("match_weight") is not None:
            head += f" (Splink weight of the pair {row['match_weight']:+.1f})"
    weights = [f"{name[3:]} {value:+.1f}" for name, value in row.items() if name.startswith("mw_") and value]
    if weights:
        head += f"\n      weights: {', '.join(weights)}"
    if row.get("veto_reason"):
        head += f"\n      vetoed: {row['veto_reason']}"
    return head


def explain_person(warehouse: Path, person_id: str) -> PersonExplanation:
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
    with connect(warehouse) as con:
        if not table_exists(con, "identity", "person_map"):
            raise UnknownPersonError("no identity.person_map yet: run `cdp run` first")
        records = con.execute(
            f"""
            select m.record_key, m.source, m.source_record_id, {', '.join('r.' + c for c in RECORD_COLUMNS)}
            from identity.person_map m
            left join intermediate.int_identity__records r on r.record_key = m.record_key
            where m.person_id = ?
            order by m.source, m.source_record_id
            """,
            [person_id],
        ).to_arrow_table()
        records = pl.from_arrow(records)
        if records.is_empty():
            raise UnknownPersonError(f"no person {person_id!r} in identity.person_map")
        keys = records["record_key"].to_list()
        edges = _edges(con, keys)
        history = con.execute(
            "select * from identity.id_history where person_id = ? or list_contains(old_person_ids, ?) order by recorded_at",
            [person_id, person_id],
        ).to_arrow_table() if table_exists(con, "identity", "id_history") else None
        history = pl.from_arrow(history) if history is not None else pl.DataFrame()
        decisions = pl.from_arrow(con.execute(
            "select * from identity.decisions where list_contains(?, record_key) or list_contains(?, linked_record_key)", [keys, keys]
        ).to_arrow_table()) if table_exists(con, "identity", "decisions") else None
        one_record_sources = dict(con.execute(
            "select source, reason from identity.one_record_sources where one_record_per_person"
        ).fetchall()) if table_exists(con, "identity", "one_record_sources") else None
        accepted = pl.from_arrow(con.execute(
            "select * from identity.accepted_conflicts where list_contains(?, record_key) and list_contains(?, linked_record_key)",
            [keys, keys],
        ).to_arrow_table()) if table_exists(con, "identity", "accepted_conflicts") else None
        min_ages = stored_min_ages(con)
    vetoed = edges.filter(pl.col("vetoed")) if "vetoed" in edges.columns else edges.clear()
    links = edges.filter(~pl.col("vetoed")) if "vetoed" in edges.columns else edges
    return PersonExplanation(person_id, records, links, vetoed, history, decisions, one_record_sources, accepted, min_ages)


def _edges(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pl.DataFrame:
    if not table_exists(con, "identity", "edges"):
        return pl.DataFrame(schema={"record_key": pl.String, "linked_record_key": pl.String, "rule": pl.String})
    edges = con.execute(
        """
        select * from identity.edges
        where list_contains(?, record_key) or list_contains(?, linked_record_key)
        order by rule, record_key, linked_record_key
        """,
        [keys, keys],
    ).to_arrow_table()
    return pl.from_arrow(edges)


def write_waterfall(config, explanation: PersonExplanation, path: Path) -> Path | None:
    """Splink waterfall charts of the person's probabilistic links (HTML, works offline)."""
    from dagster_project.identity.graph import RECORDS_TABLE
    from dagster_project.identity.splink_model import waterfall_chart_html

    pairs = explanation.links.filter(pl.col("rule") == "splink")
    if pairs.is_empty():
        return None
    keys = sorted(set(pairs["record_key"]) | set(pairs["linked_record_key"]))
    with connect(config.warehouse) as con:
        return waterfall_chart_html(con, RECORDS_TABLE, config.identity_model, keys, path)
