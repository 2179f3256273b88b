"""Resolve identity records into persons and write the identity tables.

Reads `intermediate.int_identity__records` and `intermediate.int_identity__links`
(built by dbt), adds Splink links and vetoes (identity.graph), clusters the
graph, and writes in one transaction:
- identity.person_map: exactly one row per identity record, with its person_id (run_id and
  resolved_at: the run that last clustered the record; an incremental run writes its region's rows);
- identity.edges: every link with its rule or match weights, vetoed ones flagged;
- identity.id_history: person id merges, splits and creations, per run;
- identity.one_record_sources: the sources treated as one record per person, and why;
- identity.household_safety: whether the records hold households (identity.households), and why;
- identity.scored_pairs, record_fingerprints, scoring_state: what Splink scored, which
  the next incremental run reuses (identity.incremental);
and, before clustering, identity.record_phonetics: the first-name sound-alike key of each
  record with one, which the conflict rule reads (here and in the identity gate), and
  identity.source_min_ages: each source's minimum age, declared or read from the records
  (identity.source_ages), which the conflict rule reads too.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

import duckdb
import polars as pl

from dagster_project.config import CdpConfig
from dagster_project.identity.best_links import BEST_LINK_RULE, best_link_candidates, best_link_pass
from dagster_project.identity.clusters import assign_person_ids, components, edge_nodes
from dagster_project.identity.conflicts import separate_conflicts
from dagster_project.identity.decisions import Decisions, must_link_edges, resolve_decisions
from dagster_project.identity.graph import (
    FINGERPRINTS_TABLE,
    RECORDS_TABLE,
    SCORES_TABLE,
    IdentityGraph,
    Scorer,
    attach_bare_records,
    build_graph,
    comparison_columns,
)
from dagster_project.identity.household_pass import HOUSEHOLD_RULE, candidate_pairs, household_pass
from dagster_project.identity.households import (
    decided_household_safety,
    household_safety,
    last_household_safety,
    write_household_safety,
)
from dagster_project.identity.incremental import FINGERPRINTS, ScoringPlan, write_scoring_state
from dagster_project.identity.one_per_person import duplicate_free_sources
from dagster_project.identity.phonetic import write_record_phonetics
from dagster_project.identity.region import (
    Region,
    changed_candidate_ends,
    changed_edge_ends,
    closure,
    clustering_signature,
    records_of_moved_names,
    why_not_a_region,
    write_clustering_state,
)
from dagster_project.identity.source_ages import source_min_ages, write_min_ages
from dagster_project.identity.splink_model import train_model
from dagster_project.identity.splink_settings import has_address_parts, has_household_levels
from dagster_project.identity.step_times import StepTimes
from dagster_project.warehouse import PYTHON_HEAVY_SHARE, memory_share, table_exists

IDENTITY_DDL = """
create schema if not exists identity;
create table if not exists identity.id_history (
    event varchar not null,            -- merge | split | create
    old_person_ids varchar[] not null,
    person_id varchar not null,
    records bigint not null,
    run_id varchar,
    recorded_at timestamp not null
);
create table if not exists identity.accepted_conflicts (
    record_key varchar not null,       -- joined despite a conflict (identity.conflicts: sole links, household_safe false);
    linked_record_key varchar not null, -- keyed as the edges, so erasure finds them
    reason varchar not null
);
"""


@dataclass
class IdentityReport:
    records: int
    persons: int
    links: int
    links_by_rule: dict[str, int]
    vetoed_links: int
    match_weights: list[float]
    largest_cluster: int
    cluster_size_counts: dict[int, int]
    merges: int
    splits: int
    created: int
    conflicted_clusters: int = 0  # clusters the links alone would have made that held conflicting records
    refused_links: int = 0  # links refused because they would join conflicting records
    ambiguous_links: int = 0  # links of records with little evidence to several persons, left for review
    decisions_applied: int = 0  # human must-link / cannot-link decisions in force
    decisions_unknown: list = field(default_factory=list)  # decisions naming a record that is not an identity record
    crowded_clusters: int = 0  # clusters the links alone would have made that held two records of a duplicate-free source
    one_record_sources: dict = field(default_factory=dict)  # source -> why it is treated as one record per person
    household_safety: str = ""  # whether first-name and birth-date conflicts are refused, and why (identity.households)
    min_ages: dict = field(default_factory=dict)  # source -> its people's minimum age, and why (identity.source_ages)
    accepted_conflicts: int = 0  # conflicting pairs joined: sole links of duplicate-free sources, or household_safe false
    household_joins: int = 0  # persons joined into another by the household pass (identity.household_pass)
    best_link_joins: int = 0  # persons joined into another by the best-link pass (identity.best_links)
    scoring: str = ""  # full or incremental Splink scoring, and why
    pairs_scored: int = 0  # scored pairs kept (identity.scored_pairs), reused ones included
    region: str = ""  # the records clustered again (all, and why, or an incremental run's region: identity.region)
    step_seconds: dict = field(default_factory=dict)  # wall-clock seconds per sub-step (identity.step_times)


# Why the Splink model is trained (training_needed), besides being missing or asked for.
NO_HOUSEHOLDS = "the model has household levels, and the records hold no households"
HOUSEHOLDS = "the model counts the parts of an address apart, and the records hold households"


def ensure_model(con: duckdb.DuckDBPyConnection, config: CdpConfig, retrain: bool = False) -> dict | None:
    """Train the Splink model when it is missing (or asked to), or when it was trained for the other
    household safety (identity.households): household levels where safety is off, the parts of an
    address apart where it is on; else reuse it."""
    why = training_needed(con, config, retrain)
    return _train_for(con, config, why) if why else None


def training_needed(con: duckdb.DuckDBPyConnection, config: CdpConfig, retrain: bool = False) -> str | None:
    """Why the Splink model must be trained now, or None when the saved one serves."""
    if not config.identity_model.exists():
        return "no saved model"
    if retrain:
        return "asked to retrain"
    model = json.loads(config.identity_model.read_text())
    if has_household_levels(model) and not _household_safe(con, config):
        return NO_HOUSEHOLDS
    if has_address_parts(model) and _household_safe(con, config):
        return HOUSEHOLDS
    return None


def _train_for(con: duckdb.DuckDBPyConnection, config: CdpConfig, why: str) -> dict:
    """Train for the reason training_needed gave: without household levels when that was their
    needlessness (decided already), else as household safety reads the records now."""
    config.identity_model.parent.mkdir(parents=True, exist_ok=True)
    household_levels = False if why == NO_HOUSEHOLDS else decided_household_safety(con, config, RECORDS_TABLE).safe
    return train_model(con, RECORDS_TABLE, config.identity_model, household_levels=household_levels)


def _household_safe(con: duckdb.DuckDBPyConnection, config: CdpConfig) -> bool:
    """Household safety as configured, or (auto) as the last resolution read it from the records
    (before any ran: read now)."""
    if isinstance(config.household_safe, bool):
        return config.household_safe
    safe = last_household_safety(con)
    return safe if safe is not None else decided_household_safety(con, config, RECORDS_TABLE).safe


# What resolve_identities reports done, in order, to its `done` callback (progress of a long step).
RESOLVE_STAGES = ["scored pairs (Splink) into a graph", "attached partial records, applied decisions",
                  "separated conflicting records, joined households", "assigned person ids", "wrote identity tables"]


def resolve_identities(con: duckdb.DuckDBPyConnection, config: CdpConfig, run_id: str = "",
                       done: Callable[[str], None] = lambda stage: None, full: bool = True,
                       scorer: Scorer | None = None) -> IdentityReport:
    """Cluster every identity record; unless `full`, Splink scores only the pairs of new or
    changed records (identity.incremental), and only the records a change can reach are clustered
    again (identity.region), unless what the clustering reads over all records changed.
    `scorer` replaces Splink on DuckDB (graph.Scorer), e.g. with Splink on Spark (identity.spark_scoring).

    At 1,000,000 people the records, links and edges are GBs each: every frame is dropped (del)
    once used, and the widest data (scores, fingerprints, the edges' comparison columns) stays in
    DuckDB (graph.SCORES_TABLE, FINGERPRINTS_TABLE). Splink's scoring has DuckDB's usual memory
    limit (Python holds little then); the clustering after it, whose Python side is large, a lower one."""
    with _cyclic_gc_paused():
        return _resolve(con, config, run_id, done, full, scorer)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off for the step. Its passes over the step's many small objects (Splink's
    SQL trees, the clustering's sets and lists) cost 2 s of 26 at 1,046,857 records (median of 5 runs
    each; peak memory the same): reference counting frees nearly all of them without it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _resolve(con: duckdb.DuckDBPyConnection, config: CdpConfig, run_id: str, done: Callable[[str], None], full: bool,
             scorer: Scorer | None) -> IdentityReport:
    con.execute(IDENTITY_DDL)
    if not config.identity_model.exists():
        raise FileNotFoundError(f"no identity model at {config.identity_model}: run `cdp identity train` (or the identity/model asset)")
    times = StepTimes()
    graph = build_graph(
        con, config.identity_model, match_threshold=config.match_threshold, veto_weight=config.veto_weight, full=full,
        scorer=scorer, times=times,
    )
    done(RESOLVE_STAGES[0])
    with times.step("source minimum ages"):
        declared = {source.name: source.min_age for source in config.sources if source.has_identity_records}
        links = graph.edges.select("record_key", "linked_record_key", "vetoed").filter(~pl.col("vetoed"))
        min_ages = source_min_ages(con, RECORDS_TABLE, links, declared)
        del links
        write_min_ages(con, min_ages)
    with memory_share(con, PYTHON_HEAVY_SHARE):
        report = _cluster_and_write(con, config, run_id, done, graph, times)
    report.step_seconds = times.seconds
    report.min_ages = {v.source: f"{v.min_age} ({v.reason})" for v in min_ages if v.min_age}
    return report


def _cluster_and_write(con: duckdb.DuckDBPyConnection, config: CdpConfig, run_id: str, done: Callable[[str], None],
                       graph: IdentityGraph, times: StepTimes) -> IdentityReport:
    # The links before any pass, which the region of an incremental run compares with the last run's.
    links = graph.edges.select("record_key", "linked_record_key", "rule", "vetoed") if graph.plan.incremental else None
    with times.step("attach partial records, decisions"):
        records, edges, clusters, decisions = _attach_and_decide(con, config, graph)
    done(RESOLVE_STAGES[1])
    with times.step("record phonetics, households"):
        write_record_phonetics(con, RECORDS_TABLE)
        safety = household_safety(con, config, RECORDS_TABLE)
    with times.step("one record per person sources"):
        declared = {source.name: source.one_record_per_person for source in config.sources}
        verdicts = duplicate_free_sources(records, edges, declared)
        one_record_sources = {v.source: v.reason for v in verdicts if v.one_per_person}
        one_per_person = records.filter(pl.col("source").is_in(list(one_record_sources))).select("record_key", "source")
    with times.step("pass candidates"):
        best_candidates = best_link_candidates(con, RECORDS_TABLE, config.identity_model, list(one_record_sources),
                                               floor=config.best_link_min_probability, threshold=config.match_threshold)
        household_pairs = candidate_pairs(con, RECORDS_TABLE)
        pass_candidates = _pass_candidates(household_pairs, best_candidates)
    with times.step("region seeds"):
        signature = clustering_signature(con, config)
    # The links before any pass: the clusters they make and the links the attachment vetoed.
    region = _region(con, graph.plan, signature, records, links, edges, clusters, decisions,
                     {v.source: v.one_per_person for v in verdicts}, safety.safe, pass_candidates, times)
    del links
    full_records = records.filter(pl.col("is_full"))["record_key"]
    del records
    outside_edges = None
    if not region.whole:
        in_region = region.keys.implode()
        left_in, right_in = pl.col("record_key").is_in(in_region), pl.col("linked_record_key").is_in(in_region)
        # An edge with one end in the region is a vetoed one between two persons, which no pass changes.
        outside_edges = edges.filter(left_in != right_in)
        edges = edges.filter(left_in & right_in)
        clusters = clusters.filter(left_in)
        one_per_person = one_per_person.filter(left_in)
        best_candidates = best_candidates.filter(left_in)
        household_pairs = household_pairs.filter(pl.col("record_key_l").is_in(in_region))
    with times.step("conflicts"):
        separation = separate_conflicts(
            con, RECORDS_TABLE, edges, clusters, full_records,
            margin=config.ambiguity_margin, cannot_link=decisions.cannot_link, household_safe=safety.safe,
            one_per_person=one_per_person,
        )
    edges, clusters = separation.edges, separation.clusters
    accepted = separation.accepted
    counts = _separation_counts(separation)
    del separation
    with times.step("best-link pass"):
        edges, clusters, best_link_joins, accepted_by_best_links, best_link_scores = best_link_pass(
            con, RECORDS_TABLE, best_candidates, edges, clusters, one_per_person,
            full_records=full_records, margin=config.ambiguity_margin,
            household_safe=safety.safe, cannot_link=decisions.cannot_link)
    del best_candidates, full_records
    accepted = pl.concat([accepted, accepted_by_best_links], how="vertical_relaxed")
    with times.step("household pass"):
        edges, clusters, household_joins = household_pass(
            con, RECORDS_TABLE, edges, clusters, one_per_person, cannot_link=decisions.cannot_link, pairs=household_pairs)
    del one_per_person, household_pairs
    if outside_edges is not None:
        edges = pl.concat([edges, outside_edges], how="vertical")
    done(RESOLVE_STAGES[2])
    with times.step("person ids"):
        previous = (
            con.sql("select record_key, person_id, cluster_size from identity.person_map").pl()
            if table_exists(con, "identity", "person_map")
            else None
        )
        # Only the region's clusters: claims on a previous id come from the region alone, as no
        # previous person straddles it (identity.region); new ids follow every previous one.
        assignment = assign_person_ids(clusters, None if previous is None else previous.select("record_key", "person_id"))
        # Only the region's records when incremental: the others keep their stored rows.
        person_map = assignment.person_map
    del clusters, previous
    done(RESOLVE_STAGES[3])
    with times.step("write tables"):
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        history = assignment.history.with_columns(pl.lit(run_id).alias("run_id"), pl.lit(now).alias("recorded_at"))

        con.execute("begin transaction")
        try:
            if not region.whole:
                _forget_region(con, region.keys)
            _write_person_map(con, person_map, run_id, now, replace=region.whole)
            con.register("new_decisions", decisions.table.to_arrow())
            con.execute("create or replace table identity.decisions as select * from new_decisions")
            con.register("new_one_record_sources", pl.DataFrame(
                [(v.source, v.one_per_person, v.reason) for v in verdicts], schema=["source", "one_record_per_person", "reason"], orient="row",
            ).to_arrow())
            con.execute("create or replace table identity.one_record_sources as select * from new_one_record_sources")
            write_household_safety(con, safety)
            _write_edges(con, edges, graph.comparisons, run_id, replace=region.whole, best_link_scores=best_link_scores)
            del edges, best_link_scores
            con.register("new_accepted_conflicts", accepted.to_arrow())
            if region.whole:
                con.execute("delete from identity.accepted_conflicts")
            con.execute("insert into identity.accepted_conflicts select record_key_l, record_key_r, reason from new_accepted_conflicts")
            write_scoring_state(con, SCORES_TABLE, FINGERPRINTS_TABLE, graph.signature, incremental=graph.plan.incremental)
            write_clustering_state(con, RECORDS_TABLE, signature, pass_candidates)
            if history.height:
                con.register("new_history", history.to_arrow())
                con.execute("insert into identity.id_history by name select * from new_history")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        finally:
            for name in ("new_person_map", "new_decisions", "new_one_record_sources", "new_edges", "new_accepted_conflicts",
                         "new_history", "region_keys"):
                try:
                    con.unregister(name)
                except Exception:
                    pass
            for table in (SCORES_TABLE, FINGERPRINTS_TABLE):
                con.execute(f"drop table if exists {table}")
        link_counts = _link_counts(con)
        done(RESOLVE_STAGES[4])

    del person_map
    records, persons, largest = con.execute(
        "select count(*), count(distinct person_id), coalesce(max(cluster_size), 0) from identity.person_map").fetchall()[0]
    sizes = dict(con.execute(
        "select cluster_size, count(distinct person_id) from identity.person_map group by cluster_size order by cluster_size").fetchall())
    events = history["event"].value_counts() if history.height else pl.DataFrame({"event": [], "count": []})
    event_counts = dict(zip(events["event"].to_list(), events["count"].to_list()))
    return IdentityReport(
        records=records,
        persons=persons,
        **link_counts,
        largest_cluster=int(largest),
        cluster_size_counts=sizes,
        merges=event_counts.get("merge", 0),
        splits=event_counts.get("split", 0),
        created=event_counts.get("create", 0),
        **counts,
        decisions_applied=decisions.table.height - decisions.unknown.height,
        decisions_unknown=decisions.unknown.select("decision", "record_key", "linked_record_key").rows(),
        one_record_sources=one_record_sources,
        household_safety=safety.reason,
        accepted_conflicts=con.execute("select count(*) from identity.accepted_conflicts").fetchall()[0][0],
        household_joins=household_joins,
        best_link_joins=best_link_joins,
        scoring=_scoring_summary(graph.plan),
        pairs_scored=graph.pairs_scored,
        region=region.reason,
    )


def _pass_candidates(household_pairs: pl.DataFrame, best_candidates: pl.DataFrame) -> pl.DataFrame:
    """The pairs the household and best-link passes may join: record_key, linked_record_key, pass."""
    return pl.concat([
        household_pairs.select(pl.col("record_key_l").alias("record_key"), pl.col("record_key_r").alias("linked_record_key"),
                               pl.lit(HOUSEHOLD_RULE).alias("pass")),
        best_candidates.select("record_key", "linked_record_key", pl.lit(BEST_LINK_RULE).alias("pass")),
    ])


def _region(con: duckdb.DuckDBPyConnection, plan: ScoringPlan, signature: str, records: pl.DataFrame, links: pl.DataFrame,
            edges: pl.DataFrame, clusters: pl.DataFrame, decisions: Decisions, verdicts: dict[str, bool],
            household_safe: bool, pass_candidates: pl.DataFrame, times: StepTimes) -> Region:
    """The records to cluster again (identity.region): all on a full run or a fallback, else those a
    change can reach. `links` are the edges before any pass; `edges` and `clusters` those once the
    partial records are attached and the must-links joined: with the links the attachment vetoed,
    the clusters join what every link before the passes joins."""
    if not plan.incremental:
        return Region(None, f"all records: full scoring ({plan.reason})")
    with times.step("region seeds"):
        why = why_not_a_region(con, signature, verdicts, household_safe, decisions.table)
        if why:
            return Region(None, f"all records: {why}")
        seeds = {
            "new or changed": con.sql(f"select record_key from {FINGERPRINTS_TABLE} anti join {FINGERPRINTS} using (record_key, fingerprint)"
                                      ).pl()["record_key"],
            "ends of links new or gone": changed_edge_ends(con, links),
            "ends of pass candidates new or gone": changed_candidate_ends(con, pass_candidates),
            "of first names whose frequency class moved": records_of_moved_names(con, RECORDS_TABLE),
        }
    with times.step("region closure"):
        vetoed_by_attachment = edges.head(links.height).filter(pl.col("vetoed") & ~links["vetoed"])
        previous = con.sql("select record_key, person_id as group from identity.person_map").pl()
        keys = closure(records["record_key"], pl.concat(list(seeds.values())).unique(),
                       [vetoed_by_attachment, pass_candidates], [clusters.rename({"cluster": "group"}), previous])
    counts = ", ".join(f"{found.len()} {why}" for why, found in seeds.items())
    return Region(keys, f"{keys.len()} of {records.height} records, reached from these records: {counts}")


def _write_person_map(con: duckdb.DuckDBPyConnection, person_map: pl.DataFrame, run_id: str, now: datetime,
                      replace: bool) -> None:
    """identity.person_map: the rows of `person_map` (record_key, person_id, cluster_size) with their
    records' source keys, this run's id and time; unless `replace`, added to the stored rows."""
    con.register("new_person_map", _arrow(person_map))
    try:
        con.execute(
            f"""{"create or replace table identity.person_map as" if replace else "insert into identity.person_map"}
            select r.record_key, r.source, r.source_record_id, p.person_id, cast(p.cluster_size as bigint) as cluster_size,
                   ? as run_id, cast(? as timestamp) as resolved_at
            from {RECORDS_TABLE} as r join new_person_map as p on p.record_key = r.record_key""",
            [run_id, now],
        )
    finally:
        con.unregister("new_person_map")


def _forget_region(con: duckdb.DuckDBPyConnection, keys: pl.Series) -> None:
    """Delete the stored person map rows, edges and accepted conflicts of the region's records and
    of records gone (inside the caller's transaction): the region's are written again. Every stored
    edge and conflict is of records the last run's person map holds, so the records gone are those."""
    con.register("region_keys", pl.DataFrame({"record_key": keys}).to_arrow())
    try:
        con.execute(f"""create or replace temp table forgotten_records as
            select record_key from region_keys
            union all
            (select record_key from identity.person_map anti join {RECORDS_TABLE} using (record_key))""")
    finally:
        con.unregister("region_keys")
    forgotten = "(select record_key from forgotten_records)"
    for table in ("identity.edges", "identity.accepted_conflicts"):
        con.execute(f"delete from {table} where record_key in {forgotten} or linked_record_key in {forgotten}")
    con.execute(f"delete from identity.person_map where record_key in {forgotten}")
    con.execute("drop table forgotten_records")


def _link_counts(con: duckdb.DuckDBPyConnection) -> dict:
    """The report's figures on the links (unvetoed edges) of identity.edges as written: all of them,
    also after an incremental run, which wrote only the region's."""
    by_rule = dict(con.execute("select rule, count(*) from identity.edges where not vetoed group by rule order by rule").fetchall())
    count = sum(by_rule.values())
    return {
        "links": count,
        "links_by_rule": by_rule,
        "vetoed_links": con.execute("select count(*) from identity.edges where vetoed").fetchall()[0][0],
        "match_weights": [row[0] for row in con.execute(
            "select match_weight from identity.edges where not vetoed and rule = 'splink'").fetchall()],
    }


def _attach_and_decide(con: duckdb.DuckDBPyConnection, config: CdpConfig, graph: IdentityGraph):
    """The records (record_key, source, is_described, is_full); the edges and clusters once the
    partial records are attached and the must-link decisions joined; the decisions."""
    records = con.sql(
        f"""select record_key, source, first_name_norm is not null or date_of_birth is not null as is_described,
                   -- fully described: a first name beyond an initial, and a date of birth
                   length(first_name_norm) > 1 and date_of_birth is not null as is_full
            from {RECORDS_TABLE}"""
    ).pl()
    edges, clusters = attach_bare_records(
        graph.edges, records.filter(pl.col("is_described"))["record_key"], records["record_key"]
    )
    graph.edges = None  # its columns the new edges do not share are freed
    decisions = resolve_decisions(config.identity_decisions, records["record_key"])
    edges, clusters = _join_must_links(edges, clusters, decisions)
    return records, edges, clusters, decisions


def _arrow(frame: pl.DataFrame):
    """The frame as Arrow for DuckDB to scan, without a copy of its strings (polars' default converts them)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def _separation_counts(separation) -> dict:
    return {name: getattr(separation, name)
            for name in ("conflicted_clusters", "refused_links", "ambiguous_links", "crowded_clusters")}


def _write_edges(con: duckdb.DuckDBPyConnection, edges: pl.DataFrame, comparisons: list[str], run_id: str,
                 replace: bool, best_link_scores: pl.DataFrame) -> None:
    """identity.edges: the edges with their pairs' comparison columns (SCORES_TABLE, or for a best
    link under the threshold `best_link_scores`, as best_link_pass returns them; none for a
    must-link decision) and the run id; unless `replace`, added to the stored ones."""
    from_best_links = set(best_link_scores.columns)
    columns = ", ".join(f"coalesce(s.{column}, b.{column}) as {column}" if column in from_best_links else f"s.{column}"
                        for column in comparison_columns(comparisons))
    con.register("new_edges", _arrow(edges))
    con.register("best_link_scores", _arrow(best_link_scores))
    try:
        con.execute(
            f"""{"create or replace table identity.edges as" if replace else "insert into identity.edges"}
            select e.*, {columns}, ? as run_id
            from new_edges as e
            left join {SCORES_TABLE} as s
              on e.rule <> 'must_link' and s.record_key = e.record_key and s.linked_record_key = e.linked_record_key
            left join best_link_scores as b
              on e.rule = '{BEST_LINK_RULE}' and b.record_key = e.record_key and b.linked_record_key = e.linked_record_key""",
            [run_id],
        )
    finally:
        con.unregister("new_edges")
        con.unregister("best_link_scores")


def _scoring_summary(plan: ScoringPlan) -> str:
    if not plan.incremental:
        return f"full ({plan.reason})"
    return f"incremental: {plan.changed_records} new or changed records scored, {plan.removed_records} gone"


def _join_must_links(edges: pl.DataFrame, clusters: pl.DataFrame, decisions: Decisions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add the must-link decisions as edges and join their records' clusters."""
    if decisions.must_link.is_empty():
        return edges, clusters
    edges = pl.concat([edges, must_link_edges(decisions, dict(edges.schema))], how="vertical")
    left, right = edge_nodes(decisions.must_link, clusters.rename({"cluster": "node"}))
    joined = components(int(clusters["cluster"].max()) + 1, left, right)
    return edges, clusters.with_columns(pl.Series("cluster", joined[clusters["cluster"].to_numpy()], dtype=pl.Int64))
