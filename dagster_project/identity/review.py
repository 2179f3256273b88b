"""`cdp identity review`: the parts of the identity graph a person should look at.

- near_threshold: Splink links that joined two records with a match weight
  just above the threshold's (within NEAR_THRESHOLD_BITS);
- refused: links refused because they would put clearly conflicting records
  in one person;
- ambiguous: links of a record with little evidence to several persons, none
  clearly best, so it stays apart;
- elimination: records joined to their person while a link to another person,
  within `identity.ambiguity_margin` of the join, was refused (a conflict, or a
  record of a duplicate-free source that person already holds): the join was
  decided by what the other person could not take, not by stronger evidence;
- household: joins of the household pass (identity/household_pass.py), made
  on looser evidence than a Splink link: each the other's only candidate alike
  in name at one address;
- best_link: joins of the best-link pass (identity/best_links.py), under the
  match threshold: each record the other's clearly best candidate between two
  one-record-per-person sources;
- largest_person: the persons with the most records;
- decision_not_applied: human decisions naming a record that is not an
  identity record (unknown or erased).
Each row names both records and their persons, so a reviewer can run
`cdp explain` and then `cdp identity must-link` or `cannot-link`.
"""

from __future__ import annotations

import math

import polars as pl

from dagster_project.config import CdpConfig
from dagster_project.identity.graph import RECORDS_TABLE
from dagster_project.warehouse import connect, table_exists

NEAR_THRESHOLD_BITS = 2.0
LARGEST_PERSONS = 20
COLUMNS = ["kind", "person_id", "record_key", "linked_person_id", "linked_record_key", "match_weight", "detail"]


# Per record, its strongest standing link within its person, and its refused links to other persons
# that were nearly as strong (within the margin, the parameter).
ELIMINATIONS = f"""
    with persons as (select record_key, person_id from identity.person_map),
    sides as (
        select record_key as record, linked_record_key as other, match_weight, vetoed, veto_reason from identity.edges
        union all
        select linked_record_key, record_key, match_weight, vetoed, veto_reason from identity.edges
    ),
    placed as (
        select s.*, p.person_id, o.person_id as other_person_id
        from sides as s join persons as p on p.record_key = s.record join persons as o on o.record_key = s.other
        where s.match_weight is not null
    ),
    joined as (  -- records with little evidence (no date of birth, or no first name beyond an initial)
        select record, person_id, max(match_weight) as joined_weight from placed
        where not vetoed and person_id = other_person_id
          and record in (select record_key from {RECORDS_TABLE}
                         where date_of_birth is null or coalesce(length(first_name_norm), 0) <= 1)
        group by record, person_id
    )
    select 'elimination' as kind, j.person_id, j.record as record_key, r.other_person_id as linked_person_id,
           r.other as linked_record_key, r.match_weight,
           'joined its person at weight ' || round(j.joined_weight, 1) || ', while this link to another person was '
           || r.veto_reason as detail
    from joined as j join placed as r on r.record = j.record
    where r.vetoed and r.veto_reason like 'refused%' and r.person_id <> r.other_person_id
      and r.match_weight >= j.joined_weight - ?
    order by j.record, r.match_weight desc
"""


