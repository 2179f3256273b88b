"""engine: spark end to end (issue 18), in `make test`: the whole `cdp run` through Dagster on
Spark: ingest into Spark, staging on Spark, identity (records read from Spark, Splink's predict
on Spark, the identity tables written back), the marts on Spark, the ML scores from Spark's
snapshots, the segments, their history (the dbt snapshot, rewritten as Parquet) and the
audiences on Spark, the Great Expectations gates on Spark's tables (GX's Spark execution engine),
the exports and the published DuckDB file. The same landing files on DuckDB give the same
persons, customers, segment sizes and exported rows.

Skipped without pyspark and dbt-spark (`pip install -e .[dev]` brings them). One Spark workspace,
one run; the DuckDB run reuses the identity and ML models the Spark run trained, so both score
with the same models.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from pathlib import Path
from urllib.parse import urlparse
from decimal import Decimal
from typing import NamedTuple

import pytest

from tests.conftest import require_spark

require_spark()

import duckdb

from dagster_project.config import CdpConfig, load_config
from dagster_project.generate import generate_sample
from dagster_project.pipeline import PipelineResult, run_pipeline
from dagster_project.quality.gates import SuiteRun
from dagster_project.quality.params import warehouse_gate_runs
from dagster_project.quality.spark_gates import run_suites_on_spark
from dagster_project.spark.compare import (
    MARTS, copy_models, outcome_on_duckdb, outcome_on_spark, partition_agreement,
)
from dagster_project.spark.erasure import SparkTables
from dagster_project.spark.resource import SparkResource, end_local_spark
from dagster_project.spark.tables import read_from_spark, write_to_spark
from dagster_project.warehouse import connect
from tests.conftest import copy_tree, make_workspace, slow_spark

PEOPLE = 300
WAREHOUSE_GATES = {"raw_load", "identity_person_map", "marts_dim_customer"}


class Flow(NamedTuple):
    spark_config: CdpConfig
    duckdb_config: CdpConfig
    spark: object  # the Spark session on the Spark workspace
    on_spark: dict  # compare.outcome_on_spark
    on_duckdb: dict
    spark_run: PipelineResult


def _spark_engine(raw):
    raw["engine"] = "spark"


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    spark_config = load_config(make_workspace(tmp_path_factory.mktemp("spark_flow"), _spark_engine))
    generate_sample(spark_config.landing, spark_config.truth, people=PEOPLE, seed=18, defect_rate=0)
    duckdb_config = load_config(make_workspace(tmp_path_factory.mktemp("duckdb_flow")))
    copy_tree(spark_config.landing, duckdb_config.landing)

    end_local_spark()  # a session another module left in this worker has another warehouse
    spark_run = run_pipeline(spark_config)
    assert spark_run.success, spark_run.summary.failures
    copy_models(spark_config, duckdb_config)
    duckdb_run = run_pipeline(duckdb_config)
    assert duckdb_run.success, duckdb_run.summary.failures
    resource = SparkResource.for_workspace(spark_config)
    spark = resource.session()
    yield Flow(spark_config, duckdb_config, spark, outcome_on_spark(spark_config, spark),
               outcome_on_duckdb(duckdb_config), spark_run)
    resource.release()


def test_the_whole_run_on_spark_passes_its_gates_and_publishes(flow):
    """Every step ran (the run succeeded), the warehouse gates validated Spark's tables and passed,
    and the published DuckDB file holds Spark's marts and segment history."""
    assert flow.spark_run.summary.published_now and not flow.spark_run.summary.failures
    with connect(flow.spark_config.warehouse, read_only=True) as con:
        gates = dict(con.execute("select suite, bool_and(success) from quality.validation_results "
                                 "where run_id = ? group by suite", [flow.spark_run.run_id]).fetchall())
    assert WAREHOUSE_GATES <= gates.keys() and all(gates.values())
    tables = [f"marts.{name}" for name in MARTS] + ["history.segment_membership_history"]
    with connect(flow.spark_config.published, read_only=True) as con:
        published = {table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}
    assert published["marts.segment_membership"] > 0
    assert published == {table: flow.spark.table(table).count() for table in tables}


