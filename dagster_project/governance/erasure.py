"""Right to erasure: remove a person everywhere, keep them out, keep an audit.

`erase_person` finds the person (by email, phone or person_id), then, in the
warehouse: writes tombstones (hashed identifiers, see tombstones.py), deletes
their rows from every raw table (by each source's own mapping, so orders of
an erased account and events of an erased device go too), their quarantined
rows, every row keyed by their person_id or records in the identity,
intermediate, signals, marts, ml (scores), history (segment membership) and
quality schemas, and their person id history (so their partner matches and
enrichment rows, marts.customer_enrichment, go too, and the partner's encoded
records matched to them leave raw and staging); then
rewrites export files already written without them (manifests updated) and
records their person_ids per export folder, so the next export's delta lists
them as removed with reason `erasure`.
governance.erasure_log records the request, its time and the counts removed,
with no personal data. The next run rebuilds every model without them.
Last, the warehouse file is rewritten without its free blocks, where deleted
rows would otherwise stay readable (warehouse.rewrite_without_free_blocks);
a batch of requests (governance/requests.py) rewrites once, after the last.

With engine spark the same flow also runs over Spark's tables, which are the
run's truth (the DuckDB warehouse holds copies): which rows go is decided
here for both engines (`_erase_rows`); only deleting them differs,
`DuckdbTables` below and spark.erasure.SparkTables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dagster_project.config import CdpConfig
from dagster_project.export.writer import remove_persons
from dagster_project.ingest.load import ensure_raw_schema
from dagster_project.ingest.tombstones import (
    KINDS, erased_condition, key_sql, normalised_sql, tombstone_keys, use_tombstone_key,
)
from dagster_project.warehouse import connect, rewrite_without_free_blocks, table_exists

AUDIT_DDL = """
create schema if not exists governance;
create table if not exists governance.erasure_log (
    request_id varchar not null,
    requested_at timestamp not null,
    requested_by varchar not null,         -- which identifier kind the request named
    persons_erased bigint not null,
    identity_records_erased bigint not null,
    raw_rows_erased bigint not null,
    quarantine_rows_erased bigint not null,
    warehouse_rows_erased bigint not null,
    export_rows_erased bigint not null,
    tombstones_written bigint not null
);
"""
MODEL_SCHEMAS = ("identity", "intermediate", "signals", "marts", "ml", "history", "quality")


class NothingToErase(LookupError):
    pass


@dataclass
class ErasureReport:
    request_id: str
    persons: int = 0
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"erasure {self.request_id}: {self.persons} person(s), {self.records} identity record(s)"]
        lines += [f"  {name}: {count}" for name, count in self.counts.items()]
        return "\n".join(lines)


def erase_person(config: CdpConfig, *, email: str | None = None, phone: str | None = None, person_id: str | None = None,
                 rewrite: bool = True, engine_tables: Callable | None = None) -> ErasureReport:
    """`rewrite=False` leaves the deleted rows in the file's free blocks: only for a caller that
    erases several people and then calls rewrite_without_free_blocks once. With engine spark,
    `engine_tables(con)` gives Spark's tables (spark.erasure.SparkTables, bound to a session by the caller)."""
    if config.engine == "spark" and engine_tables is None:
        raise ValueError("engine: spark: the erasure needs Spark's tables (engine_tables), or they would keep the person")
    request_id = f"erasure-{uuid.uuid4().hex[:12]}"
    report = ErasureReport(request_id)
    with connect(config.warehouse) as con:
        con.execute(AUDIT_DDL)
        keys = tombstone_keys(config)
        use_tombstone_key(con, keys)
        ensure_raw_schema(con)
        # The request's own identifiers, normalised like every stored one (a national phone takes the default code).
        con.execute("create or replace temp table requested_as_given as select ?::varchar as email, ?::varchar as phone", [email, phone])
        con.execute(f"""create or replace temp table requested as select
            {normalised_sql('email', 'email', 'null', keys.default_calling_code)} as email,
            {normalised_sql('phone', 'phone', 'null', keys.default_calling_code)} as phone from requested_as_given""")
        on_spark = engine_tables(con) if engine_tables is not None else None
        if on_spark is not None:  # Spark's identity tables are the truth (also after an erasure cut short)
            on_spark.copy_identity()
        persons = _find_persons(con, email=email, phone=phone, person_id=person_id)
        if not persons and not (email or phone):
            raise NothingToErase(f"no person {person_id!r} in identity.person_map")
        con.execute("create or replace temp table erased_persons as select unnest(?::varchar[]) as person_id", [persons])
        con.execute(
            """create or replace temp table erased_records as
               select record_key, source, source_record_id from identity.person_map
               where person_id in (select person_id from erased_persons)"""
            if table_exists(con, "identity", "person_map") else
            "create or replace temp table erased_records (record_key varchar, source varchar, source_record_id varchar)"
        )
        report.persons = len(persons)
        report.records = con.execute("select count(*) from erased_records").fetchall()[0][0]
        con.execute("begin transaction")
        try:
            report.counts["tombstones_written"] = _write_tombstones(con, request_id)
            report.counts.update(_erase_rows(con, config, keys, DuckdbTables(con)))
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        if on_spark is not None:  # DuckDB held the run's copies; the counts are those of Spark's own tables
            report.counts.update(_erase_rows(con, config, keys, on_spark))
        report.counts["export_rows_erased"] = _erase_exports(con, config, persons, request_id)
        con.execute(
            "insert into governance.erasure_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [request_id, datetime.now(timezone.utc).replace(tzinfo=None),
             "email" if email else "phone" if phone else "person_id", report.persons, report.records,
             report.counts["raw_rows_erased"], report.counts["quarantine_rows_erased"],
             report.counts["warehouse_rows_erased"], report.counts["export_rows_erased"], report.counts["tombstones_written"]],
        )
    if rewrite:
        rewrite_without_free_blocks(config.warehouse)
    return report


