"""Incremental Splink scoring: score only the pairs of new or changed records.

Scoring every blocked pair is the expensive part of identity resolution. A
pair's score and whether blocking finds it depend only on its two prepared
records (splink_prepare: the capped blocking keys included), the model, its
frozen term frequencies (identity.term_frequencies) and the threshold. So a
run keeps what it scored (identity.scored_pairs) with a fingerprint of each
prepared record (identity.record_fingerprints) and of the scoring inputs
(identity.scoring_state). The next run:
- reuses the stored pairs whose two records have the same fingerprint;
- scores with Splink the blocked pairs that have a new or changed record
  (a record whose blocking key crossed the cap counts as changed), and the
  deterministic pairs the veto needs that it has no stored score for;
- scores everything when asked (`cdp run --full`), when nothing is stored,
  or when the model, its frequencies, the threshold or the cap changed.
Before scoring, an incremental run keeps only the prepared records that can be
in a pair to score (keep_possible_partners): the new or changed records, the
records sharing a blocking key with one of them, and the ends of the pairs the
veto needs scored. Every blocked pair with a new or changed record is among
them, and so are the groups of identical records Splink scores once
(identity.representatives); frequencies are frozen, so Splink finds the same
pairs with the same scores in a day's batch as over every record.
The scores are then those a full run would give, pair for pair; the records
they can move are clustered again (identity.region), by the same code as a full run.
Both tables are keyed by record_key (and linked_record_key), so erasure
removes a person's rows.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.identity.splink_prepare import BLOCKING_KEYS, DEFAULT_BLOCK_CAP, PREPARED, SCRATCH, key_cap
from dagster_project.identity.term_frequencies import frozen_path
from dagster_project.warehouse import table_exists

SCORED_PAIRS = "identity.scored_pairs"
FINGERPRINTS = "identity.record_fingerprints"
SCORING_STATE = "identity.scoring_state"
DIRTY = "is_new_or_changed"  # the prepared records' column Splink's blocking is restricted to
# A prepared record's fingerprint: DuckDB's 64-bit hash of the whole row (ten times cheaper than
# an md5 of the row as text). Part of the signature: stored fingerprints of another kind are not compared.
FINGERPRINT_SQL = "hash(p)"


@dataclass
class ScoringPlan:
    incremental: bool
    reason: str  # why this mode
    changed_records: int = 0  # new or changed records (incremental runs)
    removed_records: int = 0  # records gone since the last run


def scoring_signature(model_path: Path, threshold: float, block_cap: int = DEFAULT_BLOCK_CAP) -> str:
    """What every stored score depends on besides its two records."""
    digest = hashlib.sha256(Path(model_path).read_bytes())
    digest.update(frozen_path(model_path).read_bytes())
    caps = {name: key_cap(name, block_cap) for name in sorted(BLOCKING_KEYS)}
    digest.update(f"threshold={threshold!r} block_caps={caps} fingerprint={FINGERPRINT_SQL}".encode())
    return digest.hexdigest()


def fingerprint_prepared(con: duckdb.DuckDBPyConnection, into: str) -> None:
    """Temporary table `into` (record_key, fingerprint): a hash of each whole prepared row."""
    con.execute(
        f"""create or replace temp table {into} as
        select record_key, {FINGERPRINT_SQL} as fingerprint from {SCRATCH}.main.{PREPARED} as p"""
    )


def plan_scoring(con: duckdb.DuckDBPyConnection, signature: str, full: bool, fingerprints: str) -> ScoringPlan:
    """Full or incremental; for an incremental plan, keeps the keys of the prepared records that
    are neither new nor changed in table clean_records (keep_possible_partners marks the others).
    `fingerprints` is this run's (fingerprint_prepared)."""
    if full:
        return ScoringPlan(False, "full run asked for")
    if not all(table_exists(con, "identity", name) for name in ("scored_pairs", "record_fingerprints", "scoring_state")):
        return ScoringPlan(False, "no scores stored yet")
    stored = con.execute(f"select signature from {SCORING_STATE}").fetchall()
    if [row[0] for row in stored] != [signature]:
        return ScoringPlan(False, "the model, its term frequencies, the threshold, the blocking cap or the record fingerprint changed")
    con.execute(
        f"""create or replace table {SCRATCH}.main.clean_records as
        select record_key from {fingerprints} join {FINGERPRINTS} using (record_key, fingerprint)"""
    )
    changed, removed = con.execute(
        f"""select (select count(*) from {fingerprints} anti join {SCRATCH}.main.clean_records using (record_key)),
                   (select count(*) from {FINGERPRINTS} anti join {fingerprints} using (record_key))"""
    ).fetchall()[0]
    return ScoringPlan(True, "scores of unchanged records reused", changed, removed)


# A blocking rule's equality on one column: l."bk_name" = r."bk_name".
_EQUALITY = re.compile(r'l\."?(\w+)"?\s*=\s*r\."?(\w+)"?', re.IGNORECASE)


