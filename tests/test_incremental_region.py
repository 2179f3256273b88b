"""An incremental run clusters again only the records a change can reach (identity.region), and
gives what a full recompute gives.

Each case changes a copy of the multi-day workspace's warehouse (resolved once by this code, so
its clustering state is stored), then resolves one copy incrementally and another in full, and
compares the partition, the person ids, the edges, the accepted conflicts and the id history.
The cases stress the region's edges: an erased record, a record at a household address (the
household pass), a record of a duplicate-free source (the best-link pass), a record whose first
name crosses a frequency line of the conflict rule, and a batch that flips a source's
duplicate-free verdict, which must cluster everything.
"""

from __future__ import annotations

import dataclasses

import pytest

from dagster_project.identity.region import records_of_moved_names
from dagster_project.identity.resolve import resolve_identities
from dagster_project.warehouse import connect
from tests.test_incremental import LINKS, RECORDS, _add_records, _copy, _partition


@pytest.fixture(scope="module")
def resolved(multi_day, tmp_path_factory):
    """The multi-day workspace's warehouse, resolved again (incrementally) by this code."""
    config = _copy(multi_day["config"], tmp_path_factory.mktemp("region") / "base")
    with connect(config.warehouse) as con:
        resolve_identities(con, config, "base", full=False)
    return config


def _compare(base, folder, change, config_change=lambda config: config):
    """Apply `change` (a function of a connection) to a copy of `base`, resolve it incrementally
    and a copy of it in full; assert they agree. Returns the incremental report and config."""
    config = config_change(_copy(base, folder / "incremental"))
    with connect(config.warehouse) as con:
        change(con)
    full_config = _copy(config, folder / "full")
    with connect(config.warehouse) as con:
        incremental = resolve_identities(con, config, "next", full=False)
    with connect(full_config.warehouse) as con:
        full = resolve_identities(con, full_config, "next", full=True)
    with connect(config.warehouse) as con, connect(full_config.warehouse) as full_con:
        assert _partition(con) == _partition(full_con)  # the same partition, and the same ids
        for query, key in (
            ("select * exclude (run_id) from identity.edges", ["record_key", "linked_record_key", "rule"]),
            ("select * from identity.accepted_conflicts", ["record_key", "linked_record_key", "reason"]),
            ("select * exclude (recorded_at) from identity.id_history where run_id = 'next'", ["event", "person_id", "records"]),
            ("select * exclude (run_id, resolved_at) from identity.person_map", ["record_key"]),
        ):
            ours, theirs = con.sql(query).pl().sort(key), full_con.sql(query).pl().sort(key)
            assert ours.equals(theirs), query
    assert (incremental.persons, incremental.links, incremental.merges, incremental.splits, incremental.accepted_conflicts) == \
        (full.persons, full.links, full.merges, full.splits, full.accepted_conflicts)
    return incremental, config


def _region_size(report) -> int:
    assert not report.region.startswith("all records"), report.region
    return int(report.region.split(" of ")[0])


def _pass_candidates_of(config, key: str, kind: str) -> int:
    with connect(config.warehouse) as con:
        return con.execute("select count(*) from identity.pass_candidates where pass = ? and ? in (record_key, linked_record_key)",
                           [kind, key]).fetchall()[0][0]


def _record(con, where: str) -> dict:
    """The first record (by key) matching `where`, as a dict of its columns."""
    return con.sql(f"select * from {RECORDS} where {where} order by record_key limit 1").pl().row(0, named=True)


def _new_record(template: dict, key: str, **values) -> dict:
    """A new record of `template`'s source with the given fields (the others left empty)."""
    source = template["source"]
    return {"record_key": f"{source}:{key}", "source": source, "source_record_id": key, **values}


def test_a_run_with_nothing_new_clusters_no_record_again(resolved, tmp_path):
    report, _ = _compare(resolved, tmp_path, lambda con: None)
    assert _region_size(report) == 0, report.region


def test_an_erased_record_of_a_person_with_several(resolved, tmp_path):
    def erase(con):
        key = con.execute("select record_key from identity.person_map where cluster_size >= 3 order by record_key limit 1").fetchall()[0][0]
        con.execute(f"delete from {RECORDS} where record_key = ?", [key])
        con.execute(f"delete from {LINKS} where record_key = ? or linked_record_key = ?", [key, key])

    report, _ = _compare(resolved, tmp_path, erase)
    assert 2 <= _region_size(report) < report.records / 2