def test_a_gate_on_spark_fails_on_planted_bad_rows(flow):
    """raw_load on Spark: a load log line whose counts do not reconcile and whose hash is no SHA-256."""
    from pyspark.sql import functions as F

    log = flow.spark.table("raw.load_log")
    planted = log.limit(1).withColumns({"file": F.lit("planted.csv"), "sha256": F.lit("NOT-A-HASH"),
                                        "rows_read": F.col("rows_read") + 1})
    log.unionByName(planted).createOrReplaceTempView("planted_load_log")
    raw_load = warehouse_gate_runs(flow.spark_config.expectations, max_cluster_size=flow.spark_config.max_cluster_size)[0]
    (gate,) = run_suites_on_spark(flow.spark, [SuiteRun(raw_load.suite_path, "select * from planted_load_log")])
    assert not gate.passed and gate.row_count == log.count() + 1
    # the reconciliation and the hash's format, each naming the planted line
    assert [outcome.expectation_type for outcome in gate.failures] == ["unexpected_rows_expectation"] * 2
    assert all(outcome.unexpected_count == 1 and outcome.samples[0]["file"] == "planted.csv" for outcome in gate.failures)


def test_spark_person_map_partitions_the_records_as_duckdb_does(flow):
    on_spark, on_duckdb = flow.on_spark, flow.on_duckdb
    records = on_duckdb["person_map"]
    assert len(on_spark["person_map"]) == len(records) > PEOPLE
    assert len({key for key, _ in on_spark["person_map"]}) == len(records)  # one row per record
    assert len({person for _, person in records}) < len(records)  # records were joined into persons
    assert partition_agreement(on_spark["person_map"], records) >= 0.999


def test_marts_on_spark_have_the_same_customers_as_on_duckdb(flow):
    duckdb_config, spark, on_spark, on_duckdb = flow.duckdb_config, flow.spark, flow.on_spark, flow.on_duckdb
    assert on_duckdb["customers"] == len({person for _, person in on_duckdb["person_map"]})
    assert on_spark["customers"] == on_duckdb["customers"]
    with connect(duckdb_config.warehouse, read_only=True) as con:
        counts = {name: con.execute(f"select count(*) from marts.{name}").fetchone()[0] for name in MARTS}
    assert counts["fct_survey_responses"] > 0
    assert {name: spark.sql(f"select count(*) from marts.{name}").collect()[0][0] for name in MARTS} == counts


def test_segments_on_spark_have_the_same_sizes_as_on_duckdb(flow):
    on_spark, on_duckdb = flow.on_spark, flow.on_duckdb
    sizes = on_duckdb["segment_sizes"]
    assert len(sizes) >= 3 and sum(sizes.values()) > 0
    assert on_spark["segment_sizes"] == sizes


def test_the_spark_run_exports_the_same_rows_as_the_duckdb_run(flow):
    """Every audience of every destination, gated and written from Spark's marts."""
    spark_config, on_spark, on_duckdb = flow.spark_config, flow.on_spark, flow.on_duckdb
    exports = on_duckdb["exports"]
    assert set(exports) == {f"{d.name}/{a}" for d in spark_config.destinations for a in d.audiences}
    assert sum(len(rows) for rows in exports.values()) > 0
    assert on_spark["exports"] == exports


def test_the_identity_tables_in_spark_are_those_resolved(flow):
    """What resolve wrote to the run's DuckDB working database, in Spark (the edges with their
    Splink comparison columns), and the other Python steps' tables beside them."""
    from dagster_project.defs.identity import RESOLVE_OUTPUTS

    spark_config, spark = flow.spark_config, flow.spark
    with connect(spark_config.warehouse, read_only=True) as con:
        counts = {table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in RESOLVE_OUTPUTS}
        edge_columns = [row[0] for row in con.execute("describe identity.edges").fetchall()]
    assert counts["identity.edges"] > 0
    assert {table: spark.table(table).count() for table in RESOLVE_OUTPUTS} == counts
    assert spark.table("identity.edges").columns == edge_columns
    assert spark.catalog.tableExists("identity.partner_matches")
    assert spark.table("signals.survey_sentiment").count() > 0


