"""Conflict-aware clustering: a person never holds two records that clearly conflict.

Connected components chain people: one partial record (a tax form with no
date of birth, an initial for a first name) linked to twins, or a
same-name stranger linked to a parent, joins everyone it touches. So after
the links are drawn, every cluster is checked for records that clearly
belong to different people:
- dates of birth both known, in different years and different beyond a
  typo (one digit, two adjacent digits swapped);
- first names both known and neither equal, nicknames, sound-alike
  spellings (catherine / kathryn), typos, initials nor swapped with the
  last name;
- generational suffixes both known and different (Jr / Sr);
- namesakes: a suffix (Jr / Sr) on one record, none and no date of birth on
  the other, alike first and last names and no shared email or phone. A
  suffix says a namesake relative exists (a Jr has a Sr), and a record of
  that name with nothing more fits either of them: William Matthews Jr's
  census return and a loyalty card of William Matthews, same postcode,
  no date of birth, is as likely the father's;
- recorded sexes both known and different where one record has no first
  name beyond an initial: a form that says "m" is not the wife's, and
  nothing else on it tells (sexes are not compared when both first names
  are known: the names tell, and a sex typed wrong would split a person);
- ages: a record of a source that declares a minimum age (cdp.yml
  `min_age`: tax forms, benefit claims are filed by adults) and a date of
  birth that makes its holder younger than that on the record's date;
- a human cannot-link decision.
A cluster may also hold two records of one duplicate-free source (a census
return, a tax form file: identity.one_per_person), which no person can.
Between two duplicate-free sources the best link per record decides: two
records whose only link into each other's source is the one between them
(each is the other's sole candidate) are one person even when their first
names conflict (a name replaced or written in a form the nickname list does
not know). A twin would have a second candidate: the census holds both
twins. With household safety off (data without households:
identity/households.py), first names and dates of birth that differ are no
conflict at all. Such pairs are kept in
identity.accepted_conflicts, which the identity gate reads.

Clusters without such a pair stay as they are. A cluster with one is built
again from its links, best first:
1. links between fully described records (first name and date of birth),
   strongest first; a link that would put two conflicting records, or two
   records of one duplicate-free source, in one cluster is refused (the
   weaker evidence loses);
2. then the links of records with little evidence (no date of birth, no
   first name or only an initial), strongest first in one pass, so that a
   weak link between two partial records never pre-empts a strong link to
   a person: a group of such records joins at most one person, only when
   that link is clearly stronger (by `margin` match-weight bits) than its
   link to any other person it could not also join; otherwise it stays
   apart and its links are marked ambiguous for review. A person the group
   conflicts with (a census return of its own where the group holds one,
   another first name) is no rival: it could never take the group. A
   namesake is: a form fitting a father and his Jr goes to neither.
Human must-link decisions are applied first and beat every automatic
conflict; cannot-link beats everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from dagster_project.identity.clusters import edge_nodes
from dagster_project.identity.phonetic import RECORD_PHONETICS
from dagster_project.identity.source_ages import MIN_AGES_TABLE, MONTHS
from dagster_project.warehouse import table_exists

# Weight of a link without a Splink score (a loyalty card, a login): an
# exact shared identifier, as strong as a near-certain Splink match.
UNSCORED_LINK_WEIGHT = 30.0
MUST_LINK_WEIGHT = float("inf")

# Two records clearly belong to different people; one SQL expression per
# reason over columns suffixed _l and _r (DuckDB functions, as Splink's).
# Dates of birth conflict in the year, beyond one typo (a digit, two digits
# swapped): a parent and child, strangers of one name. Within one year a
# different day or month (or the two swapped) is read as a typo: people
# born the same year who share a name and an address are rarer than typos.
DOB_CONFLICT = (
    "year(date_of_birth_l) <> year(date_of_birth_r)"
    " AND damerau_levenshtein(strftime(date_of_birth_l, '%Y%m%d'), strftime(date_of_birth_r, '%Y%m%d')) > 1"
)


# A first name written at least this often in the records, or found in the
# nickname list, is a real name; a rarer one is most likely a typo.
KNOWN_NAME_COUNT = 3
# A real name this many times rarer than a near spelling of it (this Jaro-Winkler similarity) is that name's typo.
TYPO_FREQUENCY_RATIO = 20
TYPO_SIMILARITY = 0.88


def _spellings_agree(left: str, right: str) -> str:
    """Equal, or an initial / short form of each other."""
    return f"({left} = {right} OR starts_with({left}, {right}) OR starts_with({right}, {left}))"


def _alike_names(left: str, right: str, nickname_pair: str) -> str:
    """Two names, both given, alike enough to be one: close spellings, an initial, nicknames of one name."""
    return (f"({left} IS NOT NULL AND {right} IS NOT NULL AND (jaro_winkler_similarity({left}, {right}) >= 0.88"
            f" OR starts_with({left}, {right}) OR starts_with({right}, {left}) OR {nickname_pair}))")


def _alike_or_missing(left: str, right: str, nickname_pair: str) -> str:
    return f"({left} IS NULL OR {right} IS NULL OR {_alike_names(left, right, nickname_pair)})"


# Names written the other way round on one record ("smith john" / "john smith").
# The cross pairs are one record's first name with the other's last name: A is
# (first_l, last_r), B is (last_l, first_r). Which of them holds the first names
# depends on which record is swapped, which is unknown. The pair is exempt from
# the first-name conflict when one cross pair is alike and either the other is
# too (or missing), or the alike one holds a first name: its first-name field's
# name is written more often as a first name than as a last name in the records
# ("jack stanley" / "stubbs jaxck": a surname replaced). One alike cross pair of
# surnames is not enough: "john smith" / "smith jane" are twins. (The nickname
# lists cannot tell: Smith, Stanley and Taylor are first names there too.)
_CROSS_A = ("first_name_norm_l", "last_name_norm_r", "nickname_pair_first_l_last_r")
_CROSS_B = ("last_name_norm_l", "first_name_norm_r", "nickname_pair_last_l_first_r")
SWAPPED_ALIKE = (
    f"(({_alike_names(*_CROSS_A)} AND ({_alike_or_missing(*_CROSS_B)} OR written_as_first_name_l))"
    f" OR ({_alike_names(*_CROSS_B)} AND ({_alike_or_missing(*_CROSS_A)} OR written_as_first_name_r)))"
)


def _first_name_conflict() -> str:
    """First names conflict when they are not nicknames of one name (the
    nickname list) nor sound alike (identity/phonetic.py), no spelling of
    one (as written, or its canonical form) equals or abbreviates a
    spelling of the other, the names are not written the other way round
    on one record (SWAPPED_ALIKE), and
    - both are real names (mark / mary, john / joan, tom / tim), unless one
      is far rarer than the other and close to it (a frequent typo), or
    - one is rare (a likely typo: roberat, mna) and yet nothing alike: no
      spelling shares a first letter or a Jaro-Winkler of 0.7 with the other's."""
    spellings = [(f"{a}_l", f"{b}_r") for a in ("first_name_norm", "first_name_canonical")
                 for b in ("first_name_norm", "first_name_canonical")]
    similarity = "greatest(" + ", ".join(f"jaro_winkler_similarity({l}, {r})" for l, r in spellings) + ")"
    same_initial = " OR ".join(f"left({l}, 1) = left({r}, 1)" for l, r in spellings)
    known = [f"(first_name_listed_{side} OR name_count_{side} >= {KNOWN_NAME_COUNT})" for side in ("l", "r")]
    frequent_typo = (f"({similarity} >= {TYPO_SIMILARITY} AND greatest(name_count_l, name_count_r)"
                     f" >= {TYPO_FREQUENCY_RATIO} * least(name_count_l, name_count_r))")
    disagree = [f"NOT {_spellings_agree(l, r)}" for l, r in spellings]
    not_swapped = f"NOT {SWAPPED_ALIKE}"
    real_names = f"({known[0]} AND {known[1]} AND NOT {frequent_typo})"
    unlike = f"(NOT ({known[0]} AND {known[1]}) AND {similarity} < 0.7 AND NOT ({same_initial}))"
    sound_alike = "coalesce(first_name_phonetic_l = first_name_phonetic_r, false)"
    return " AND ".join(["NOT nickname_pair", f"NOT {sound_alike}", *disagree, not_swapped, f"({real_names} OR {unlike})"])


