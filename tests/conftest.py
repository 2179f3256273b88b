"""Shared fixtures: fresh workspaces made from a copy of the default cdp.yml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from dagster_project.config import DEFAULT_CONFIG, load_config


def make_workspace(folder: Path, mutate=None) -> Path:
    """A copy of cdp.yml in `folder` (optionally changed); returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    if mutate:
        mutate(raw)
    path = folder / "cdp.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def workspace_factory(tmp_path_factory):
    def factory(name: str, mutate=None):
        return load_config(make_workspace(tmp_path_factory.mktemp(name), mutate))
    return factory


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)