def test_tables_go_to_spark_and_back_with_their_types(flow, tmp_path):
    spark_config, spark = flow.spark_config, flow.spark
    rows = """select 'a' as key, date '2001-02-03' as born, timestamp '2024-05-06 07:08:09' as seen,
                     cast(12.34 as decimal(18, 2)) as amount, ['x', 'y'] as ids, cast(null as bigint) as missing"""
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        con.execute(f"create schema scratch; create table scratch.roundtrip as {rows}")
        write_to_spark(spark, con, spark_config, ["scratch.roundtrip"])
    with duckdb.connect(str(tmp_path / "in.duckdb")) as con:
        con.execute("create schema scratch; create table scratch.gone as select 1 as x")
        read_from_spark(spark, con, ["scratch.roundtrip", "scratch.gone"])
        back = con.execute("select * from scratch.roundtrip").fetchall()
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 "where table_name = 'roundtrip'").fetchall())
        gone = con.execute("select count(*) from information_schema.tables where table_name = 'gone'").fetchone()[0]
    spark.sql("drop table scratch.roundtrip")
    assert back == [("a", dt.date(2001, 2, 3), dt.datetime(2024, 5, 6, 7, 8, 9), Decimal("12.34"), ["x", "y"], None)]
    assert types["seen"] == "TIMESTAMP"  # not WITH TIME ZONE: as DuckDB's own tables
    assert gone == 0  # not in Spark: dropped, so no stale copy is used


def test_a_model_trained_elsewhere_is_kept_by_a_first_spark_run(flow):
    """identity/model with a model but neither the records nor a household safety in the DuckDB working
    database (a model trained elsewhere: make bench-spark's DuckDB run trains the Spark run's): whether to
    train is read from Spark's tables, so the model is kept and DuckDB gets Spark's household safety."""
    import dagster as dg

    from dagster_project.defs.identity import identity_model
    from dagster_project.defs.resources import CdpResource
    from dagster_project.identity.households import HOUSEHOLD_SAFETY_TABLE
    from dagster_project.identity.splink_settings import has_household_levels

    config = flow.spark_config
    model = config.identity_model.read_text()
    assert has_household_levels(json.loads(model))  # else the decision never reads the records or the safety
    with connect(config.warehouse) as con:
        con.execute(f"drop table intermediate.int_identity__records; drop table {HOUSEHOLD_SAFETY_TABLE}")
    result = dg.materialize([identity_model], resources={"cdp": CdpResource(config_path=str(config.path)),
                                                         "spark": SparkResource.for_workspace(config)})
    assert result.success
    (materialization,) = [event.materialization for event in result.get_asset_materialization_events()]
    assert materialization.metadata["trained_this_run"].value is False
    assert config.identity_model.read_text() == model
    with connect(config.warehouse, read_only=True) as con:
        safety = con.execute(f"select * from {HOUSEHOLD_SAFETY_TABLE}").fetchall()
        records = con.execute("select count(*) from intermediate.int_identity__records").fetchone()[0]
    assert safety == [tuple(row) for row in flow.spark.table(HOUSEHOLD_SAFETY_TABLE).collect()]
    assert records == len(flow.on_spark["person_map"])


# Erasure on Spark's tables (last in this module: it changes the Spark workspace the tests above compare),
# with CDP_SPARK_TESTS=all: the erasures and the search of every Spark table cost about 150 s.

PLANTED_FILE = "crm/contacts_erasure_planted.csv"


class Erased(NamedTuple):
    person_id: str
    values: dict  # test_erasure.identifying_values
    on_spark: object  # ErasureReport
    on_duckdb: object
    log_before: dict  # (source, sha256) -> (read, loaded, quarantined, erased) of Spark's raw.load_log


def _spark_load_log(spark) -> dict:
    return {(r.source, r.sha256): (r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_erased)
            for r in spark.table("raw.load_log").where("status = 'loaded'").collect()}


# Persons with records in >= 3 sources and an email no other person's record holds (so erasing by that
# email finds them alone), the most records first. A golden record's email is not enough: another
# person's record may hold it too (a family inbox).
SOLE_EMAIL_OWNERS = """
    with records as (select m.person_id, r.source, r.email from identity.person_map m
                     join intermediate.int_identity__records r on r.record_key = m.record_key),
         owners as (select email, min(person_id) as person_id from records where email is not null
                    group by email having count(distinct person_id) = 1),
         persons as (select person_id, count(distinct source) as sources, count(*) as n from records group by person_id)
    select o.person_id, o.email from owners o join persons p on p.person_id = o.person_id
    where p.sources >= 3 order by p.n desc, o.email"""


def _sole_email_owners(spark) -> list[tuple[str, str]]:
    """(person_id, email) of Spark's identity tables, as SOLE_EMAIL_OWNERS."""
    return [tuple(row) for row in spark.sql(SOLE_EMAIL_OWNERS).collect()]