def review_items(config: CdpConfig) -> pl.DataFrame:
    """One row per item to review, kinds in the order above."""
    threshold_weight = math.log2(config.match_threshold / (1 - config.match_threshold))
    with connect(config.warehouse, read_only=True) as con:
        if not table_exists(con, "identity", "edges"):
            raise SystemExit("no identity graph yet: run `cdp run` first")
        links = con.sql(
            """
            with persons as (select record_key, person_id from identity.person_map)
            select case when e.vetoed and e.veto_reason like 'refused%' then 'refused'
                        when e.vetoed and e.veto_reason like 'ambiguous%' then 'ambiguous'
                        when e.rule = 'household' then 'household'
                        when e.rule = 'best_link' then 'best_link'
                        else 'near_threshold' end as kind,
                   l.person_id, e.record_key, r.person_id as linked_person_id, e.linked_record_key,
                   e.match_weight,
                   coalesce(e.veto_reason, case when e.rule = 'household'
                       then 'household pass: each the other''s only candidate alike in name at this address'
                       when e.rule = 'best_link'
                       then 'best-link pass: Splink match probability ' || round(e.match_probability, 4)
                            || ' under the threshold, each the other''s clearly best candidate between two one-record sources'
                       else 'Splink match probability ' || round(e.match_probability, 4) end) as detail
            from identity.edges as e
            left join persons as l on l.record_key = e.record_key
            left join persons as r on r.record_key = e.linked_record_key
            where (e.vetoed and (e.veto_reason like 'refused%' or e.veto_reason like 'ambiguous%'))
               or (not e.vetoed and e.rule = 'splink' and e.match_weight < ?)
               or (not e.vetoed and e.rule in ('household', 'best_link'))
            order by kind, e.match_weight desc nulls last, e.record_key
            """,
            params=[threshold_weight + NEAR_THRESHOLD_BITS],
        ).pl()
        eliminations = con.sql(ELIMINATIONS, params=[config.ambiguity_margin]).pl()
        largest = con.sql(
            f"""
            select 'largest_person' as kind, person_id, min(record_key) as record_key,
                   cast(null as varchar) as linked_person_id, cast(null as varchar) as linked_record_key,
                   cast(null as double) as match_weight,
                   count(*) || ' records from ' || count(distinct source) || ' sources' as detail
            from identity.person_map group by person_id
            order by count(*) desc, person_id limit {LARGEST_PERSONS}
            """
        ).pl()
        unknown = (
            con.sql(
                """select 'decision_not_applied' as kind, cast(null as varchar) as person_id, record_key,
                          cast(null as varchar) as linked_person_id, linked_record_key, cast(null as double) as match_weight,
                          decision || ': ' || status as detail
                   from identity.decisions where status <> 'applied'"""
            ).pl()
            if table_exists(con, "identity", "decisions")
            else pl.DataFrame()
        )
    order = {"near_threshold": 0, "refused": 1, "ambiguous": 2, "elimination": 3, "household": 4, "best_link": 5}
    # One row per pair: a pair linked by two rules (an email and Splink) is one item to review.
    links = pl.concat([links, eliminations.select(links.columns)], how="vertical_relaxed")
    links = links.sort(pl.col("kind").replace_strict(order, return_dtype=pl.Int8), maintain_order=True).unique(
        ["kind", "record_key", "linked_record_key"], keep="first", maintain_order=True
    )
    frames = [f.select(COLUMNS) for f in (links, largest, unknown) if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema={c: pl.String for c in COLUMNS})


def render_review(items: pl.DataFrame, limit: int) -> str:
    if items.is_empty():
        return "nothing to review"
    lines = []
    for (kind,), group in items.group_by("kind", maintain_order=True):
        lines += ["", f"{kind} ({group.height})"]
        for row in group.head(limit).iter_rows(named=True):
            pair = row["record_key"] + (f" [{row['person_id']}]" if row["person_id"] else "")
            if row["linked_record_key"]:
                pair += f" <-> {row['linked_record_key']}" + (f" [{row['linked_person_id']}]" if row["linked_person_id"] else "")
            weight = f" weight {row['match_weight']:+.1f}" if row["match_weight"] is not None else ""
            lines.append(f"  {pair}{weight}: {row['detail']}")
        if group.height > limit:
            lines.append(f"  ... {group.height - limit} more (--csv FILE writes all)")
    return "\n".join(lines[1:])


def record_status(config: CdpConfig, keys: list[str]) -> list[str]:
    """Where each record stands now: its person, or that it is not an identity record."""
    if not config.warehouse.exists():
        return []
    with connect(config.warehouse, read_only=True) as con:
        if not table_exists(con, "identity", "person_map"):
            return []
        found = dict(con.execute(
            "select record_key, person_id from identity.person_map where list_contains(?, record_key)", [keys]
        ).fetchall())
    return [f"{key}: person {found[key]}" if key in found else
            f"{key}: not an identity record (unknown or erased); the decision is kept and reported until it names one"
            for key in keys]