FIRST_NAME_CONFLICT = _first_name_conflict()
SUFFIX_CONFLICT = "name_suffix_l <> name_suffix_r"
# The record without a suffix has no date of birth; the names are one (nickname, typo, initial);
# no email or phone joins the two (a shared identifier says which namesake it is).
NAMESAKE_CONFLICT = (
    "(name_suffix_l IS NULL) <> (name_suffix_r IS NULL)"
    " AND (CASE WHEN name_suffix_l IS NULL THEN date_of_birth_l ELSE date_of_birth_r END) IS NULL"
    " AND (first_name_canonical_l = first_name_canonical_r OR jaro_winkler_similarity(first_name_norm_l, first_name_norm_r) >= 0.92"
    " OR (least(length(first_name_norm_l), length(first_name_norm_r)) = 1 AND left(first_name_norm_l, 1) = left(first_name_norm_r, 1)))"
    " AND jaro_winkler_similarity(last_name_norm_l, last_name_norm_r) >= 0.92"
    " AND NOT coalesce(email_l = email_r, false) AND NOT coalesce(phone_l = phone_r, false)"
)
SEX_CONFLICT = ("sex_l <> sex_r"
                " AND (coalesce(length(first_name_norm_l), 0) <= 1 OR coalesce(length(first_name_norm_r), 0) <= 1)")