def test_a_new_record_at_a_household_address(resolved, tmp_path):
    """A second spelling of a member's first name at their address, nothing else: the household
    pass's candidate, which the region must follow."""
    def add(con):
        member = _record(con, "first_name_norm like '_____%' and last_name_norm is not null and address_line_norm like '% %' "
                              "and postcode_norm is not null and date_of_birth is not null")
        first = member["first_name_norm"]
        _add_records(con, _new_record(member, "household-1", first_name_norm=first[0] + first[2] + first[1] + first[3:],
                                      last_name_norm=member["last_name_norm"], address_line_norm=member["address_line_norm"],
                                      postcode_norm=member["postcode_norm"]))

    report, config = _compare(resolved, tmp_path, add)
    with connect(config.warehouse) as con:
        key = con.execute(f"select record_key from {RECORDS} where source_record_id = 'household-1'").fetchall()[0][0]
    assert _pass_candidates_of(config, key, "household") >= 1
    assert _region_size(report) >= 2


def test_a_new_record_of_a_duplicate_free_source(resolved, tmp_path_factory):
    """Two sources declared duplicate-free (the best-link pass runs between them), then a new record of one of them."""
    folder = tmp_path_factory.mktemp("best_link")

    def declare(config):
        sources = [dataclasses.replace(source, one_record_per_person=True) if source.name in ("crm", "ecommerce_accounts")
                   else source for source in config.sources]
        return dataclasses.replace(config, sources=sources)

    base = declare(_copy(resolved, folder / "declared"))
    with connect(base.warehouse) as con:
        assert resolve_identities(con, base, "declared", full=False).region.startswith("all records")

    def add(con):
        account = _record(con, "source = 'ecommerce_accounts' and first_name_norm is not null and date_of_birth is not null "
                               "and last_name_norm is not null")
        _add_records(con, _new_record({"source": "crm"}, "best-link-1", first_name_norm=account["first_name_norm"],
                                      last_name_norm=account["last_name_norm"][::-1], date_of_birth=account["date_of_birth"]))

    report, config = _compare(base, folder, add)
    assert {"crm", "ecommerce_accounts"} <= set(report.one_record_sources)
    assert _pass_candidates_of(config, "crm:best-link-1", "best_link") >= 1
    assert _region_size(report) >= 1


def test_a_new_record_whose_first_name_becomes_a_known_name(resolved, tmp_path):
    """A first name written twice becomes a real name (written three times) to the conflict rule:
    its two other records join the region, though nothing links them to the new one."""
    def add(con):
        name = con.execute(f"select first_name_norm from {RECORDS} where first_name_norm is not null group by all "
                           "having count(*) = 2 order by 1 limit 1").fetchall()[0][0]
        template = _record(con, "true")
        _add_records(con, _new_record(template, "known-name-1", first_name_norm=name, last_name_norm="zzyzx",
                                      date_of_birth="1900-01-01"))
        named = {row[0] for row in con.execute(f"select record_key from {RECORDS} where first_name_norm = ?", [name]).fetchall()}
        assert len(named) == 3 and named <= set(records_of_moved_names(con, RECORDS).to_list())

    report, _ = _compare(resolved, tmp_path, add)
    assert _region_size(report) >= 3


def test_a_batch_that_flips_a_duplicate_free_verdict_clusters_everything(resolved, tmp_path):
    """Three records of a source detected duplicate-free, each the copy of another of its records."""
    def copy_three(con):
        con.execute(
            f"""insert into {RECORDS} select * replace ('loyalty:copy-' || record_key as record_key,
                                                      'copy-' || source_record_id as source_record_id)
            from {RECORDS} where source = 'loyalty' and first_name_norm is not null order by record_key limit 3""")

    with connect(resolved.warehouse) as con:
        assert con.execute("select one_record_per_person from identity.one_record_sources where source = 'loyalty'").fetchall() == [(True,)]
    report, _ = _compare(resolved, tmp_path, copy_three)
    assert report.region == "all records: a source's duplicate-free verdict changed"
    assert "loyalty" not in report.one_record_sources


def test_a_batch_that_flips_a_minimum_age_read_from_the_records_clusters_everything(resolved, tmp_path):
    """Children's records (born ten years before their date) added to a source read as 16 and
    over, one in ten of its dated records: it becomes a source of any age."""
    with connect(resolved.warehouse) as con:
        source = con.execute("select source from identity.source_min_ages where min_age is not null order by source limit 1").fetchall()[0][0]
        dated = con.execute(f"select count(*) from {RECORDS} where source = ? and date_of_birth is not null", [source]).fetchall()[0][0]

    def add_children(con):
        con.execute(
            f"""insert into {RECORDS} select * replace ('{source}:child-' || source_record_id as record_key,
                                                      'child-' || source_record_id as source_record_id,
                                                      cast(updated_at - interval 10 years as date) as date_of_birth)
            from {RECORDS} where source = ? and date_of_birth is not null and last_name_norm is not null
            order by record_key limit {dated // 10}""", [source])

    report, _ = _compare(resolved, tmp_path, add_children)
    assert report.region.startswith("all records: the identity settings, the sources' minimum ages"), report.region
    assert source not in report.min_ages