def _person_in_both(flow) -> tuple[str, str]:
    """A sole email owner whose records are one person on both engines (so both erase the same rows)."""
    spark_people, duckdb_people = ({}, {})
    for pairs, people in ((flow.on_spark["person_map"], spark_people), (flow.on_duckdb["person_map"], duckdb_people)):
        for record, person in pairs:
            people.setdefault(person, set()).add(record)
    same = {frozenset(records) for records in spark_people.values()} & {frozenset(r) for r in duckdb_people.values()}
    candidates = [(person, email) for person, email in _sole_email_owners(flow.spark)
                  if frozenset(spark_people[person]) in same]
    assert candidates, "no person with >= 3 sources, an email of their own and the same records on both engines"
    return candidates[0]


def _plant_rows(config, email: str) -> None:
    """A new CRM file with the person's email: one valid row (raw) and one without its required
    updated_at (quarantined)."""
    header = "contact_id,first_name,last_name,email,phone,birth_date,street,zip,city,country,updated_at"
    rows = [f"P1,Erased,Planted,{email},,,1 Test Street,ZZ1 1ZZ,Leeds,GB,2025-07-02 10:00:00",
            f"P2,Erased,Planted,{email.upper()},,,1 Test Street,ZZ1 1ZZ,Leeds,GB,"]
    (config.landing / PLANTED_FILE).write_text("\n".join([header, *rows]) + "\n")


@pytest.fixture(scope="module")
def erased(flow):
    """The same person erased on both engines after a file with their email was loaded into both."""
    from dagster_project.governance.erasure import erase_person
    from dagster_project.ingest.load import load_source
    from dagster_project.ingest.tombstones import tombstone_keys
    from dagster_project.spark.ingest import load_source_to_spark
    from tests.test_erasure import identifying_values

    person_id, email = _person_in_both(flow)
    crm = next(s for s in flow.spark_config.sources if s.name == "crm")
    for config in (flow.spark_config, flow.duckdb_config):
        _plant_rows(config, email)
    assert load_source_to_spark(flow.spark, flow.spark_config, crm, keys=tombstone_keys(flow.spark_config)).total("rows_quarantined") == 1
    with connect(flow.duckdb_config.warehouse) as con:
        assert load_source(con, crm, flow.duckdb_config.landing, "", tombstone_keys(flow.duckdb_config)).total("rows_quarantined") == 1
    values = identifying_values(flow.spark_config, person_id)
    log_before = _spark_load_log(flow.spark)
    on_spark = erase_person(flow.spark_config, email=email, engine_tables=partial(SparkTables, flow.spark))
    on_duckdb = erase_person(flow.duckdb_config, email=email)
    return Erased(person_id, values, on_spark, on_duckdb, log_before)


def _spark_columns_holding(spark, values) -> list[str]:
    """Every column of every Spark table and view (all databases) with a cell that holds one of the
    person's values: ids and record keys exactly (also in arrays), emails and loyalty or device ids as
    text, phones by their digits."""
    import re

    from pyspark.sql import functions as F

    exact = sorted(values["exact"])
    texts = "|".join(re.escape(v.lower()) for v in sorted(values["substring"]) if not v.isdigit())
    digits = "|".join(v for v in sorted(values["substring"]) if v.isdigit())
    found = []
    for database in spark.catalog.listDatabases():
        for table in spark.catalog.listTables(database.name):
            if table.isTemporary:
                continue
            frame = spark.table(f"{database.name}.{table.name}")
            checks = {}
            for field in frame.schema.fields:
                column = F.col(f"`{field.name}`")
                if field.dataType.simpleString() == "string":
                    checks[field.name] = column.isin(exact) | F.lower(column).rlike(texts or "^$x") \
                        | F.regexp_replace(column, "[^0-9]", "").rlike(digits or "^$x")
                elif field.dataType.simpleString() == "array<string>":
                    checks[field.name] = F.arrays_overlap(column, F.array(*[F.lit(v) for v in exact]))
            if checks:
                hits = frame.select([F.max(F.coalesce(test, F.lit(False)).cast("int")).alias(name)
                                     for name, test in checks.items()]).collect()[0]
                found += [f"{database.name}.{table.name}.{name}" for name in checks if hits[name]]
    return found


