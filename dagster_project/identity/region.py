"""The region of an incremental run: the records whose person can change.

An incremental run scores only new or changed records (identity.incremental),
and then clusters again only the records a change can reach; every other
record keeps its person id and its edges. The clustering of a record depends
on what it is connected to through:
- the links (unvetoed edges before any pass, and must-link decisions), which
  make the clusters the conflict rule rebuilds and partial records attach to;
- the candidate pairs of the household pass and of the best-link pass;
- its previous person (the claims of person ids).
So the region is every record connected, through these, to a *seed*:
- a new or changed record (its fingerprint differs);
- an end of an edge or a pass candidate that appeared or went since the last
  run (the edges and candidates of a removed record, a household address key
  crossing the cap, ...), against the stored edges (identity.edges) and pass
  candidates (identity.pass_candidates);
- a record whose first name's frequency class moved: the conflict rule reads
  how often first and last names occur among all records (identity.conflicts:
  a name written at least KNOWN_NAME_COUNT times, a name TYPO_FREQUENCY_RATIO
  times rarer than another, a name written more often as a first name than as
  a last name), so a record whose name crosses one of these lines can conflict
  anew with a record it is connected to (the rule only compares records of one
  cluster or group, so the records of the other name of a ratio need not join).
A record outside the region is connected to no seed: its links, candidates
and name classes are those of the last run, which clustered it the same way.
Whatever else the clustering reads over all records is compared with the last
run, and when it differs everything is clustered again (a fallback, whose
reason the identity report gives): the settings and the code of identity
resolution, the nickname lists, the decisions, the duplicate-free verdicts
(identity.one_per_person) and household safety (identity.households).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from dagster_project.config import CdpConfig
from dagster_project.identity.clusters import components
from dagster_project.identity.conflicts import KNOWN_NAME_COUNT, NICKNAME_TABLES, TYPO_FREQUENCY_RATIO, TYPO_SIMILARITY
from dagster_project.identity.source_ages import MIN_AGES_TABLE
from dagster_project.warehouse import table_exists

CLUSTERING_STATE = "identity.clustering_state"
PASS_CANDIDATES = "identity.pass_candidates"
NAME_COUNTS = "identity.name_counts"
# Edges the passes and decisions add after the links; the others are the links, compared with the last run's.
ADDED_RULES = ("household", "best_link", "must_link")
_IDENTITY_CODE = Path(__file__).resolve().parent


@dataclass
class Region:
    keys: pl.Series | None  # the records to cluster again; None: all of them
    reason: str  # why all (a fallback), or how many records and seeds

    @property
    def whole(self) -> bool:
        return self.keys is None


def clustering_signature(con: duckdb.DuckDBPyConnection, config: CdpConfig) -> str:
    """What the clustering of every record depends on besides the records, links and candidates:
    the identity settings, the sources' minimum ages (declared or read from the records: MIN_AGES_TABLE,
    written by this run), the identity code and the nickname lists."""
    settings = {
        "match_threshold": config.match_threshold, "veto_weight": config.veto_weight,
        "ambiguity_margin": config.ambiguity_margin, "best_link_min_probability": config.best_link_min_probability,
        "household_safe": str(config.household_safe),
        "one_record_per_person": {source.name: source.one_record_per_person for source in config.sources},
        "min_age": dict(con.execute(f"select source, min_age from {MIN_AGES_TABLE} order by source").fetchall()),
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in sorted(_IDENTITY_CODE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    for table in NICKNAME_TABLES:
        digest.update(repr(con.execute(f"select count(*), bit_xor(hash(t)) from {table} as t").fetchall()).encode())
    return digest.hexdigest()


def why_not_a_region(con: duckdb.DuckDBPyConnection, signature: str, verdicts: dict[str, bool], household_safe: bool,
                     decisions: pl.DataFrame) -> str | None:
    """Why every record must be clustered again (what the clustering reads over all records
    differs from the last run), or None."""
    stored = ("person_map", "edges", "decisions", "one_record_sources", "household_safety", "clustering_state",
              "pass_candidates", "name_counts")
    missing = [name for name in stored if not table_exists(con, "identity", name)]
    if missing:
        return f"nothing stored to compare with ({', '.join(missing)})"
    if [row[0] for row in con.execute(f"select signature from {CLUSTERING_STATE}").fetchall()] != [signature]:
        return "the identity settings, the sources' minimum ages, the identity code or the nickname lists changed"
    if dict(con.execute("select source, one_record_per_person from identity.one_record_sources").fetchall()) != verdicts:
        return "a source's duplicate-free verdict changed"
    if con.execute("select safe from identity.household_safety").fetchall() != [(household_safe,)]:
        return "household safety changed"
    columns = ["decision", "record_key", "linked_record_key", "status"]
    before = con.sql(f"select {', '.join(columns)} from identity.decisions").pl()
    if not before.sort(columns).equals(decisions.select(columns).sort(columns)):
        return "the identity decisions changed"
    return None


def changed_edge_ends(con: duckdb.DuckDBPyConnection, edges: pl.DataFrame) -> pl.Series:
    """Records at either end of a link (record_key, linked_record_key, rule) that is new, or
    that the last run had (identity.edges) and this one has not."""
    con.register("current_links", edges.select("record_key", "linked_record_key", "rule").to_arrow())
    try:
        listed = ", ".join(f"'{rule}'" for rule in ADDED_RULES)
        return _ends(con, "select record_key, linked_record_key, rule from current_links",
                     f"select record_key, linked_record_key, rule from identity.edges where rule not in ({listed})")
    finally:
        con.unregister("current_links")


def changed_candidate_ends(con: duckdb.DuckDBPyConnection, candidates: pl.DataFrame) -> pl.Series:
    """Records at either end of a pass candidate (record_key, linked_record_key, pass) that
    is new or gone since the last run (identity.pass_candidates)."""
    con.register("current_candidates", candidates.to_arrow())
    try:
        return _ends(con, "select record_key, linked_record_key, pass from current_candidates",
                     f"select record_key, linked_record_key, pass from {PASS_CANDIDATES}")
    finally:
        con.unregister("current_candidates")


def _ends(con: duckdb.DuckDBPyConnection, now: str, before: str) -> pl.Series:
    """Both ends of the rows in one of the two queries but not the other."""
    return con.sql(
        f"""with changed as (({now} except {before}) union all ({before} except {now}))
        select record_key from changed union select linked_record_key from changed"""
    ).pl()["record_key"]


def name_counts_sql(records: str) -> str:
    """How often each name is written as a first name and as a last name (what the conflict rule
    counts), by a hash of the name: no name is stored (an erased person's rare name would stay)."""
    return f"""
        select name, sum(first_count)::bigint as first_count, sum(last_count)::bigint as last_count from (
            select hash(first_name_norm) as name, 1 as first_count, 0 as last_count from {records} where first_name_norm is not null
            union all
            select hash(last_name_norm), 0, 1 from {records} where last_name_norm is not null
        ) group by name"""


def records_of_moved_names(con: duckdb.DuckDBPyConnection, records: str) -> pl.Series:
    """Records whose first name's frequency class, as the conflict rule reads it, moved since the
    last run (identity.name_counts): known or not, written more as a first or a last name, or
    TYPO_FREQUENCY_RATIO times rarer than a name spelled alike (TYPO_SIMILARITY) or not. Only
    names of this run's records count: the rule compares no other."""
    con.execute(f"create or replace temp table name_counts_now as {name_counts_sql(records)}")
    try:
        con.execute(
            f"""create or replace temp table name_counts_both as
            select coalesce(n.name, b.name) as name,
                   coalesce(b.first_count, 0) as before, coalesce(n.first_count, 0) as now,
                   coalesce(b.last_count, 0) as last_before, coalesce(n.last_count, 0) as last_now
            from name_counts_now as n full join {NAME_COUNTS} as b on b.name = n.name"""
        )
        names = con.sql(f"select record_key from {records} where hash(first_name_norm) in ({_moved_names_sql(records)})").pl()
        return names["record_key"]
    finally:
        con.execute("drop table if exists name_counts_both")
        con.execute("drop table if exists name_counts_now")


def _moved_names_sql(records: str) -> str:
    """SQL of the name hashes whose class moved (table name_counts_both: name, before, now, last_before, last_now)."""
    ratio = TYPO_FREQUENCY_RATIO
    # A ratio can only flip against a name whose count lies between the moved count's two values
    # divided, or multiplied, by the ratio: range joins.
    near = " union all ".join(
        f"""select m.name as moved, o.name as other from moved as m join name_counts_both as o
            on o.{count} >= {low} and o.{count} <= {high}"""
        for count in ("before", "now")
        for low, high in ((f"least(m.before, m.now) / {ratio}", f"greatest(m.before, m.now) / {ratio}"),
                          (f"least(m.before, m.now) * {ratio}", f"greatest(m.before, m.now) * {ratio}"))
    )
    rarer = {state: f"greatest(m.{state}, o.{state}) >= {ratio} * least(m.{state}, o.{state})" for state in ("before", "now")}
    spellings = ("first_name_norm", "first_name_canonical")
    similarity = "greatest(" + ", ".join(f"jaro_winkler_similarity(a.{x}, b.{y})" for x in spellings for y in spellings) + ")"
    return f"""
        with moved as (select * from name_counts_both where before <> now),
        near as ({near}),
        flipped as (
            select distinct near.moved, near.other from near
            join name_counts_both as m on m.name = near.moved join name_counts_both as o on o.name = near.other
            where ({rarer["before"]}) <> ({rarer["now"]})
        ),
        spellings as (
            select distinct hash(first_name_norm) as name, first_name_norm, first_name_canonical
            from {records} where first_name_norm is not null
        )
        select f.moved from flipped as f join spellings as a on a.name = f.moved join spellings as b on b.name = f.other
        where {similarity} >= {TYPO_SIMILARITY}
        union
        select name from name_counts_both
        where (before >= {KNOWN_NAME_COUNT}) <> (now >= {KNOWN_NAME_COUNT}) or (before > last_before) <> (now > last_now)"""


def closure(keys: pl.Series, seeds: pl.Series, connections: list[pl.DataFrame], groups: list[pl.DataFrame]) -> pl.Series:
    """The keys connected to a seed through `connections` (frames of record_key, linked_record_key)
    and `groups` (frames of record_key, group: the records of one group are connected). Keys not in
    `keys` are ignored."""
    index = pl.DataFrame({"record_key": keys}).with_row_index("node").with_columns(pl.col("node").cast(pl.Int64))
    linked = index.rename({"record_key": "linked_record_key", "node": "linked_node"})
    ends = [frame.select("record_key", "linked_record_key").join(index, on="record_key").join(linked, on="linked_record_key")
            .select("node", "linked_node") for frame in connections]
    nodes = index.height
    for frame in groups:  # each group is a node of its own, after the records and the groups before
        members = frame.join(index, on="record_key").select("node", pl.col("group").rank("dense").cast(pl.Int64).alias("rank"))
        ends.append(members.select("node", (pl.col("rank") - 1 + nodes).alias("linked_node")))
        nodes += int(members["rank"].max() or 0)
    ends = pl.concat(ends)
    labels = components(nodes, ends["node"].to_numpy(), ends["linked_node"].to_numpy())
    seed_nodes = index.join(pl.DataFrame({"record_key": seeds.unique()}), on="record_key")["node"].to_numpy()
    reached = np.isin(labels[: index.height], labels[seed_nodes])
    return index.filter(pl.Series(reached))["record_key"]


def write_clustering_state(con: duckdb.DuckDBPyConnection, records: str, signature: str, candidates: pl.DataFrame) -> None:
    """What the next incremental run compares with (inside the caller's transaction)."""
    con.execute(f"create or replace table {CLUSTERING_STATE} as select ? as signature", [signature])
    con.register("new_pass_candidates", candidates.to_arrow())
    try:
        con.execute(f"create or replace table {PASS_CANDIDATES} as select * from new_pass_candidates order by all")
    finally:
        con.unregister("new_pass_candidates")
    con.execute(f"create or replace table {NAME_COUNTS} as {name_counts_sql(records)}")
