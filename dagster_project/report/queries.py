"""What the run report shows, read back from the warehouse: one function per
section, each a polars frame (empty when the table is not there yet, e.g. in a
run that failed before identity)."""

from __future__ import annotations

import math

import polars as pl

from dagster_project.config import CdpConfig
from dagster_project.warehouse import table_exists

# Golden-record attributes whose completeness the report charts.
GOLDEN_ATTRIBUTES = ["first_name", "last_name", "email", "phone", "date_of_birth", "address_line",
                     "postcode", "city", "region", "country", "loyalty_id"]


def _frame(con, schema: str, table: str, sql: str, params: list | None = None) -> pl.DataFrame:
    if not table_exists(con, schema, table):
        return pl.DataFrame()
    return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()


def files_loaded(con, run_id: str) -> pl.DataFrame:
    """Rows read / loaded / quarantined per source and file of this run."""
    return _frame(con, "raw", "load_log", """
        select source, regexp_extract(file, '[^/]+$') as file, status, rows_read, rows_loaded, rows_quarantined, error
        from raw.load_log where run_id = ? order by source, file""", [run_id])


def quarantine_reasons(con, run_id: str) -> pl.DataFrame:
    return _frame(con, "raw", "quarantine", """
        select source, reason, count(*) as rows from raw.quarantine where run_id = ?
        group by all order by rows desc limit 40""", [run_id])


def cluster_sizes(con) -> pl.DataFrame:
    """How many persons hold 1, 2, 3, ... records."""
    return _frame(con, "identity", "person_map", """
        select records, count(*) as persons from
            (select person_id, count(*) as records from identity.person_map group by person_id)
        group by records order by records""")


def match_weights(con) -> pl.DataFrame:
    """Splink match weights of the scored pairs (linked or vetoed), rounded to a tenth."""
    return _frame(con, "identity", "edges", """
        select round(match_weight, 1) as match_weight, vetoed, count(*) as pairs from identity.edges
        where rule = 'splink' and match_weight is not null group by all order by 1""")


def threshold_weight(config: CdpConfig) -> float:
    return math.log2(config.match_threshold / (1 - config.match_threshold))


def id_changes(con, run_id: str) -> pl.DataFrame:
    """Persons created, merged and split in this run."""
    return _frame(con, "identity", "id_history", """
        select event, count(*) as persons, sum(records)::bigint as records from identity.id_history
        where run_id = ? group by event order by event""", [run_id])


def review_queue(con) -> pl.DataFrame:
    """Refused merges and ambiguous records waiting for a person's review."""
    return _frame(con, "identity", "edges", """
        select case when veto_reason like 'refused%' then 'refused merge' else 'ambiguous record' end as kind,
               count(*) as links
        from identity.edges where vetoed and (veto_reason like 'refused%' or veto_reason like 'ambiguous%')
        group by kind order by kind""")


def golden_completeness(con) -> pl.DataFrame:
    """Share of golden records with each attribute filled."""
    if not table_exists(con, "marts", "dim_customer"):
        return pl.DataFrame()
    columns = {row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = 'dim_customer'").fetchall()}
    present = [a for a in GOLDEN_ATTRIBUTES if a in columns]
    if not present:
        return pl.DataFrame()
    shares = ", ".join(f'avg(("{a}" is not null)::int) as "{a}"' for a in present)
    row = con.execute(f"select {shares} from marts.dim_customer").fetchall()[0]
    return pl.DataFrame({"attribute": present, "filled": [float(v or 0) for v in row]})


def consent_coverage(con) -> pl.DataFrame:
    """People per purpose and consent status (granted, denied, default)."""
    return _frame(con, "marts", "customer_consent", """
        select purpose, case when is_default then status || ' (default)' else status end as status, count(*) as people
        from marts.customer_consent group by all order by purpose, status""")


def segment_history(con) -> pl.DataFrame:
    """For each segment and each membership change time: entered, exited and the size after it."""
    return _frame(con, "marts", "segment_membership", """
        with changes as (
            select segment, entered_at as changed_at, 1 as entered, 0 as exited from marts.segment_membership
            union all
            select segment, exited_at, 0, 1 from marts.segment_membership where exited_at is not null
        ), per_time as (
            select segment, changed_at, sum(entered) as entered, sum(exited) as exited from changes group by all
        )
        select segment, changed_at, entered::bigint as entered, exited::bigint as exited,
               (sum(entered - exited) over (partition by segment order by changed_at))::bigint as members
        from per_time order by segment, changed_at""")


def gate_results(con, run_id: str) -> pl.DataFrame:
    """Each gate (suite on a target) of this run: expectations passed and failed."""
    return _frame(con, "quality", "validation_results", """
        select suite, target, count(*) filter (where success) as passed, count(*) filter (where not success) as failed
        from quality.validation_results where run_id = ? group by all order by suite, target""", [run_id])


def audience_sizes(con, config: CdpConfig) -> pl.DataFrame:
    rows = [(a.name, con.execute(f'select count(*) from marts."{a.model}"').fetchall()[0][0])
            for a in config.audiences if table_exists(con, "marts", a.model)]
    return pl.DataFrame(rows, schema=["audience", "people"], orient="row")