@slow_spark
def test_erasure_on_spark_removes_the_person_from_every_spark_table(flow, erased):
    report = erased.on_spark
    assert report.persons == erased.on_duckdb.persons == 1 and report.records >= 3
    # the same rows as on DuckDB: the person's raw rows (planted one included) and their quarantined row
    assert report.counts["raw_rows_erased"] == erased.on_duckdb.counts["raw_rows_erased"] > report.records
    assert report.counts["quarantine_rows_erased"] == erased.on_duckdb.counts["quarantine_rows_erased"] >= 1
    assert report.counts["warehouse_rows_erased"] > 0
    with connect(flow.spark_config.warehouse, read_only=True) as con:
        logged = con.execute("select raw_rows_erased, quarantine_rows_erased from governance.erasure_log "
                             "where request_id = ?", [report.request_id]).fetchall()
    assert logged == [(report.counts["raw_rows_erased"], report.counts["quarantine_rows_erased"])]
    # every table and view: staging's views read raw, so the next run's models cannot bring them back
    assert _spark_columns_holding(flow.spark, erased.values) == []
    # the rewritten tables still read as they were written, less the person (dbt's are Hive text tables)
    person_map = flow.spark.table("identity.person_map")
    records = flow.spark.table("intermediate.int_identity__records")
    assert person_map.count() == records.count() == len(flow.on_spark["person_map"]) - report.records
    assert person_map.join(records, "record_key").count() == person_map.count()
    assert flow.spark.table("marts.dim_customer").count() == flow.on_spark["customers"] - 1


@slow_spark
def test_erasure_on_spark_moves_the_rows_from_loaded_to_erased_in_the_load_log(flow, erased):
    before, after = erased.log_before, _spark_load_log(flow.spark)
    assert after.keys() == before.keys()
    moved = {key: (b[1] - a[1], b[2] - a[2]) for key, (a, b) in ((k, (after[k], before[k])) for k in before)}
    assert sum(loaded for loaded, _ in moved.values()) == erased.on_spark.counts["raw_rows_erased"]
    assert sum(quarantined for _, quarantined in moved.values()) == erased.on_spark.counts["quarantine_rows_erased"]
    for key, (read, loaded, quarantined, erased_rows) in after.items():
        assert read == loaded + quarantined + erased_rows, key
        assert erased_rows - before[key][3] == sum(moved[key]), key
    held = {(r.source, r.sha256): r.n for r in flow.spark.sql(
        "select '{0}' as source, _file_sha256 as sha256, count(*) as n from raw.{0} group by 2".format("crm")).collect()}
    assert all(after[key][1] == n for key, n in held.items())


@slow_spark  # a second erasure on Spark, twice: minutes
def test_an_erasure_on_spark_cut_short_is_finished_by_running_it_again(flow, erased, monkeypatch):
    """A crash after the first table was swapped in, before its old folder was deleted; run again,
    the erasure finds the person (Spark's identity tables go last) and removes them everywhere."""
    from dagster_project.governance.erasure import erase_person
    from dagster_project.spark import erasure
    from tests.test_erasure import identifying_values

    person_id, email = _sole_email_owners(flow.spark)[0]  # not the fixture's: gone from Spark
    values = identifying_values(flow.spark_config, person_id)
    assert _spark_columns_holding(flow.spark, values)

    def crash(self, location):
        raise RuntimeError("crashed")
    with monkeypatch.context() as patched:
        patched.setattr(erasure._Files, "delete", crash)
        with pytest.raises(RuntimeError, match="crashed"):
            erase_person(flow.spark_config, email=email, engine_tables=partial(SparkTables, flow.spark))
    again = erase_person(flow.spark_config, email=email, engine_tables=partial(SparkTables, flow.spark))
    assert again.persons == 1 and again.counts["raw_rows_erased"] > 0
    assert _spark_columns_holding(flow.spark, values) == []
    for line in flow.spark.table("raw.load_log").where("status = 'loaded'").collect():
        assert line.rows_read == line.rows_loaded + line.rows_quarantined + line.rows_erased


@slow_spark
def test_erasure_on_spark_leaves_no_file_that_no_table_reads(flow, erased):
    """The replaced tables' and partitions' old data files are deleted, not only unreferenced."""
    def data_files(folder: Path) -> set[str]:  # Parquet, or text (dbt-spark's Hive tables), not hidden
        return {f.resolve().as_posix() for f in folder.rglob("part-*") if f.is_file()}

    on_disk = data_files(flow.spark_config.spark.warehouse / "warehouse")
    read = {Path(urlparse(file).path) for database in flow.spark.catalog.listDatabases()
            for table in flow.spark.catalog.listTables(database.name) if table.tableType in ("MANAGED", "EXTERNAL")
            for file in flow.spark.table(f"{database.name}.{table.name}").inputFiles()}
    # a Hive-format table (dbt-spark's) names its folder, the others their files
    read = {file for path in read for file in (data_files(path) if path.is_dir() else {path.resolve().as_posix()})}
    assert any("__erased" in file for file in read)  # tables were rewritten
    assert on_disk == read