def blocking_key_columns(model: dict) -> list[str] | None:
    """One column per blocking rule that a pair the rule finds has equal (and not null) on both
    records; None when a rule is not a conjunction of such equalities (then no record can be left out)."""
    columns = []
    for rule in model["blocking_rules_to_generate_predictions"]:
        text = rule["blocking_rule"]
        equalities = [(left, right) for left, right in _EQUALITY.findall(text) if left == right]
        rest = _EQUALITY.sub("", text)
        if not equalities or re.sub(r"(?i)\band\b|[()\s]", "", rest):
            return None
        columns.append(equalities[0][0])
    return columns


def keep_possible_partners(con: duckdb.DuckDBPyConnection, model: dict, keep_pairs: str) -> int:
    """Mark the prepared records that are new or changed (column DIRTY: not in plan_scoring's
    clean_records) and keep only those that can be in a pair an incremental run scores: the
    dirty ones, those sharing a blocking key with one of them (every pair the restricted
    blocking finds has a dirty record and one equal key per rule), and both ends of
    `keep_pairs` (record_key_l, record_key_r). Every record is kept when the blocking rules are
    not all key equalities. Returns the records kept."""
    prepared = f"{SCRATCH}.main.{PREPARED}"
    flagged = f"""select p.*, c.record_key is null as {DIRTY}
        from {prepared} as p left join {SCRATCH}.main.clean_records as c using (record_key)"""
    columns = blocking_key_columns(model)
    if columns is None:
        con.execute(f"create or replace table {prepared} as {flagged}")
    else:
        shares_a_key = " or ".join(
            f'p."{column}" in (select "{column}" from flagged where {DIRTY})' for column in dict.fromkeys(columns)
        )
        con.execute(
            f"""create or replace table {prepared} as
            with flagged as ({flagged})
            select p.* from flagged as p
            where p.{DIRTY} or {shares_a_key}
               or p.record_key in (select record_key_l from {keep_pairs} union all select record_key_r from {keep_pairs})"""
        )
    return con.execute(f"select count(*) from {prepared}").fetchall()[0][0]


def reuse_scores(con: duckdb.DuckDBPyConnection, vetoable_pairs: str, into: str) -> None:
    """Create temporary table `into` with the stored scored pairs whose two records are unchanged
    (plan_scoring's clean_records) and that a full run would score too: every pair blocking found,
    and the deterministic pairs whose score the veto still needs (`vetoable_pairs`: record_key_l,
    record_key_r). In DuckDB: the stored pairs are the widest table of identity, millions of rows at scale."""
    clean = f"{SCRATCH}.main.clean_records"
    con.execute(
        f"""create or replace temp table {into} as
        select s.* from {SCORED_PAIRS} as s
        semi join {clean} as l on l.record_key = s.record_key
        semi join {clean} as r on r.record_key = s.linked_record_key
        where s.from_blocking or exists (
            select 1 from {vetoable_pairs} as v where v.record_key_l = s.record_key and v.record_key_r = s.linked_record_key
        )"""
    )


def write_scoring_state(con: duckdb.DuckDBPyConnection, scores: str, fingerprints: str, signature: str,
                        incremental: bool) -> None:
    """Store this run's scores, record fingerprints (tables of the connection) and signature
    (inside the caller's transaction). An incremental run changes the stored rows in place rather
    than rewriting every row whatever its batch: the pairs of new or changed records and those no
    longer kept go, this run's new pairs come, and likewise the fingerprints."""
    if not incremental:
        con.execute(f"create or replace table {SCORED_PAIRS} as select * from {scores}")
        con.execute(f"create or replace table {FINGERPRINTS} as select * from {fingerprints}")
    else:
        con.execute(f"""create or replace temp table rescored_records as
            select record_key from {fingerprints} anti join {FINGERPRINTS} using (record_key, fingerprint)""")
        rescored = ("record_key in (select record_key from rescored_records)"
                    " or linked_record_key in (select record_key from rescored_records)")
        con.execute(f"""delete from {SCORED_PAIRS} where {rescored} or not exists (
            select 1 from {scores} as s
            where s.record_key = {SCORED_PAIRS}.record_key and s.linked_record_key = {SCORED_PAIRS}.linked_record_key)""")
        # What is left stored is this run's reused pairs: every other pair of `scores` is new.
        con.execute(f"""insert into {SCORED_PAIRS} by name select * from {scores} as s
            where not exists (
                select 1 from {SCORED_PAIRS} as stored
                where stored.record_key = s.record_key and stored.linked_record_key = s.linked_record_key)""")
        con.execute(f"delete from {FINGERPRINTS} where record_key not in (select record_key from {fingerprints}) "
                    "or record_key in (select record_key from rescored_records)")
        con.execute(f"insert into {FINGERPRINTS} select f.* from {fingerprints} as f semi join rescored_records using (record_key)")
        con.execute("drop table rescored_records")
    con.execute(f"create or replace table {SCORING_STATE} as select ? as signature", [signature])
