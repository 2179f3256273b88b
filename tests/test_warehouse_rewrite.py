"""Deleted rows stay in a DuckDB file's bytes; the rewrite leaves none of them and keeps every object."""

from __future__ import annotations

import pytest

from dagster_project.warehouse import connect, rewrite_without_free_blocks

ERASED = "erase.me.please@example.org"


@pytest.fixture
def warehouse_with_deleted_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute("create schema marts; create schema staging; create sequence marts.ids")
        con.execute("create table marts.people as select nextval('marts.ids') as id, 'person' || i || '@example.org' as email from range(1000) t(i)")
        con.execute(f"insert into marts.people values (nextval('marts.ids'), '{ERASED}')")
        con.execute("create view staging.people as select email from marts.people")  # names its schema, not the file
        con.execute("create macro marts.domain(email) as split_part(email, '@', 2)")
        con.execute("checkpoint")
        con.execute(f"delete from marts.people where email = '{ERASED}'")
        con.execute("checkpoint")
    return path


def test_the_rewrite_leaves_no_bytes_of_deleted_rows_and_keeps_every_object(warehouse_with_deleted_rows):
    path = warehouse_with_deleted_rows
    assert ERASED.encode() in path.read_bytes()  # deleted, checkpointed, still readable in the file
    rewrite_without_free_blocks(path)
    assert ERASED.encode() not in path.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["warehouse.duckdb"]  # no WAL, no temporary file
    with connect(path) as con:
        assert con.execute("select count(*), count(distinct email) from staging.people").fetchall() == [(1000, 1000)]
        assert con.execute("select marts.domain(min(email)) from marts.people").fetchall() == [("example.org",)]
        assert con.execute("select nextval('marts.ids')").fetchall()[0][0] > 0
        assert "warehouse" not in con.execute("select sql from duckdb_views() where view_name = 'people'").fetchall()[0][0]
