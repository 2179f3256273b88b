"""The household pass: the last, looser pass of census-style linkage.

The passes before it link on strong evidence and leave a record apart when it
is weak or ambiguous. What they leave is often one person written twice at one
address, with a typo or a nickname the model weighs too little and no date of
birth to make up for it: "kamil dabrowski, 1974" and "karnil dabrowski" at
152 abbey way, "kathleen flanagan" and "katie flabnagan" at 7 manor place.
Inside one household, the context that a file-wide model lacks decides:

- two records are *candidates* when they live at one address (the same house
  number, and the same postcode, or the same street and postcodes that do not
  differ), their last names are alike (equal, a typo, the same sound, one
  within the other; or unlike, when the first names are equal and the
  addresses alike: a role written as the surname, "marilyn lady", "robert
  de casa", or a surname garbled beyond a typo), their first names agree (a nickname, an initial or short
  form; the same sound or a close spelling unless both are real names, which
  are told apart strictly: john / joanne), their sexes do not differ, and
  nothing conflicts (identity.conflicts: first names, dates of birth, Jr/Sr;
  but namesakes, which are ties: a form of "john smith" is a candidate of
  the father and of Jr, so it joins neither);
- persons join only as a *clique*: a group in which every person is a
  candidate of every other and of no one outside it, so each one's only
  candidates are the others (a record that is the candidate of two persons
  who are not each other's is never a bridge between them);
- the joined person must hold no conflicting records, no two records of a
  duplicate-free source and no pair under a cannot-link decision. So a tie
  is left apart: "e taylor" with two Elizabeth Taylors at one address (their
  dates of birth conflict) joins neither.

A record needs a first name (an initial counts): a form with only a surname
and the address says nothing about which member filed it. A record without a
last name joins only a record of its very first name at an alike address.
Joins are kept as edges of rule 'household', so `cdp explain` shows them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from dagster_project.identity.clusters import components, edge_nodes
from dagster_project.identity.conflicts import (
    NAMESAKES, WEIGHED_CONFLICTS, conflict_pairs, conflict_pairs_sql, crowded_clusters, decided_conflicts, min_ages_in_force,
    optional_column, optional_columns,
)
from dagster_project.identity.decisions import rule_edges
from dagster_project.identity.phonetic import RECORD_PHONETICS, register_phonetic_keys
from dagster_project.identity.splink_prepare import expand_address_sql, house_number_sql
from dagster_project.identity.splink_settings import first_name_typo

HOUSEHOLD_RULE = "household"
# An address key shared by more records than this is a building or a placeholder, not a household.
HOUSEHOLD_CAP = 40
# A join can make a new clique (a candidate of only one of two joined persons is now a candidate of their join).
ROUNDS = 3

_CANDIDATES = "household_candidates"


# A last name that is a first name of the nickname list (a name written the other
# way round). Narrower than first_name_listed (int_identity__records), which also
# counts the other full names of shared nicknames: counting those here refused 12
# of 807 household joins at pseudopeople 5x noise for no precision gained.
LISTED_FIRST_NAMES = "select nickname from reference.nicknames union select canonical from reference.nicknames"


def _household_records_sql(records: str, present: frozenset[str]) -> str:
    """Records that can take part, with their household keys: house number with postcode, and with street."""
    address = expand_address_sql("r.address_line_norm")
    sex = optional_column("sex", present)  # a records table from before the field has none
    return f"""
        with named as (
            select r.record_key, r.first_name_norm, r.first_name_canonical, r.first_name_listed, r.last_name_norm, {sex},
                   coalesce(r.last_name_norm in ({LISTED_FIRST_NAMES}), false) as last_name_listed,
                   p.first_name_phonetic, k.phonetic as last_name_phonetic, r.postcode_norm, {address} as address
            from {records} as r
            left join {RECORD_PHONETICS} as p on p.record_key = r.record_key
            left join household_last_name_keys as k on k.name = r.last_name_norm
            where r.first_name_norm is not null and r.address_line_norm is not null
        ),
        addresses as (
            -- The house number (as Splink's preparation reads it), and the street's first letters;
            -- once per address, which several records share.
            select address, {house_number_sql("address")} as house,
                   left(trim(regexp_replace(regexp_replace(address, ' flat [0-9a-z]+', ''), '[0-9]+[a-z]?', '', 'g')), 4) as street
            from (select distinct address from named)
        ),
        parts as (select * from named join addresses using (address)),
        keyed as (
            select *, house || '|' || postcode_norm as house_postcode, house || '|' || street as house_street from parts
            where house is not null
        )
        select * exclude (house_postcode, house_street),
               case when count(*) over (partition by house_postcode) <= {HOUSEHOLD_CAP} then house_postcode end as house_postcode,
               case when count(*) over (partition by house_street) <= {HOUSEHOLD_CAP} and length(street) >= 3
                    then house_street end as house_street
        from keyed
    """


# Last names of one person: equal, a typo, the same sound, or one within the other (a double-barrelled name).
_LAST_NAMES_ALIKE = """(
    l.last_name_norm = r.last_name_norm
    or jaro_winkler_similarity(l.last_name_norm, r.last_name_norm) >= 0.88
    or l.last_name_phonetic = r.last_name_phonetic
    or contains(' ' || l.last_name_norm || ' ', ' ' || r.last_name_norm || ' ')
    or contains(' ' || r.last_name_norm || ' ', ' ' || l.last_name_norm || ' ')
)"""
# Or unlike last names, where the first names are equal (not initials) and the addresses alike, not only the house
# number and postcode: a role written as the surname (marilyn lady, robert de casa), a garbled one (riley cahenxa).
# Not when a last name is a first name of the nickname list: names written the other way round (holmwick sarah).
_SAME_FIRST_NAME_AND_ADDRESS = """(
    l.first_name_norm = r.first_name_norm and length(l.first_name_norm) > 1
    and not (l.last_name_listed or r.last_name_listed)
    and jaro_winkler_similarity(l.address, r.address) >= 0.9
)"""
# First names of one person: a nickname, or an initial or short form of the other; or, unless both are
# real names (the nickname list), the same sound or a close spelling (a typo: kamil / karnil; two letters
# wrong in a long name: ianicw / janice). Real
# names are told apart strictly, as in identity.conflicts: john / joanne, alexander / alexandra.
_FIRST_NAMES_AGREE = """(
    l.first_name_canonical = r.first_name_canonical
    or starts_with(l.first_name_norm, r.first_name_norm) or starts_with(r.first_name_norm, l.first_name_norm)
    or (not (coalesce(l.first_name_listed, false) and coalesce(r.first_name_listed, false))
        and (l.first_name_phonetic = r.first_name_phonetic
             or jaro_winkler_similarity(l.first_name_norm, r.first_name_norm) >= 0.85
             or """ + first_name_typo("l.{}", "r.{}") + """))
)"""
# One town: a street shared by two towns ("29 long avenue") is two households unless the postcodes agree.
_POSTCODES_AGREE = """(
    l.postcode_norm is null or r.postcode_norm is null or levenshtein(l.postcode_norm, r.postcode_norm) <= 1
)"""


def candidate_pairs(con: duckdb.DuckDBPyConnection, records: str) -> pl.DataFrame:
    """Record pairs (record_key_l < record_key_r) of one household that may be one person and do not conflict."""
    register_phonetic_keys(con, "household_last_name_keys", f"select last_name_norm from {records}")
    try:
        present = optional_columns(con, records)
        con.execute(f"create or replace temp table household_records as {_household_records_sql(records, present)}")
    finally:
        con.unregister("household_last_name_keys")
    try:
        joins = " union ".join(
            f"""select l.record_key as record_key_l, r.record_key as record_key_r
                from household_records as l join household_records as r
                  on l.{key} = r.{key} and l.record_key < r.record_key
                where ({_LAST_NAMES_ALIKE} or {_SAME_FIRST_NAME_AND_ADDRESS}) and {_FIRST_NAMES_AGREE} and {_POSTCODES_AGREE}
                  and (l.sex = r.sex or l.sex is null or r.sex is null)"""
            for key in ("house_postcode", "house_street")
        )
        con.execute(f"create or replace temp table {_CANDIDATES} as select row_number() over (order by record_key_l, record_key_r) as pair, * from ({joins})")
        membership = (f"select pair as grp, record_key_l as record_key from {_CANDIDATES}"
                      f" union all select pair, record_key_r from {_CANDIDATES}")
        return con.sql(
            f"""select record_key_l, record_key_r from {_CANDIDATES}
                where pair not in (select grp from ({conflict_pairs_sql(membership, records, present=present,
                                                                        min_ages=min_ages_in_force(con))})
                                   where reason not like '{NAMESAKES}%')
                order by record_key_l, record_key_r"""
        ).pl()
    finally:
        con.execute("drop table if exists household_records")
        con.execute(f"drop table if exists {_CANDIDATES}")


def _candidate_cliques(pairs: pl.DataFrame) -> pl.DataFrame:
    """The clusters whose candidates (pairs: cluster_l, cluster_r) form cliques: groups in which every
    cluster is a candidate of every other and of none outside. Returns cluster, group; clusters
    of any other shape (a chain through a record alike two others that are not alike) are left out."""
    edges = pairs.select("cluster_l", "cluster_r").unique()
    if edges.is_empty():
        return pl.DataFrame(schema={"cluster": pl.Int64, "group": pl.Int64})
    nodes = pl.concat([edges["cluster_l"], edges["cluster_r"]]).unique().sort().to_frame("cluster").with_row_index("node")
    left, right = edge_nodes(edges.rename({"cluster_l": "record_key", "cluster_r": "linked_record_key"}),
                             nodes.rename({"cluster": "record_key"}))
    labels = components(nodes.height, left, right)
    degree = np.bincount(np.concatenate([left, right]), minlength=nodes.height)
    shape = pl.DataFrame({"group": labels, "degree": degree}).group_by("group").agg(
        pl.len().alias("size"), pl.col("degree").min().alias("min_degree"))
    # n clusters, each a candidate of the n - 1 others.
    cliques = shape.filter(pl.col("min_degree") == pl.col("size") - 1)["group"]
    return (nodes.with_columns(pl.Series("group", labels, dtype=pl.Int64))
            .filter(pl.col("group").is_in(cliques.implode())).select(pl.col("cluster").cast(pl.Int64), "group"))


def _blocked_groups(con: duckdb.DuckDBPyConnection, records: str, members: pl.DataFrame,
                    one_per_person: pl.DataFrame, cannot_link: pl.DataFrame | None,
                    weighed_conflicts_allowed: bool = False) -> tuple[set[int], pl.DataFrame]:
    """Groups (members: record_key, group) whose join would hold conflicting records, two records
    of one duplicate-free source, or a pair a person said are different people: the checks
    identity.conflicts makes of a cluster, each group taken as one. With `weighed_conflicts_allowed`
    (household safety off), first names, dates of birth and sexes that differ do not block: the
    links' weights count them; those pairs are returned too (record_key_l, record_key_r, reason, group)."""
    as_clusters = members.select("record_key", pl.col("group").alias("cluster"))
    blocked = set(crowded_clusters(as_clusters, one_per_person).to_list())
    pairs = conflict_pairs(con, records, as_clusters)
    weighed = pairs.filter(pl.any_horizontal(pl.col("reason").str.starts_with(r) for r in WEIGHED_CONFLICTS))
    if weighed_conflicts_allowed:
        pairs = pairs.join(weighed, on=["record_key_l", "record_key_r"], how="anti")
    if cannot_link is not None and cannot_link.height:
        pairs = pl.concat([pairs, decided_conflicts(cannot_link, as_clusters)], how="vertical_relaxed")
    blocked |= set(pairs.join(as_clusters, left_on="record_key_l", right_on="record_key")["cluster"].to_list())
    weighed = weighed.join(as_clusters, left_on="record_key_l", right_on="record_key").rename({"cluster": "group"})
    return blocked, weighed.filter(~pl.col("group").is_in(list(blocked))) if weighed_conflicts_allowed else weighed.clear()


def _merge_groups(clusters: pl.DataFrame, groups: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Clusters (record_key, cluster) with each group's clusters (groups: cluster, group) joined
    into its first; and how many clusters were joined into another."""
    first_cluster = groups.group_by("group").agg(pl.col("cluster").min().alias("joined_cluster"))
    merged = (clusters.join(groups.join(first_cluster, on="group").select("cluster", "joined_cluster"), on="cluster",
                            how="left", maintain_order="left")
              .with_columns(pl.coalesce("joined_cluster", "cluster").alias("cluster")).drop("joined_cluster"))
    return merged, groups.height - first_cluster.height


def join_groups(con: duckdb.DuckDBPyConnection, records: str, links: pl.DataFrame, clusters: pl.DataFrame,
                one_per_person: pl.DataFrame, cannot_link: pl.DataFrame | None,
                weighed_conflicts_allowed: bool = False) -> tuple[pl.DataFrame, pl.DataFrame, int, pl.DataFrame]:
    """Join the clusters that `links` (cluster_l, cluster_r, ...) connect, each connected group whole
    or not at all (_blocked_groups). Returns the new clusters, the links of the groups joined, how
    many clusters were joined into another, and the conflicting pairs the joins bring together all
    the same (those `weighed_conflicts_allowed` lets through: record_key_l, record_key_r, reason)."""
    nodes = pl.concat([links["cluster_l"], links["cluster_r"]]).unique().sort().to_frame("record_key").with_row_index("node")
    left, right = edge_nodes(links.select(pl.col("cluster_l").alias("record_key"), pl.col("cluster_r").alias("linked_record_key")), nodes)
    groups = nodes.select(pl.col("record_key").alias("cluster"), pl.Series("group", components(nodes.height, left, right), dtype=pl.Int64))
    blocked, accepted = _blocked_groups(con, records, clusters.join(groups, on="cluster"), one_per_person, cannot_link,
                                        weighed_conflicts_allowed)
    groups = groups.filter(~pl.col("group").is_in(list(blocked)))
    kept = links.filter(pl.col("cluster_l").is_in(groups["cluster"].implode()))
    merged, joined = _merge_groups(clusters, groups)
    # Only pairs the join brings together: one a cluster already held was let through before.
    before = lambda side: clusters.rename({"record_key": f"record_key_{side}", "cluster": f"cluster_{side}"})  # noqa: E731
    brought = (accepted.join(before("l"), on="record_key_l").join(before("r"), on="record_key_r")
               .filter(pl.col("cluster_l") != pl.col("cluster_r")))
    return merged, kept, joined, brought.select("record_key_l", "record_key_r", "reason")


def household_pass(con: duckdb.DuckDBPyConnection, records: str, edges: pl.DataFrame, clusters: pl.DataFrame,
                   one_per_person: pl.DataFrame, cannot_link: pl.DataFrame | None = None,
                   pairs: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Join persons of one household that are each other's only candidates (see the module docstring).
    `clusters` is record_key, cluster after every other pass; `pairs` the candidate pairs when
    already found (candidate_pairs). Returns the edges with the household links added, the new
    clusters, and how many persons were joined into another."""
    pairs = candidate_pairs(con, records) if pairs is None else pairs
    joined = 0
    added: list[pl.DataFrame] = []
    for _ in range(ROUNDS):
        of = lambda side: clusters.rename({"record_key": f"record_key_{side}", "cluster": f"cluster_{side}"})  # noqa: E731
        open_pairs = pairs.join(of("l"), on="record_key_l").join(of("r"), on="record_key_r").filter(
            pl.col("cluster_l") != pl.col("cluster_r"))
        cliques = _candidate_cliques(open_pairs)
        if cliques.is_empty():
            break
        members = clusters.join(cliques, on="cluster")
        blocked, _ = _blocked_groups(con, records, members, one_per_person, cannot_link)
        cliques = cliques.filter(~pl.col("group").is_in(list(blocked)))
        if cliques.is_empty():
            break
        # One edge per pair of clusters joined, the first pair of records in key order (the same every run).
        group_of = cliques.rename({"cluster": "cluster_l"})
        links = (open_pairs.join(group_of, on="cluster_l")
                 .join(cliques.rename({"cluster": "cluster_r", "group": "group_r"}), on="cluster_r")
                 .filter(pl.col("group") == pl.col("group_r"))
                 .sort("record_key_l", "record_key_r")
                 .unique(["cluster_l", "cluster_r"], keep="first", maintain_order=True))
        added.append(links.select(pl.col("record_key_l").alias("record_key"), pl.col("record_key_r").alias("linked_record_key")))
        clusters, joined_now = _merge_groups(clusters, cliques)
        joined += joined_now
    if added:
        edges = pl.concat([edges, rule_edges(pl.concat(added), HOUSEHOLD_RULE, dict(edges.schema))], how="vertical")
    return edges, clusters, joined