# A record without a date of birth of a source whose people are at least some age (a tax form, a
# benefit claim: identity.source_ages) and a date of birth that makes its holder younger than that on
# the record's date: a parent's tax form is not his young son's. Whole months, so a birthday within
# the month is no conflict. A record's own date of birth says its age (the date-of-birth rule, which
# reads typos as typos): the minimum age stands in only for a date of birth the record lacks.
AGE_CONFLICT = " OR ".join(
    f"(date_of_birth_{a} IS NULL"
    f" AND {MONTHS.format(when=f'updated_at_{a}')} - {MONTHS.format(when=f'date_of_birth_{b}')} < 12 * min_age_{a})"
    for a, b in (("l", "r"), ("r", "l"))
)
# Of a record of such a source: the birth month that would make another record too young for it.
YOUNGEST_BIRTH_MONTH = f"CASE WHEN date_of_birth IS NULL THEN {MONTHS.format(when='updated_at')} - 12 * min_age END"
CONFLICT_COLUMNS = [
    "record_key", "date_of_birth", "first_name_norm", "first_name_canonical", "first_name_listed", "last_name_norm", "name_suffix",
    "sex", "name_count", "written_as_first_name", "first_name_phonetic", "email", "phone",
]
NAMESAKES = "namesakes"  # the reason of a NAMESAKE_CONFLICT
# Columns the conflict rules read that a records table may not have: unknown (null) where missing.
OPTIONAL_COLUMNS = frozenset({"sex", "email", "phone"})


@dataclass
class Separation:
    edges: pl.DataFrame  # the edges with refused and ambiguous links vetoed, with their reason
    clusters: pl.DataFrame  # record_key, cluster
    conflicted_clusters: int  # clusters that held conflicting records before separation
    refused_links: int
    ambiguous_links: int
    crowded_clusters: int = 0  # of them, clusters that held two records of one duplicate-free source
    accepted: pl.DataFrame | None = None  # record_key_l, record_key_r, reason: conflicts let through (_accepted_conflicts)


# The dbt seeds: a nickname's full name, and the other full name of a nickname two names share.
NICKNAME_TABLES = ("reference.nicknames", "reference.nickname_alternates")


def _nickname_pair(left: str, right: str) -> str:
    """SQL: the two names are spellings of one name in the nickname lists (CTE name_variants)."""
    return (f"exists (select 1 from name_variants as vl join name_variants as vr on vr.canonical = vl.canonical"
            f" where vl.name = {left} and vr.name = {right})")