def _find_persons(con, *, email, phone, person_id) -> list[str]:
    if not table_exists(con, "identity", "person_map"):
        return []
    if person_id:
        where, params = "m.person_id = ?", [person_id]
    elif email or phone:  # records hold staging's normalised values, as the temp table `requested` does
        where, params = f"r.{'email' if email else 'phone'} = (select {'email' if email else 'phone'} from requested)", []
    else:
        raise ValueError("name the person: email, phone or person_id")
    rows = con.execute(
        f"""select distinct m.person_id from identity.person_map m
            join intermediate.int_identity__records r on r.record_key = m.record_key where {where}""",
        params,
    ).fetchall()
    return sorted(r[0] for r in rows)


def _write_tombstones(con, request_id: str) -> int:
    """Keyed hashes of every identifier and record of the erased person(s), and of the request's own."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    selects = [f"select 'record' as kind, {key_sql('record_key')} as value_hmac from erased_records"]
    if table_exists(con, "intermediate", "int_identity__records"):
        selects += [  # stored values are staging's normalised ones: the key is taken as they are
            f"""select '{kind}', {key_sql('r.' + kind)} from intermediate.int_identity__records r
                where r.record_key in (select record_key from erased_records) and r.{kind} is not null"""
            for kind in KINDS
        ]
    selects += [f"select '{kind}', {key_sql(kind)} from requested" for kind in ("email", "phone")]
    before = con.execute("select count(*) from governance.erasure_tombstones").fetchall()[0][0]
    con.execute(
        f"""insert into governance.erasure_tombstones (kind, value_hmac, request_id, created_at)
            select distinct kind, value_hmac, '{request_id}', ?::timestamp from ({' union all '.join(selects)})
            where value_hmac is not null
              and (kind, value_hmac) not in (select kind, value_hmac from governance.erasure_tombstones where value_hmac is not null)""",
        [now],
    )
    return con.execute("select count(*) from governance.erasure_tombstones").fetchall()[0][0] - before


def _erase_rows(con, config: CdpConfig, keys, tables) -> dict[str, int]:
    """The erased people's rows out of `tables` (DuckdbTables, or spark.erasure.SparkTables):
    which rows is decided here, for both engines; only the deleting differs."""
    raw = _erase_raw(con, tables, config, keys) + _erase_partner_records(con, tables, config)
    return {"raw_rows_erased": raw,
            "quarantine_rows_erased": _erase_quarantine(con, tables, config, keys),
            "warehouse_rows_erased": _erase_models(tables)}


def _erase_raw(con, tables, config: CdpConfig, keys) -> int:
    """Delete matching raw rows and move their count from loaded to erased in raw.load_log."""
    return sum(tables.delete_raw_rows(source.name, erased_condition(con, source, keys))
               for source in config.sources if tables.exists(f"raw.{source.name}"))


def _erase_partner_records(con, tables, config: CdpConfig) -> int:
    """A partner's encoded records matched to an erased person: out of raw, and
    listed in erased_records so their staging rows go with the person's."""
    if not table_exists(con, "identity", "partner_matches"):
        return 0
    con.execute("""insert into erased_records select null, source, source_record_id from identity.partner_matches
                   where person_id in (select person_id from erased_persons)""")
    return sum(
        tables.delete_raw_rows(source.name, f"cast({source.mapping['source_record_id']} as varchar) in "
                                            f"(select source_record_id from erased_records where source = '{source.name}')")
        for source in config.sources if source.kind == "partner" and tables.exists(f"raw.{source.name}"))


def _count_as_erased(con, source: str, per_file: list[tuple[str, int]], counter: str) -> int:
    """Move each file's erased rows from `counter` to rows_erased, so the load log still reconciles."""
    for sha, count in per_file:
        con.execute(
            f"update raw.load_log set {counter} = {counter} - ?, rows_erased = rows_erased + ? "
            "where source = ? and sha256 = ? and status = 'loaded'",
            [count, count, source, sha],
        )
    return sum(count for _, count in per_file)


