"""Analyst docs: every column of the marts schema (marts, activation and segment
models, what the published warehouse offers analysts) is described in dbt's yml,
so `cdp docs` explains it. Compared against the columns the tables really have."""

from __future__ import annotations

import json

from dagster_project.dbt_workspace import workspace_dbt_project
from dagster_project.warehouse import connect

ANALYST_SCHEMA = "marts"


def described_columns(config) -> dict[str, set[str]]:
    """Model name -> its columns that have a description in the yml, from the workspace's dbt manifest."""
    nodes = json.loads(workspace_dbt_project(config).manifest_path.read_text())["nodes"].values()
    return {node["name"]: {name.lower() for name, column in node["columns"].items() if column.get("description", "").strip()}
            for node in nodes if node["resource_type"] == "model" and node["schema"] == ANALYST_SCHEMA}


def test_every_mart_column_has_a_description(multi_day):
    config = multi_day["config"]
    described = described_columns(config)
    with connect(config.warehouse, read_only=True) as con:
        columns = con.execute("select table_name, column_name from information_schema.columns where table_schema = ?",
                              [ANALYST_SCHEMA]).fetchall()
    assert {table for table, _ in columns} == set(described)  # every mart table is a documented model
    undescribed = [f"{table}.{column}" for table, column in columns if column.lower() not in described[table]]
    assert undescribed == []
