"""Conflict-aware clustering: a person never holds two records that clearly conflict.

Connected components chain people: one partial record (a tax form with no
date of birth, an initial for a first name) linked to twins, or a
same-name stranger linked to a parent, joins everyone it touches. So after
the links are drawn, every cluster is checked for records that clearly
belong to different people:
- dates of birth both known and different beyond a typo (one digit, two
  adjacent digits swapped, day and month swapped);
- first names both known and neither equal, nicknames, typos, initials nor
  swapped with the last name;
- generational suffixes both known and different (Jr / Sr);
- a human cannot-link decision.

Clusters without such a pair stay as they are. A cluster with one is built
again from its links, best first:
1. links between fully described records (first name and date of birth),
   strongest first; a link that would put two conflicting records in one
   cluster is refused (the weaker evidence loses);
2. records with little evidence (no first name or no date of birth) first
   group among themselves the same way, then each group joins the one
   person it links to best, only when that link is clearly stronger (by
   `margin` match-weight bits) than its link to any other person; otherwise
   it stays apart and its links are marked ambiguous for review.
Human must-link decisions are applied first and beat every automatic
conflict; cannot-link beats everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from dagster_project.identity.clusters import edge_nodes

# Weight of a link without a Splink score (a loyalty card, a login): an
# exact shared identifier, as strong as a near-certain Splink match.
UNSCORED_LINK_WEIGHT = 30.0
MUST_LINK_WEIGHT = float("inf")

# Two records clearly belong to different people; one SQL expression per
# reason over columns suffixed _l and _r (DuckDB functions, as Splink's).
DOB_CONFLICT = (
    "date_of_birth_l <> date_of_birth_r"
    " AND damerau_levenshtein(strftime(date_of_birth_l, '%Y%m%d'), strftime(date_of_birth_r, '%Y%m%d')) > 1"
    " AND NOT (year(date_of_birth_l) = year(date_of_birth_r)"
    " AND month(date_of_birth_l) = day(date_of_birth_r) AND day(date_of_birth_l) = month(date_of_birth_r))"
)


def _names_alike(left: str, right: str) -> str:
    """Equal, a typo (Jaro-Winkler >= 0.88) or an initial / short form of each other."""
    return (f"({left} = {right} OR jaro_winkler_similarity({left}, {right}) >= 0.88"
            f" OR starts_with({left}, {right}) OR starts_with({right}, {left}))")


# First names conflict when no spelling of one (as written, or its nickname's
# canonical form) is alike any spelling of the other, and neither is the
# other record's last name (names written the other way round): a nickname
# with a typo (jim / jmaes) is the same person.
FIRST_NAME_CONFLICT = " AND ".join(
    [f"NOT {_names_alike(f'{a}_l', f'{b}_r')}" for a in ("first_name_norm", "first_name_canonical")
     for b in ("first_name_norm", "first_name_canonical")]
    + [f"NOT coalesce({_names_alike('first_name_norm_l', 'last_name_norm_r')}, false)",
       f"NOT coalesce({_names_alike('first_name_norm_r', 'last_name_norm_l')}, false)"]
)
SUFFIX_CONFLICT = "name_suffix_l <> name_suffix_r"
CONFLICT_COLUMNS = ["record_key", "date_of_birth", "first_name_norm", "first_name_canonical", "last_name_norm", "name_suffix"]


@dataclass
class Separation:
    edges: pl.DataFrame  # the edges with refused and ambiguous links vetoed, with their reason
    clusters: pl.DataFrame  # record_key, cluster
    conflicted_clusters: int  # clusters that held conflicting records before separation
    refused_links: int
    ambiguous_links: int


def conflict_pairs(con: duckdb.DuckDBPyConnection, records: str, clusters: pl.DataFrame) -> pl.DataFrame:
    """Pairs of records in one cluster that clearly conflict: record_key_l,
    record_key_r, reason. Only clusters whose records carry more than one
    date of birth, first name or suffix are searched pairwise."""
    con.register("cluster_of_record", clusters.select("record_key", "cluster").to_arrow())
    try:
        return con.sql(
            f"""
            with members as (
                select c.cluster, {', '.join('r.' + c for c in CONFLICT_COLUMNS)}
                from cluster_of_record as c join {records} as r using (record_key)
            ),
            suspect as (
                select cluster from members group by cluster
                having count(distinct date_of_birth) > 1 or count(distinct first_name_canonical) > 1
                    or count(distinct name_suffix) > 1
            ),
            described as (
                select * from members
                where cluster in (select cluster from suspect)
                  and (date_of_birth is not null or first_name_norm is not null or name_suffix is not null)
            ),
            pairs as (
                select {', '.join(f'l.{c} as {c}_l, r.{c} as {c}_r' for c in CONFLICT_COLUMNS)}
                from described as l join described as r on l.cluster = r.cluster and l.record_key < r.record_key
            )
            select record_key_l, record_key_r,
                   case when coalesce({SUFFIX_CONFLICT}, false) then 'generational suffixes ' || name_suffix_l || ' / ' || name_suffix_r
                        when coalesce({DOB_CONFLICT}, false) then 'dates of birth ' || date_of_birth_l || ' / ' || date_of_birth_r
                        when coalesce({FIRST_NAME_CONFLICT}, false) then 'first names ' || first_name_norm_l || ' / ' || first_name_norm_r
                   end as reason
            from pairs
            where coalesce({SUFFIX_CONFLICT}, false) or coalesce({DOB_CONFLICT}, false) or coalesce({FIRST_NAME_CONFLICT}, false)
            order by record_key_l, record_key_r
            """
        ).pl()
    finally:
        con.unregister("cluster_of_record")


def separate_conflicts(
    con: duckdb.DuckDBPyConnection,
    records: str,
    edges: pl.DataFrame,
    clusters: pl.DataFrame,
    *,
    margin: float,
    cannot_link: pl.DataFrame | None = None,
) -> Separation:
    """Rebuild the clusters that hold conflicting records (see the module docstring).

    `records` is the identity records table; `edges` have record_key,
    linked_record_key, rule, match_weight, vetoed, veto_reason (a must-link
    decision is an edge of rule 'must_link'); `cannot_link` holds pairs
    (record_key, linked_record_key) a person said are different people."""
    conflicts = conflict_pairs(con, records, clusters)
    if cannot_link is not None and cannot_link.height:
        conflicts = pl.concat([conflicts, _decided_conflicts(cannot_link, clusters)], how="vertical_relaxed")
    if conflicts.is_empty():
        return Separation(edges, clusters, 0, 0, 0)

    conflicted = clusters.filter(pl.col("cluster").is_in(
        clusters.filter(pl.col("record_key").is_in(conflicts["record_key_l"].implode()))["cluster"].implode()
    ))
    nodes = conflicted.select("record_key").with_row_index("node")
    full = con.sql(
        f"select record_key, first_name_norm is not null and date_of_birth is not null as is_full from {records}"
    ).pl()
    is_full = nodes.join(full, on="record_key", how="left", maintain_order="left")["is_full"].fill_null(False).to_numpy()

    in_scope = edges.with_row_index("edge").filter(
        ~pl.col("vetoed")
        & pl.col("record_key").is_in(nodes["record_key"].implode())
        & pl.col("linked_record_key").is_in(nodes["record_key"].implode())
    )
    left, right = edge_nodes(in_scope, nodes)
    weight = _link_weights(in_scope)
    c_left, c_right = edge_nodes(conflicts.rename({"record_key_l": "record_key", "record_key_r": "linked_record_key"}), nodes)
    is_decision = (conflicts["reason"] == "cannot-link decision").to_numpy()
    outcome = cluster_without_conflicts(
        nodes.height, is_full, left, right, weight, c_left, c_right, conflicts["reason"].to_list(), is_decision, margin,
        node_names=nodes["record_key"].to_list(),
    )

    reasons = pl.Series("reason", [outcome.edge_reasons.get(i) for i in range(in_scope.height)], dtype=pl.String)
    decided = in_scope.select("edge").with_columns(reasons).drop_nulls("reason")
    edges = (
        edges.with_row_index("edge")
        .join(decided, on="edge", how="left")
        .with_columns(
            (pl.col("vetoed") | pl.col("reason").is_not_null()).alias("vetoed"),
            pl.coalesce("reason", "veto_reason").alias("veto_reason"),
        )
        .drop("edge", "reason")
    )
    first_new = int(clusters["cluster"].max()) + 1
    relabelled = nodes.select("record_key", pl.Series("new_cluster", outcome.labels + first_new, dtype=pl.Int64))
    clusters = (
        clusters.join(relabelled, on="record_key", how="left", maintain_order="left")
        .with_columns(pl.coalesce("new_cluster", "cluster").alias("cluster"))
        .drop("new_cluster")
    )
    return Separation(
        edges, clusters, conflicted["cluster"].n_unique(),
        refused_links=sum(1 for r in outcome.edge_reasons.values() if r.startswith("refused")),
        ambiguous_links=sum(1 for r in outcome.edge_reasons.values() if r.startswith("ambiguous")),
    )


def _decided_conflicts(cannot_link: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """Cannot-link decisions between records that ended up in one cluster."""
    keyed = cannot_link.select(
        pl.min_horizontal("record_key", "linked_record_key").alias("record_key_l"),
        pl.max_horizontal("record_key", "linked_record_key").alias("record_key_r"),
    )
    cluster_l = clusters.rename({"record_key": "record_key_l", "cluster": "cluster_l"})
    cluster_r = clusters.rename({"record_key": "record_key_r", "cluster": "cluster_r"})
    return (
        keyed.join(cluster_l, on="record_key_l").join(cluster_r, on="record_key_r")
        .filter(pl.col("cluster_l") == pl.col("cluster_r"))
        .select("record_key_l", "record_key_r", pl.lit("cannot-link decision").alias("reason"))
    )


def _link_weights(edges: pl.DataFrame) -> np.ndarray:
    weight = edges["match_weight"].cast(pl.Float64).fill_null(UNSCORED_LINK_WEIGHT)
    must = (edges["rule"] == "must_link").to_numpy()
    return np.where(must, MUST_LINK_WEIGHT, weight.to_numpy())


@dataclass
class ConstrainedClusters:
    labels: np.ndarray  # cluster label per node, 0..k-1
    edge_reasons: dict[int, str]  # edge position -> why it does not join (refused / ambiguous)


class _Clusters:
    """Union-find whose clusters remember which records conflict with a member."""

    def __init__(self, size: int, enemies: list[set[int]], decided_enemies: list[set[int]]):
        self.parent = list(range(size))
        self.members = [[node] for node in range(size)]
        self.enemies = enemies
        self.decided = decided_enemies

    def find(self, node: int) -> int:
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def conflict(self, a: int, b: int, decided_only: bool = False) -> bool:
        """Whether clusters (roots) a and b hold two records that conflict."""
        small, large = (a, b) if len(self.members[a]) <= len(self.members[b]) else (b, a)
        enemies = self.decided[large] if decided_only else self.enemies[large]
        return any(member in enemies for member in self.members[small])

    def union(self, a: int, b: int) -> int:
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a].extend(self.members[b])
        self.enemies[a] |= self.enemies[b]
        self.decided[a] |= self.decided[b]
        self.members[b], self.enemies[b], self.decided[b] = [], set(), set()
        return a


def cluster_without_conflicts(
    nodes: int,
    is_full: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    conflict_left: np.ndarray,
    conflict_right: np.ndarray,
    conflict_reasons: list[str],
    is_decision: np.ndarray,
    margin: float,
    node_names: list[str] | None = None,
) -> ConstrainedClusters:
    """Best-first clustering of `nodes` records over links left[i]-right[i]
    of weight[i], never joining two records of a conflict pair (see the
    module docstring). Pure: numbers in, labels and reasons out."""
    name = (lambda n: node_names[n]) if node_names else str
    enemies: list[set[int]] = [set() for _ in range(nodes)]
    decided: list[set[int]] = [set() for _ in range(nodes)]
    why: dict[tuple[int, int], str] = {}
    for a, b, reason, by_person in zip(conflict_left.tolist(), conflict_right.tolist(), conflict_reasons, is_decision.tolist()):
        enemies[a].add(b)
        enemies[b].add(a)
        if by_person:
            decided[a].add(b)
            decided[b].add(a)
        why.setdefault((min(a, b), max(a, b)), reason)
    uf = _Clusters(nodes, enemies, decided)
    reasons: dict[int, str] = {}

    def conflict_reason(a: int, b: int) -> str:
        members_b = set(uf.members[uf.find(b)])
        for member in uf.members[uf.find(a)]:
            for enemy in uf.enemies[uf.find(a)] & members_b:
                pair = (min(member, enemy), max(member, enemy))
                if pair in why:
                    return f"{why[pair]} ({name(pair[0])}, {name(pair[1])})"
        return "conflicting records"

    def join_best_first(edge_ids: np.ndarray, decided_only: bool) -> None:
        for edge in edge_ids[np.argsort(-weight[edge_ids], kind="stable")].tolist():
            a, b = uf.find(int(left[edge])), uf.find(int(right[edge]))
            if a == b:
                continue
            if uf.conflict(a, b, decided_only):
                reasons[edge] = f"refused: would join {conflict_reason(a, b)}"
            else:
                uf.union(a, b)

    full_left, full_right = is_full[left], is_full[right]
    must = np.isinf(weight)
    join_best_first(np.flatnonzero(must), decided_only=True)
    join_best_first(np.flatnonzero(~must & full_left & full_right), decided_only=False)
    join_best_first(np.flatnonzero(~must & ~full_left & ~full_right), decided_only=False)
    _attach_partial_groups(uf, is_full, left, right, weight, ~must & (full_left != full_right), margin, reasons, conflict_reason)

    roots = np.array([uf.find(node) for node in range(nodes)])
    _, labels = np.unique(roots, return_inverse=True)
    return ConstrainedClusters(labels, reasons)


def _attach_partial_groups(uf, is_full, left, right, weight, candidates_mask, margin, reasons, conflict_reason) -> None:
    """Each group of records with little evidence joins the one person it
    links to clearly best, or stays apart (its links marked ambiguous)."""
    has_full = {}
    for node in range(len(is_full)):
        root = uf.find(node)
        has_full[root] = has_full.get(root, False) or bool(is_full[node])
    # group root -> person root -> (best weight, edges)
    offers: dict[int, dict[int, list]] = {}
    for edge in np.flatnonzero(candidates_mask).tolist():
        a, b = uf.find(int(left[edge])), uf.find(int(right[edge]))
        if a == b:
            continue
        group, person = (b, a) if has_full[a] else (a, b)
        if has_full[group]:
            continue  # joined a person already (a must-link decision)
        best = offers.setdefault(group, {}).setdefault(person, [float("-inf"), []])
        best[0] = max(best[0], float(weight[edge]))
        best[1].append(edge)
    for group in sorted(offers, key=lambda g: -max(o[0] for o in offers[g].values())):
        ranked = []
        for person, (best, edges) in offers[group].items():
            if uf.conflict(uf.find(group), uf.find(person)):
                reason = f"refused: would join {conflict_reason(group, person)}"
                reasons.update({edge: reason for edge in edges})
            else:
                ranked.append((best, person, edges))
        ranked.sort(key=lambda r: -r[0])
        if not ranked:
            continue
        if len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= margin:
            uf.union(uf.find(group), uf.find(ranked[0][1]))
            for _, _, edges in ranked[1:]:
                reasons.update({edge: "refused: a record with little evidence joins only its best person" for edge in edges})
            continue
        reason = (f"ambiguous: a record with little evidence links to {len(ranked)} persons "
                  f"(best weights {ranked[0][0]:.1f} and {ranked[1][0]:.1f}, less than {margin:g} apart)")
        for _, _, edges in ranked:
            reasons.update({edge: reason for edge in edges})
