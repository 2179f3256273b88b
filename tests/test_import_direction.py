"""Stages import only downward, in the order of the data flow (read with `ast`, nothing imported).

The order: ingest -> identity -> signals -> ml -> quality -> export ->
governance (dbt staging and marts sit between ingest and identity and after
it, but are SQL, not Python). Governance comes last because erasure acts on
every stage's output, exports included; the tombstones it writes (the
keep-out list) belong to ingest, which consults them before anything is
loaded. A stage module may import its own stage, an earlier one
and the neutral modules; never a later stage, nor the Dagster wiring
(`defs/`, definitions.py, pipeline.py, cli.py, run_summary.py), which may import every stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dagster_project"
LAYERS = [
    "ingest",
    "identity",
    "signals",
    "ml",
    "quality",
    "export",
    "governance",
]
NEUTRAL = {"config", "config_schema", "config_profiles", "canonical", "warehouse", "files", "identifiers"}


def layer_of(module: str) -> int | None:
    """Rank of a module (dotted, without `dagster_project.`): its most specific entry in LAYERS."""
    for rank in sorted(range(len(LAYERS)), key=lambda i: -len(LAYERS[i])):
        if module == LAYERS[rank] or module.startswith(LAYERS[rank] + "."):
            return rank
    return None


def imported_modules(path: Path) -> set[str]:
    """dagster_project modules (and names in them) that `path` imports, anywhere in the file."""
    package = path.relative_to(PACKAGE).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module
            if node.level:  # relative: from .gates import X, from . import shim
                base = ["dagster_project", *package[: len(package) - node.level + 1]]
                module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return {name.removeprefix("dagster_project.") for name in found if name.startswith("dagster_project.")}


def stage_modules() -> dict[str, Path]:
    stages = {layer.split(".")[0] for layer in LAYERS}
    return {
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts): path
        for stage in sorted(stages) for path in sorted((PACKAGE / stage).rglob("*.py"))
    }


def import_graph() -> dict[str, set[str]]:
    return {module: imported_modules(path) for module, path in stage_modules().items()}


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imports in sorted(graph.items()):
        own = layer_of(module)
        for imported in sorted(imports):
            rank = layer_of(imported)
            if rank is None and imported.split(".")[0] in NEUTRAL:
                continue
            if rank is None:
                found.append(f"{module} imports {imported}, which is neither a stage nor a neutral module")
            elif rank > own:
                found.append(f"{module} imports {imported}, a later stage ({LAYERS[rank]} after {LAYERS[own]})")
    return found


def test_no_stage_module_imports_a_later_stage_or_the_wiring():
    graph = import_graph()
    assert violations(graph) == []


def test_the_graph_is_read_from_the_sources():
    graph = import_graph()
    # Known downward edges, so an empty or broken parse cannot pass.
    assert "export.writer" in graph["governance.erasure"]
    assert "ingest.tombstones" in graph["ingest.load"] and "ingest.tombstones" in graph["governance.erasure"]
    assert "ingest.readers" in graph["ingest.load"]
    assert "quality.gates" in graph["quality.results"]  # a relative import
    assert "files" in graph["export.writer"]


def test_an_upward_or_wiring_import_is_reported():
    graph = {"ingest.load": {"export.writer", "defs.export", "config"}, "export.writer": {"ingest.load", "files"},
             "ingest.other": {"governance.requests", "ingest.tombstones"}}
    assert violations(graph) == [
        "ingest.load imports defs.export, which is neither a stage nor a neutral module",
        "ingest.load imports export.writer, a later stage (export after ingest)",
        "ingest.other imports governance.requests, a later stage (governance after ingest)",
    ]