def _erase_quarantine(con, tables, config: CdpConfig, keys) -> int:
    """Quarantined rows keep their original text: match it with the same keys."""
    if not tables.exists("raw.quarantine"):
        return 0
    removed = 0
    for source in config.sources:
        columns = [c for c in source.contract]
        fields = ", ".join(f"json_extract_string(raw_record, '$.\"{c}\"') as \"{c}\"" for c in columns)
        matching = f"""
            select distinct file_sha256, row_number, action = 'row' as is_row from (
                select file_sha256, row_number, action, {fields} from {tables.quarantine_of(source.name)}
            ) as quarantined where {erased_condition(con, source, keys, tolerant=True)}
        """
        removed += tables.delete_quarantined(source.name, matching)
    return removed


# Spark's tables go one by one (spark/erasure.py): these last, so that an erasure cut short can be
# run again and still finds the person, their records and partner matches.
FINDING_TABLES = ("intermediate.int_identity__records", "identity.partner_matches", "identity.person_map")


def _erase_models(tables) -> int:
    """Every table in the model schemas keyed by person_id, record_key (or
    linked_record_key) or (source, source_record_id)."""
    removed = 0
    found = tables.model_tables(MODEL_SCHEMAS)
    found.sort(key=lambda t: FINDING_TABLES.index(f"{t[0]}.{t[1]}") if f"{t[0]}.{t[1]}" in FINDING_TABLES else -1)
    for schema, table, columns in found:
        conditions = []
        if "person_id" in columns:
            conditions.append("person_id in (select person_id from erased_persons)")
        for key in ("record_key", "linked_record_key"):
            if key in columns:
                conditions.append(f"{key} in (select record_key from erased_records)")
        if "source" in columns and "source_record_id" in columns:
            conditions.append("(source, source_record_id) in (select source, source_record_id from erased_records)")
        if schema == "identity" and table == "id_history":
            conditions.append(tables.holds_erased_person("old_person_ids"))
        if conditions:
            removed += tables.delete_where(f"{schema}.{table}", " or ".join(conditions))
    return removed


class DuckdbTables:
    """Deleting rows from the DuckDB warehouse's own tables, inside the erasure's transaction."""

    def __init__(self, con):
        self.con = con

    def exists(self, table: str) -> bool:
        return table_exists(self.con, *table.split("."))

    def delete_raw_rows(self, source: str, condition: str) -> int:
        """Rows of raw.<source> where `condition`, their count moved from loaded to erased in the load log."""
        per_file = self.con.execute(f"select _file_sha256, count(*) from raw.{source} where {condition} group by 1").fetchall()
        self.con.execute(f"delete from raw.{source} where {condition}")
        return _count_as_erased(self.con, source, per_file, "rows_loaded")

    def quarantine_of(self, source: str) -> str:
        return f"(select * from raw.quarantine where source = '{source}')"

    def delete_quarantined(self, source: str, matching: str) -> int:
        """The quarantine entries of the rows `matching` lists; rows (not nulled fields) counted as erased."""
        # Entries of loaded rows whose field was nulled (action 'field') go too, but those rows count as loaded.
        per_file = self.con.execute(f"select file_sha256, count(*) from ({matching}) where is_row group by 1").fetchall()
        self.con.execute(
            f"delete from raw.quarantine where source = '{source}' and (file_sha256, row_number) in (select file_sha256, row_number from ({matching}))"
        )
        return _count_as_erased(self.con, source, per_file, "rows_quarantined")

    def model_tables(self, schemas) -> list[tuple[str, str, list[str]]]:
        return self.con.execute(
            f"""select table_schema, table_name, list(column_name) from information_schema.columns
                where table_schema in ({', '.join(repr(s) for s in schemas)})
                  and table_name in (select table_name from information_schema.tables
                                     where table_type = 'BASE TABLE' and table_schema = information_schema.columns.table_schema)
                group by 1, 2 order by 1, 2"""
        ).fetchall()

    def holds_erased_person(self, list_column: str) -> str:
        return f"len(list_intersect({list_column}, (select list(person_id) from erased_persons))) > 0"

    def delete_where(self, table: str, where: str) -> int:
        schema, name = table.split(".")
        count = self.con.execute(f'select count(*) from "{schema}"."{name}" where {where}').fetchall()[0][0]
        if count:
            self.con.execute(f'delete from "{schema}"."{name}" where {where}')
        return count


def _erase_exports(con, config: CdpConfig, persons: list[str], request_id: str) -> int:
    """Rewrite every export folder without the erased persons, through the export writer
    (which also records them as pending erasures, so the next delta lists them as removed)."""
    if not persons or not config.exports.exists():
        return 0
    erased_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return sum(remove_persons(con, manifest.parent, "select person_id from erased_persons", request_id, erased_at)
               for manifest in sorted(config.exports.glob("*/*/manifest.json")))
