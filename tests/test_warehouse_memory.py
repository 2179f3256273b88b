"""DuckDB's memory limit: a share of the machine, or $CDP_MEMORY_LIMIT, for the run's connections and dbt's."""

import os

import yaml

from tests.conftest import make_workspace
from dagster_project.config import load_config
from dagster_project.dbt_workspace import _profiles_yml
from dagster_project.warehouse import MEMORY_SHARE, connect, memory_limit, memory_share


def _limit_bytes(con) -> int:
    # memory_limit reads back in DuckDB's units (e.g. "8.9 GiB"); duckdb's own parser gives bytes.
    return con.execute("select current_setting('memory_limit')").fetchall()[0][0]


def test_default_limit_is_a_share_of_the_machine(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_MEMORY_LIMIT", raising=False)
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_limit() == f"{int(machine * MEMORY_SHARE) // 2**20}MiB"
    with connect(tmp_path / "w.duckdb") as con:
        shown = _limit_bytes(con)
    # DuckDB's default (80% of the machine) would read about twice as much.
    value, unit = shown.split()
    gib = float(value) * {"MiB": 1 / 1024, "GiB": 1.0, "TiB": 1024.0}[unit]
    assert abs(gib - machine * MEMORY_SHARE / 2**30) < 0.1


def test_environment_sets_the_limit_for_python_and_dbt(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_MEMORY_LIMIT", "300MB")
    with connect(tmp_path / "w.duckdb") as con:
        assert _limit_bytes(con) in ("286.1 MiB", "300.0 MB")
    with connect(tmp_path / "w.duckdb", read_only=True) as con:
        assert _limit_bytes(con) in ("286.1 MiB", "300.0 MB")
    settings = yaml.safe_load(_profiles_yml(load_config(make_workspace(tmp_path / "ws"))))["cdp"]["outputs"]["local"]["settings"]
    assert settings["memory_limit"].startswith("{{ env_var('CDP_MEMORY_LIMIT'")


def test_a_python_heavy_step_lowers_the_limit_for_a_while(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_MEMORY_LIMIT", raising=False)
    with connect(tmp_path / "w.duckdb") as con:
        usual = _limit_bytes(con)
        with memory_share(con, MEMORY_SHARE / 2):
            lowered = _limit_bytes(con)
            assert con.execute("select current_setting('memory_limit') = ?", [lowered]).fetchall()[0][0]
        assert _limit_bytes(con) == usual
    assert lowered != usual
    value, unit = lowered.split()
    gib = float(value) * {"MiB": 1 / 1024, "GiB": 1.0, "TiB": 1024.0}[unit]
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert abs(gib - machine * MEMORY_SHARE / 2 / 2**30) < 0.1