def conflict_pairs_sql(membership: str, records: str, nicknames: tuple[str, ...] = NICKNAME_TABLES,
                       present: frozenset[str] = OPTIONAL_COLUMNS, first_names_flag: bool = False,
                       min_ages: str | None = None) -> str:
    """SQL of the pairs of records in one group that clearly conflict:
    grp, record_key_l, record_key_r, reason (the first conflict found; with
    `first_names_flag`, also whether the first names conflict and whether
    the dates of birth are the same). With `min_ages` (MIN_AGES_TABLE), a
    record of a source with a minimum age and a date of birth too young for
    it conflict too (AGE_CONFLICT). `membership` is a query or
    relation of (record_key, grp); only groups whose records carry more than
    one date of birth, first name, suffix or sex, or a suffix beside a record
    with neither a suffix nor a date of birth, are searched pairwise; only their records with
    something to conflict on take part (a bare record, a receipt or an event, never conflicts
    nor makes a group suspect in which a pair could be found: at a million retail records most
    are bare). The
    identity gate (expectations/identity_person_map.json) runs this same SQL
    over the person map. Reads RECORD_PHONETICS, written beside the person
    map by identity resolution. `present`: the OPTIONAL_COLUMNS the records
    table has (optional_columns); the others count as unknown. Name counts and sound-alike keys
    are looked up for the suspect groups' records only: at 1,000,000 people, looking them up for
    every record took most of the gate's time."""
    computed = ("name_count", "written_as_first_name", "first_name_phonetic", *OPTIONAL_COLUMNS)
    member_columns = ", ".join("r." + c for c in CONFLICT_COLUMNS if c not in computed)
    optional = ", ".join(optional_column(c, present) for c in sorted(OPTIONAL_COLUMNS))
    columns = CONFLICT_COLUMNS
    age_join = ""
    if min_ages:
        columns = [*CONFLICT_COLUMNS, "updated_at", "min_age"]
        optional += ", r.updated_at, a.min_age"
        age_join = f"left join {min_ages} as a on a.source = r.source"
    pair_columns = ", ".join(f"l.{c} as {c}_l, r.{c} as {c}_r" for c in columns)
    conflict = {  # reason: (rule, how each side's value is named)
        "generational suffixes": (SUFFIX_CONFLICT, "name_suffix_{}"),
        "dates of birth": (DOB_CONFLICT, "date_of_birth_{}"),
        "first names": (FIRST_NAME_CONFLICT, "first_name_norm_{}"),
        "sexes": (SEX_CONFLICT, "sex_{}"),
        NAMESAKES: (NAMESAKE_CONFLICT, "coalesce(name_suffix_{}, 'no suffix')"),
    }
    if min_ages:
        conflict["ages"] = (AGE_CONFLICT, "coalesce('born ' || cast(date_of_birth_{0} as varchar),"
                                          " 'at least ' || cast(min_age_{0} as varchar) || ' years old')")
    reasons = " ".join(f"when coalesce({rule}, false) then '{label} ' || {value.format('l')} || ' / ' || {value.format('r')}"
                       for label, (rule, value) in conflict.items())
    flags = (f", coalesce({FIRST_NAME_CONFLICT}, false) as first_names_conflict,"
             " coalesce(date_of_birth_l = date_of_birth_r, false) as same_birth_date") if first_names_flag else ""
    return f"""
        with name_counts as (
            select first_name_norm, count(*) as name_count from {records}
            where first_name_norm is not null group by first_name_norm
        ),
        surname_counts as (
            select last_name_norm, count(*) as surname_count from {records}
            where last_name_norm is not null group by last_name_norm
        ),
        members as (
            select m.grp, {member_columns}, {optional}
            from ({membership}) as m join {records} as r on r.record_key = m.record_key {age_join}
            where r.date_of_birth is not null or r.first_name_norm is not null or r.name_suffix is not null
                  {"or r.sex is not null" if "sex" in present else ""}{" or a.min_age is not null" if min_ages else ""}
        ),
        suspect as (
            select grp from members group by grp
            having count(distinct date_of_birth) > 1 or count(distinct first_name_canonical) > 1 or count(distinct name_suffix) > 1
                or count(distinct sex) > 1
                or (count(name_suffix) > 0 and count(*) filter (where name_suffix is null and date_of_birth is null) > 0)
                {f"or max({MONTHS.format(when='date_of_birth')}) > min({YOUNGEST_BIRTH_MONTH})" if min_ages else ""}
        ),
        described as (
            select members.*, n.name_count, p.first_name_phonetic,
                   coalesce(n.name_count, 0) > coalesce(s.surname_count, 0) as written_as_first_name
            from members
            left join name_counts as n on n.first_name_norm = members.first_name_norm
            left join surname_counts as s on s.last_name_norm = members.first_name_norm
            left join {RECORD_PHONETICS} as p on p.record_key = members.record_key
            where members.grp in (select grp from suspect)
        ),
        name_variants as (
            {" union ".join(f"select nickname as name, canonical from {t} union select canonical, canonical from {t}" for t in nicknames)}
        ),
        candidate_pairs as (
            select l.grp, {pair_columns}
            from described as l join described as r on l.grp = r.grp and l.record_key < r.record_key
        ),
        pairs as (
            select *, {_nickname_pair("first_name_norm_l", "first_name_norm_r")} as nickname_pair,
                {_nickname_pair("first_name_norm_l", "last_name_norm_r")} as nickname_pair_first_l_last_r,
                {_nickname_pair("last_name_norm_l", "first_name_norm_r")} as nickname_pair_last_l_first_r
            from candidate_pairs
        )
        select grp, record_key_l, record_key_r, case {reasons} end as reason{flags}
        from pairs
        where {" or ".join(f"coalesce({rule}, false)" for rule, _ in conflict.values())}
    """


def optional_column(column: str, present: frozenset[str]) -> str:
    """A select item of records table `r`: the column, or null as the column where the table lacks it."""
    return f"r.{column}" if column in present else f"cast(null as varchar) as {column}"


def optional_columns(con: duckdb.DuckDBPyConnection, records: str) -> frozenset[str]:
    """The OPTIONAL_COLUMNS the records table has (one built before the sex field has not; a test's may lack any)."""
    return OPTIONAL_COLUMNS & {row[0] for row in con.sql(f"describe select * from {records}").fetchall()}


def min_ages_in_force(con: duckdb.DuckDBPyConnection) -> str | None:
    """MIN_AGES_TABLE when a source has a minimum age (conflict_pairs_sql's `min_ages`), else None."""
    present = table_exists(con, *MIN_AGES_TABLE.split(".")) and con.execute(f"select count(min_age) from {MIN_AGES_TABLE}").fetchall()[0][0]
    return MIN_AGES_TABLE if present else None


