"""Score one representative per group of identical prepared records, then give every record its group's scores.

Many identity records are copies of one another in every column Splink reads: a person's
consent events and campaign responses carry the same email, name and address. A pair's score
and whether blocking finds it depend only on its two prepared rows (the capped blocking keys
included: a key's cap counts all records), the model and the frozen term frequencies
(identity.term_frequencies). So Splink scores the pairs of representatives (the smallest
record key of each group), and the scores are then expanded to the records:
- two records of different groups: their representatives' pair, when blocking found it;
- two records of one group: the representative scored against itself, when the group's
  rows meet a blocking rule (Splink compares them then, as it would the two records);
- a kept pair (scored whatever its score): its representatives' pair.
The comparisons are symmetric, so a pair reads the same whichever record is on the left.
The result is the pairs and scores Splink gives over all the records, row for row.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
from splink.internals.predict import threshold_args_to_match_weight

from dagster_project.identity.splink_prepare import PREPARED, SCRATCH

GROUPS = "splink_groups"  # record_key, rep_key (and the record's own dirty flag, when restricted)
REPRESENTATIVES = "splink_representatives"  # the prepared rows of the representatives
SELF_BLOCKED = "splink_self_blocked"  # representatives whose group's records blocking compares with each other


def group_records(con: duckdb.DuckDBPyConnection, model: Mapping, dirty: str | None) -> None:
    """Tables GROUPS, REPRESENTATIVES and SELF_BLOCKED in the scratch database (the current one).
    `dirty` (incremental runs): the prepared column that restricts blocking to new or changed
    records; a representative carries whether any record of its group is."""
    prepared = f"{SCRATCH}.main.{PREPARED}"
    columns = [row[0] for row in con.execute(f"describe {prepared}").fetchall()]
    compared = ", ".join(f'"{c}"' for c in columns if c not in ("record_key", dirty))
    own_dirty = f', "{dirty}"' if dirty else ""
    # Grouped by a 64-bit hash of the compared columns, not by the columns: 2.4x faster on 862,455
    # records (30 columns); two different rows among a million share a hash with odds under 1 in 10^8.
    con.execute(
        f"""create or replace table {GROUPS} as
        select record_key, min(record_key) over (partition by hash({compared})) as rep_key{own_dirty} from {prepared}"""
    )
    group_dirty = f'bool_or("{dirty}") as any_dirty' if dirty else "true as any_dirty"
    replace = f' replace (g.any_dirty as "{dirty}")' if dirty else ""
    con.execute(
        f"""create or replace table {REPRESENTATIVES} as
        select p.*{replace} from {prepared} as p
        join (select rep_key, {group_dirty}, count(*) as records from {GROUPS} group by rep_key) as g
          on g.rep_key = p.record_key"""
    )
    rules = " or ".join(f"coalesce(({rule['blocking_rule']}), false)" for rule in model["blocking_rules_to_generate_predictions"])
    con.execute(
        f"""create or replace table {SELF_BLOCKED} as
        select l.record_key as rep_key from {REPRESENTATIVES} as l join {REPRESENTATIVES} as r using (record_key)
        where record_key in (select rep_key from {GROUPS} group by rep_key having count(*) > 1)
          and ({rules or 'false'})"""
    )


def pairs_to_score_again(con: duckdb.DuckDBPyConnection, above: str, keep_pairs: str | None, into: str) -> None:
    """Table `into` (match_key, join_key_l, join_key_r) for Splink's registered-pairs pass: each
    blocked group's representative against itself, and the representatives' pairs of the kept
    pairs that the main pass (`above`) did not return."""
    kept = "select null::varchar as l, null::varchar as r limit 0"
    if keep_pairs is not None:
        kept = f"""select least(a.rep_key, b.rep_key) as l, greatest(a.rep_key, b.rep_key) as r
            from {keep_pairs} as k
            join {GROUPS} as a on a.record_key = k.record_key_l
            join {GROUPS} as b on b.record_key = k.record_key_r"""
    con.execute(
        f"""create or replace table {into} as
        select distinct '0' as match_key, l as join_key_l, r as join_key_r from (
            select rep_key as l, rep_key as r from {SELF_BLOCKED}
            union all
            select * from ({kept}) as k
            where not exists (select 1 from {above} as p where p.record_key_l = k.l and p.record_key_r = k.r)
        )"""
    )


def expand_to_records(above: str, again: str, keep_pairs: str | None, threshold: float | None, dirty: str | None) -> str:
    """A query over the representatives' scores (`above`: the main pass's, `again`: the
    registered pass's, both with the columns splink_model._output_columns selects) giving the
    records' pairs: those blocking finds at or above `threshold` (from_blocking), then the kept
    pairs among the rest (not from_blocking)."""
    either_dirty = f'(a."{dirty}" or b."{dirty}")' if dirty else "true"
    at_threshold = "true"
    if threshold is not None:
        at_threshold = f"s.match_weight >= {threshold_args_to_match_weight(threshold, None)}"
    scores = "* exclude (record_key_l, record_key_r)"
    blocked = f"""
        select least(a.record_key, b.record_key) as record_key_l, greatest(a.record_key, b.record_key) as record_key_r,
               s.{scores}
        from {above} as s join {GROUPS} as a on a.rep_key = s.record_key_l join {GROUPS} as b on b.rep_key = s.record_key_r
        where {either_dirty}
        union all
        select a.record_key, b.record_key, s.{scores}
        from {again} as s join {SELF_BLOCKED} as blocked on blocked.rep_key = s.record_key_l
        join {GROUPS} as a on a.rep_key = s.record_key_l join {GROUPS} as b on b.rep_key = s.record_key_l
        where s.record_key_l = s.record_key_r and a.record_key < b.record_key and {either_dirty} and {at_threshold}"""
    query = f"with blocked as ({blocked}) select *, true as from_blocking from blocked"
    if keep_pairs is None:
        return query
    return f"""{query}
        union all
        select *, false from (
            select k.record_key_l, k.record_key_r, s.{scores}
            from (select distinct record_key_l, record_key_r from {keep_pairs}) as k
            join {GROUPS} as a on a.record_key = k.record_key_l join {GROUPS} as b on b.record_key = k.record_key_r
            join (select * from {above} union all by name select * from {again}) as s
              on s.record_key_l = least(a.rep_key, b.rep_key) and s.record_key_r = greatest(a.rep_key, b.rep_key)
        ) as kept
        anti join blocked using (record_key_l, record_key_r)"""
