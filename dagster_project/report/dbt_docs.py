"""`cdp docs`: dbt's documentation site of the workspace's project (models,
columns, tests, lineage) as one static page, reports/dbt_docs/static_index.html."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dagster_project.child_process import announce_parent
from dagster_project.config import CdpConfig
from dagster_project.dbt_workspace import dbt_launcher, workspace_dbt_project


def build_dbt_docs(config: CdpConfig) -> Path:
    """`dbt docs generate --static` (the catalog reads the warehouse's column types)."""
    project = workspace_dbt_project(config)
    target = config.root / "reports" / "dbt_docs"
    announce_parent()  # the launcher checks that this process started it
    result = subprocess.run(
        [dbt_launcher(config), "docs", "generate", "--static", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir), "--target-path", str(target)],
        capture_output=True, text=True, cwd=project.project_dir,
    )
    page = target / "static_index.html"
    if result.returncode != 0 or not page.exists():
        raise RuntimeError(f"dbt docs generate failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return page