def conflict_pairs(con: duckdb.DuckDBPyConnection, records: str, clusters: pl.DataFrame) -> pl.DataFrame:
    """Pairs of records in one cluster that clearly conflict: record_key_l, record_key_r, reason."""
    con.register("cluster_of_record", clusters.select("record_key", "cluster").to_arrow())
    try:
        membership = "select record_key, cluster as grp from cluster_of_record"
        sql = conflict_pairs_sql(membership, records, present=optional_columns(con, records), min_ages=min_ages_in_force(con))
        return con.sql(
            f"select record_key_l, record_key_r, reason from ({sql}) "
            "order by record_key_l, record_key_r"
        ).pl()
    finally:
        con.unregister("cluster_of_record")


ACCEPTED_CONFLICTS = "identity.accepted_conflicts"
# Conflicts that household safety, when off, leaves to the model's weights (reasons of conflict_pairs_sql).
WEIGHED_CONFLICTS = ("first names", "dates of birth", "sexes", NAMESAKES)


def conflicting_persons_sql(person_map: str, records: str) -> str:
    """One row per person holding clearly conflicting records (but those joined on purpose,
    identity.accepted_conflicts): the identity gate's query."""
    membership = f"select record_key, person_id as grp from {person_map} where cluster_size > 1"
    return (f"select grp as person_id, count(*) as conflicting_pairs, min(record_key_l || ' / ' || record_key_r) as example_pair "
            f"from ({conflict_pairs_sql(membership, records)}) as conflicts "
            f"where not exists (select 1 from {ACCEPTED_CONFLICTS} as a "
            f"where a.record_key = conflicts.record_key_l and a.linked_record_key = conflicts.record_key_r) group by grp")


def separate_conflicts(
    con: duckdb.DuckDBPyConnection,
    records: str,
    edges: pl.DataFrame,
    clusters: pl.DataFrame,
    full_records: pl.Series,
    *,
    margin: float,
    cannot_link: pl.DataFrame | None = None,
    one_per_person: pl.DataFrame | None = None,
    household_safe: bool = True,
) -> Separation:
    """Rebuild the clusters that hold conflicting records or two records of
    one duplicate-free source (see the module docstring).

    `records` is the identity records table; `edges` have record_key,
    linked_record_key, rule, match_weight, vetoed, veto_reason (a must-link
    decision is an edge of rule 'must_link'); `full_records` are the keys of
    records with a first name and a date of birth; `cannot_link` holds pairs
    (record_key, linked_record_key) a person said are different people;
    `one_per_person` (record_key, source) are the records of duplicate-free
    sources. Unless `household_safe`, first names and dates of birth that differ
    conflict no more (the links' weights already count them against)."""
    if one_per_person is None:
        one_per_person = pl.DataFrame(schema={"record_key": pl.String, "source": pl.String})
    conflicts = conflict_pairs(con, records, clusters)
    accepted, conflicts = _accepted_conflicts(conflicts, sole_links(edges, one_per_person), household_safe)
    if cannot_link is not None and cannot_link.height:
        conflicts = pl.concat([conflicts, decided_conflicts(cannot_link, clusters)], how="vertical_relaxed")
    crowded = crowded_clusters(clusters, one_per_person)
    if conflicts.is_empty() and crowded.is_empty():
        return Separation(edges, clusters, 0, 0, 0, accepted=accepted)

    conflicted = clusters.filter(pl.col("cluster").is_in(
        clusters.filter(pl.col("record_key").is_in(conflicts["record_key_l"].implode()))["cluster"].implode()
    ) | pl.col("cluster").is_in(crowded.implode()))
    nodes = conflicted.select("record_key").with_row_index("node")
    unique_sources = sorted(one_per_person["source"].unique().to_list())
    unique_source = (
        nodes.join(one_per_person, on="record_key", how="left", maintain_order="left")["source"]
        .replace_strict(unique_sources, list(range(len(unique_sources))), default=-1, return_dtype=pl.Int64).to_numpy()
    )
    is_full = nodes["record_key"].is_in(full_records.implode()).to_numpy()

    # Sorted, so that links of equal weight are taken in the same order every run.
    in_scope = edges.with_row_index("edge").filter(
        ~pl.col("vetoed")
        & pl.col("record_key").is_in(nodes["record_key"].implode())
        & pl.col("linked_record_key").is_in(nodes["record_key"].implode())
    ).sort("record_key", "linked_record_key", "rule")
    left, right = edge_nodes(in_scope, nodes)
    weight = _link_weights(in_scope)
    c_left, c_right = edge_nodes(conflicts.rename({"record_key_l": "record_key", "record_key_r": "linked_record_key"}), nodes)
    is_decision = (conflicts["reason"] == "cannot-link decision").to_numpy()
    outcome = cluster_without_conflicts(
        nodes.height, is_full, left, right, weight, c_left, c_right, conflicts["reason"].to_list(), is_decision, margin,
        node_names=nodes["record_key"].to_list(), unique_source=unique_source, source_names=unique_sources,
    )

    return Separation(
        _mark_edges(edges, in_scope["edge"], outcome.edge_reasons),
        _relabel(clusters, nodes, outcome.labels),
        conflicted["cluster"].n_unique(),
        refused_links=sum(1 for r in outcome.edge_reasons.values() if r.startswith("refused")),
        ambiguous_links=sum(1 for r in outcome.edge_reasons.values() if r.startswith("ambiguous")),
        crowded_clusters=crowded.len(),
        accepted=accepted,
    )


def _accepted_conflicts(conflicts: pl.DataFrame, sole: pl.DataFrame, household_safe: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split the conflicts into those let through (with why) and those that stand."""
    is_sole = (
        pl.col("reason").str.starts_with("first names")
        & pl.struct("record_key_l", "record_key_r").is_in(sole.select(pl.struct("record_key_l", "record_key_r")).to_series().implode())
    )
    weighed = pl.lit(False) if household_safe else pl.any_horizontal(
        pl.col("reason").str.starts_with(reason) for reason in WEIGHED_CONFLICTS)
    why = (pl.when(is_sole).then(pl.lit("sole link of two one-record-per-person sources: "))
           .otherwise(pl.lit("household safety off: ")) + pl.col("reason"))
    accepted = conflicts.filter(is_sole | weighed).with_columns(why.alias("reason"))
    return accepted, conflicts.filter(~(is_sole | weighed))


def sole_links(edges: pl.DataFrame, one_per_person: pl.DataFrame) -> pl.DataFrame:
    """Pairs (record_key_l < record_key_r) of records of two different duplicate-free
    sources whose standing link is each one's only link into the other's source."""
    source = one_per_person.select("record_key", "source")
    keys = source["record_key"].implode()
    links = (
        # Only links between such records count: the others are left out before the pairs are made unique.
        edges.filter(~pl.col("vetoed") & pl.col("record_key").is_in(keys) & pl.col("linked_record_key").is_in(keys))
        .select(pl.min_horizontal("record_key", "linked_record_key").alias("record_key_l"),
                pl.max_horizontal("record_key", "linked_record_key").alias("record_key_r"))
        .unique()
        .join(source.rename({"record_key": "record_key_l", "source": "source_l"}), on="record_key_l")
        .join(source.rename({"record_key": "record_key_r", "source": "source_r"}), on="record_key_r")
        .filter(pl.col("source_l") != pl.col("source_r"))
    )
    into_other_source = pl.concat([
        links.select(pl.col("record_key_l").alias("record"), pl.col("source_r").alias("into")),
        links.select(pl.col("record_key_r").alias("record"), pl.col("source_l").alias("into")),
    ]).group_by("record", "into").len()
    count = lambda record, into: into_other_source.rename({"record": record, "into": into, "len": f"links_{record}"})  # noqa: E731
    return (
        links.join(count("record_key_l", "source_r"), on=["record_key_l", "source_r"])
        .join(count("record_key_r", "source_l"), on=["record_key_r", "source_l"])
        .filter((pl.col("links_record_key_l") == 1) & (pl.col("links_record_key_r") == 1))
        .select("record_key_l", "record_key_r")
    )


def crowded_clusters(clusters: pl.DataFrame, one_per_person: pl.DataFrame) -> pl.Series:
    """Clusters holding two records of one duplicate-free source."""
    return (
        clusters.join(one_per_person, on="record_key")
        .group_by("cluster", "source").len().filter(pl.col("len") > 1)["cluster"].unique()
    )


def _mark_edges(edges: pl.DataFrame, scope: pl.Series, reasons: dict[int, str]) -> pl.DataFrame:
    """Veto the edges that did not join (positions in `scope`, the edges clustered again), with the reason."""
    decided = pl.DataFrame({
        "edge": scope.gather(list(reasons)) if reasons else scope.clear(),
        "reason": pl.Series(list(reasons.values()), dtype=pl.String),
    })
    return (
        edges.with_row_index("edge")
        .join(decided, on="edge", how="left")
        .with_columns(
            (pl.col("vetoed") | pl.col("reason").is_not_null()).alias("vetoed"),
            pl.coalesce("reason", "veto_reason").alias("veto_reason"),
        )
        .drop("edge", "reason")
    )


def _relabel(clusters: pl.DataFrame, nodes: pl.DataFrame, labels: np.ndarray) -> pl.DataFrame:
    """The clusters, with the rebuilt ones numbered after every existing cluster."""
    first_new = int(clusters["cluster"].max()) + 1
    relabelled = nodes.select("record_key", pl.Series("new_cluster", labels + first_new, dtype=pl.Int64))
    return (
        clusters.join(relabelled, on="record_key", how="left", maintain_order="left")
        .with_columns(pl.coalesce("new_cluster", "cluster").alias("cluster"))
        .drop("new_cluster")
    )


def decided_conflicts(cannot_link: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """Cannot-link decisions between records that ended up in one cluster."""
    keyed = cannot_link.rename({"record_key": "record_key_l", "linked_record_key": "record_key_r"})
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
    """Union-find whose clusters remember which records conflict with a member (of
    which the firm conflicts: all but namesakes), their record of each duplicate-free
    source (source code -> record), and whether they hold a fully described record
    (a person, not only partial records)."""

    def __init__(self, size: int, enemies: list[set[int]], decided_enemies: list[set[int]], unique_source: np.ndarray,
                 is_full: np.ndarray, firm_enemies: list[set[int]]):
        self.parent = list(range(size))
        self.has_full = [bool(full) for full in is_full.tolist()]
        self.members = [[node] for node in range(size)]
        self.enemies = enemies
        self.decided = decided_enemies
        self.firm = firm_enemies
        self.sources = [{source: node} if source >= 0 else {} for node, source in enumerate(unique_source.tolist())]

    def find(self, node: int) -> int:
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def conflict(self, a: int, b: int, decided_only: bool = False, firm_only: bool = False) -> bool:
        """Whether clusters (roots) a and b hold two records that conflict (`firm_only`: other than as
        namesakes), or (not for a human decision) two records of one duplicate-free source."""
        if not decided_only and self.shared_source(a, b) is not None:
            return True
        small, large = (a, b) if len(self.members[a]) <= len(self.members[b]) else (b, a)
        enemies = self.decided[large] if decided_only else self.firm[large] if firm_only else self.enemies[large]
        return any(member in enemies for member in self.members[small])

    def shared_source(self, a: int, b: int) -> int | None:
        """A duplicate-free source both clusters (roots) hold a record of."""
        return next((source for source in self.sources[a] if source in self.sources[b]), None)

    def union(self, a: int, b: int) -> int:
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.has_full[a] = self.has_full[a] or self.has_full[b]
        self.members[a].extend(self.members[b])
        self.enemies[a] |= self.enemies[b]
        self.decided[a] |= self.decided[b]
        self.firm[a] |= self.firm[b]
        for source, node in self.sources[b].items():
            self.sources[a].setdefault(source, node)
        self.members[b], self.enemies[b], self.decided[b], self.firm[b], self.sources[b] = [], set(), set(), set(), {}
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
    unique_source: np.ndarray | None = None,
    source_names: list[str] | None = None,
) -> ConstrainedClusters:
    """Best-first clustering of `nodes` records over links left[i]-right[i]
    of weight[i], never joining two records of a conflict pair nor two
    records of one duplicate-free source (`unique_source`: a source number
    per record, -1 for other sources; see the module docstring). Pure:
    numbers in, labels and reasons out."""
    name = (lambda n: node_names[n]) if node_names else str
    source_name = (lambda s: source_names[s]) if source_names else str
    if unique_source is None:
        unique_source = np.full(nodes, -1)
    conflicts_of: list[set[int]] = [set() for _ in range(nodes)]  # per record
    firm: list[set[int]] = [set() for _ in range(nodes)]  # but namesakes: still rivals (_join_partial_records)
    decided: list[set[int]] = [set() for _ in range(nodes)]
    why: dict[tuple[int, int], str] = {}
    for a, b, reason, by_person in zip(conflict_left.tolist(), conflict_right.tolist(), conflict_reasons, is_decision.tolist()):
        conflicts_of[a].add(b)
        conflicts_of[b].add(a)
        if not reason.startswith(NAMESAKES):
            firm[a].add(b)
            firm[b].add(a)
        if by_person:
            decided[a].add(b)
            decided[b].add(a)
        why.setdefault((min(a, b), max(a, b)), reason)
    # The union-find merges its own copies: conflicts_of stays per record, to name a pair.
    uf = _Clusters(nodes, [set(s) for s in conflicts_of], decided, unique_source, is_full, firm)
    reasons: dict[int, str] = {}

    def conflict_reason(a: int, b: int) -> str:
        """What joining clusters a and b would do wrong: the conflicting pair of the smallest record
        names (not the first met: members and node numbers come in an order that can differ between runs)."""
        a, b = uf.find(a), uf.find(b)
        members_b = set(uf.members[b])
        pairs = [(min(m, o), max(m, o)) for m in uf.members[a] for o in conflicts_of[m] & members_b]
        if pairs:
            pair = min(pairs, key=lambda p: sorted((name(p[0]), name(p[1]))))
            first, second = sorted((name(pair[0]), name(pair[1])))
            return f"join {why[pair]} ({first}, {second})"
        source = uf.shared_source(a, b)
        if source is not None:
            pair = sorted((name(uf.sources[a][source]), name(uf.sources[b][source])))
            return f"put two records of source {source_name(source)} in one person ({pair[0]}, {pair[1]})"
        return "join conflicting records"

    def join_best_first(edge_ids: np.ndarray, decided_only: bool) -> None:
        for edge in edge_ids[np.argsort(-weight[edge_ids], kind="stable")].tolist():
            a, b = uf.find(int(left[edge])), uf.find(int(right[edge]))
            if a == b:
                continue
            if uf.conflict(a, b, decided_only):
                reasons[edge] = f"refused: would {conflict_reason(a, b)}"
            else:
                uf.union(a, b)

    full_left, full_right = is_full[left], is_full[right]
    must = np.isinf(weight)
    join_best_first(np.flatnonzero(must), decided_only=True)
    join_best_first(np.flatnonzero(~must & full_left & full_right), decided_only=False)
    _join_partial_records(uf, left, right, weight, ~must & ~(full_left & full_right), margin, reasons, conflict_reason)

    roots = np.array([uf.find(node) for node in range(nodes)])
    _, labels = np.unique(roots, return_inverse=True)
    return ConstrainedClusters(labels, reasons)


def _join_partial_records(uf, left, right, weight, candidates_mask, margin, reasons, conflict_reason) -> None:
    """The links of records with little evidence, strongest first, in one
    pass: a strong link to a person is never pre-empted by a weaker link
    between two partial records. A cluster without a fully described record
    (a group of partial records) joins at most one person, and only when
    that link is clearly stronger (by `margin` bits) than its link to any
    cluster it could not also join; otherwise it stays apart, its links
    marked ambiguous for review."""
    has_full = uf.has_full  # per root
    candidates = np.flatnonzero(candidates_mask)
    links_of: dict[int, list[tuple[float, int]]] = {}  # node -> (weight, other node), strongest first
    for edge in candidates.tolist():
        a, b, w = int(left[edge]), int(right[edge]), float(weight[edge])
        links_of.setdefault(a, []).append((w, b))
        links_of.setdefault(b, []).append((w, a))
    for links in links_of.values():
        links.sort(key=lambda link: -link[0])
    ambiguous: dict[int, str] = {}  # root of a group left apart -> why

    def exclusive(c: int, other: int) -> bool:
        """Whether clusters c and `other` could not both hold a group: they conflict, or both are persons."""
        return (has_full[c] and has_full[other]) or uf.conflict(c, other)

    def best_rival(group: int, other: int, floor: float) -> tuple[float, int]:
        """The strongest link (at least `floor`) from `group` to a cluster it could join instead of
        `other` but not share with it, and how many such clusters there are. A cluster the group
        conflicts with (another first name, a record of the same duplicate-free source) is no rival;
        a namesake is (a form of "john smith" is the father's or Jr's, Jr's suffix or not)."""
        rivals: dict[int, float] = {}
        for member in uf.members[group]:
            for w, node in links_of.get(member, []):
                if w < floor:
                    break
                c = uf.find(node)
                if c not in (group, other) and c not in rivals and exclusive(c, other) and not uf.conflict(group, c, firm_only=True):
                    rivals[c] = w
        return max(rivals.values(), default=float("-inf")), len(rivals)

    for edge in candidates[np.argsort(-weight[candidates], kind="stable")].tolist():
        a, b = uf.find(int(left[edge])), uf.find(int(right[edge]))
        if a == b:
            continue
        if a in ambiguous or b in ambiguous:
            reasons[edge] = ambiguous.get(a) or ambiguous[b]
            continue
        if uf.conflict(a, b):
            reasons[edge] = f"refused: would {conflict_reason(a, b)}"
            continue
        if has_full[a] and has_full[b]:
            reasons[edge] = "refused: a record with little evidence joins only its best person"
            continue
        w = float(weight[edge])
        for group, other in ((a, b), (b, a)):
            if has_full[group]:
                continue
            rival, count = best_rival(group, other, w - margin)
            if rival > float("-inf"):
                ambiguous[group] = (f"ambiguous: a record with little evidence links to {count + 1} persons "
                                    f"(best weights {w:.1f} and {rival:.1f}, less than {margin:g} apart)")
                reasons[edge] = ambiguous[group]
                break
        else:
            uf.union(a, b)
