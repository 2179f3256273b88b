"""The dbt project of one workspace, as a dagster-dbt `DbtProject`.

The repository's `dbt/` folder holds every hand-written model and macro. A
workspace's sources come from its cdp.yml, so its project lives in
`<workspace>/.cdp/dbt`: `WorkspaceDbtPreparer` copies `dbt/` there, adds a
staging model and a source entry per configured source, writes the vars and a
profile pointing at the workspace's warehouse, and runs `dbt parse` when
anything changed (the fingerprint of all of it is kept beside the manifest).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import sys
from functools import cached_property
from pathlib import Path

import yaml
from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import DbtProjectPreparer
from dagster_shared.record import replace
from packaging.version import Version

from dagster_project.canonical import IDENTITY_FIELDS, KIND_FIELDS, KIND_GRAIN, fields_for_kind
from dagster_project.child_process import announce_parent, launcher_dying_with_parent
from dagster_project.config import BUNDLED_DBT_PROJECT, CdpConfig, SourceConfig
from dagster_project.config_profiles import SegmentsConfig, applied_suppressions
from dagster_project.spark.local import session_settings, spark_dir
from dagster_project.spark.resource import CLUSTER_SETTINGS
from dagster_project.spark.settings import local_cores
from dagster_project.warehouse import memory_limit, threads

COPIED = ("dbt_project.yml", "macros", "models", "seeds", "snapshots", "tests")


def dbt_executable() -> str:
    """dbt from this interpreter's environment (an unactivated venv works), never one on $PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    if not candidate.exists():
        raise FileNotFoundError(f"dbt is not installed beside {sys.executable} (pip install dbt-duckdb)")
    return str(candidate)


class CdpDbtCliResource(DbtCliResource):
    """dbt as dagster-dbt runs it, minus the dbt adapter it opens in this process before each
    command (loading dbt, the project and the profile: about 2 s a command). The adapter only
    serves row counts and column metadata, which these assets do not fetch. Nor does it start
    dbt once more only to ask its version."""

    def _initialize_dbt_core_adapter(self, args):
        return None

    @cached_property
    def _cli_version(self) -> Version:
        """dbt-core's version, read from this environment (dbt_executable) rather than by starting
        `dbt --version` (3 to 4 s a run on 2 busy cores)."""
        return Version(importlib.metadata.version("dbt-core"))


def dbt_launcher(config: CdpConfig) -> str:
    """dbt behind the launcher that kills it with the process that started it (child_process.py)."""
    return launcher_dying_with_parent(dbt_executable(), config.state_dir / "bin")


def workspace_dbt_project(config: CdpConfig) -> DbtProject:
    """The workspace's dbt project, rendered and with a manifest that is up to date."""
    project_dir = config.state_dir / "dbt"
    preparer = WorkspaceDbtPreparer(config)
    if not (project_dir / "dbt_project.yml").exists():
        preparer.render(project_dir)  # DbtProject reads it when it is created
    # This dagster-dbt's DbtProject takes no preparer argument; the record's
    # replace() sets the field, so `project.preparer.prepare(project)` is ours.
    project = replace(DbtProject(project_dir, profiles_dir=project_dir), preparer=preparer)
    preparer.prepare(project)
    return project


class WorkspaceDbtPreparer(DbtProjectPreparer):
    """Renders the project from dbt/ and cdp.yml, and parses it only when that changed."""

    def __init__(self, config: CdpConfig):
        self._config = config
        self._files = render_files(config)
        self._fingerprint = _fingerprint(self._files)
        # What the models compute from (not the connection profile): incremental models
        # built from other SQL, seeds or mappings are rebuilt whole (defs/dbt.py).
        self._models_fingerprint = _fingerprint({k: v for k, v in self._files.items() if k != "profiles.yml"})

    def render(self, project_dir: Path) -> None:
        _write_project(project_dir, self._files)

    def prepare_if_dev(self, project: DbtProject) -> None:
        self.prepare(project)  # not only under `dagster dev`: `cdp run` needs the manifest too

    def prepare(self, project: DbtProject) -> None:
        if self._up_to_date(project.project_dir) and project.manifest_path.exists():
            models_fingerprint_path(project.project_dir).write_text(self._models_fingerprint)
            return
        self.render(project.project_dir)
        announce_parent()  # the launcher checks it was not orphaned before it started dbt
        dbt = CdpDbtCliResource(project_dir=project, dbt_executable=dbt_launcher(self._config))
        dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()
        _stamp(project.project_dir).write_text(self._fingerprint)
        models_fingerprint_path(project.project_dir).write_text(self._models_fingerprint)

    def _up_to_date(self, project_dir: Path) -> bool:
        stamp = _stamp(project_dir)
        return stamp.exists() and stamp.read_text() == self._fingerprint


def _stamp(project_dir: Path) -> Path:
    return project_dir / ".fingerprint"


def models_fingerprint_path(project_dir: Path) -> Path:
    """The fingerprint of the rendered models, seeds and macros (the profile left out)."""
    return Path(project_dir) / ".models_fingerprint"


def built_fingerprint_path(project_dir: Path) -> Path:
    """The models fingerprint of the last run that built every step (pipeline.finish_run)."""
    return Path(project_dir) / ".built_models_fingerprint"


def models_changed_since_last_build(project_dir: Path) -> bool:
    """Whether the models differ from those of the last complete run (or none is known)."""
    current, built = models_fingerprint_path(project_dir), built_fingerprint_path(project_dir)
    return not (current.exists() and built.exists() and current.read_text() == built.read_text())


def record_models_built(project_dir: Path) -> None:
    current = models_fingerprint_path(project_dir)
    if current.exists():
        built_fingerprint_path(project_dir).write_text(current.read_text())


# dagster-dbt gives each dbt command of a run its own target folder, <step>-<run id[:7]>-<7 hex>,
# with a copy of the manifest, the parse state and run_results.json: about 16 MB a run for an
# 800-person workspace, gigabytes a year for a daily run. The last runs' folders are kept, to read what they ran.
INVOCATION_FOLDER = re.compile(r".+-(?P<run>[0-9a-f]{7})-[0-9a-f]{7}")
KEPT_RUNS = 10


def prune_invocation_folders(project_dir: Path, run_id: str, keep_runs: int = KEPT_RUNS) -> list[Path]:
    """Deletes the dbt target folders of all runs but `run_id` and the `keep_runs` latest (by their
    folders' times); returns those deleted."""
    target, runs = Path(project_dir) / "target", {}
    for folder in target.iterdir() if target.is_dir() else ():
        match = INVOCATION_FOLDER.fullmatch(folder.name)
        if match and folder.is_dir():
            runs.setdefault(match["run"], []).append(folder)
    latest = sorted(runs, key=lambda run: max(f.stat().st_mtime for f in runs[run]), reverse=True)
    kept = {run_id[:7], *latest[:keep_runs]}
    deleted = [folder for run in latest if run not in kept for folder in runs[run]]
    for folder in deleted:
        shutil.rmtree(folder, ignore_errors=True)
    return deleted


def render_files(config: CdpConfig) -> dict[str, str]:
    """Every file of the workspace's dbt project: relative path -> text."""
    files: dict[str, str] = {}
    for name in COPIED:
        path = BUNDLED_DBT_PROJECT / name
        if path.is_file():
            files[name] = path.read_text(encoding="utf-8")
        else:
            for child in sorted(path.rglob("*")):
                if child.is_file():
                    files[str(child.relative_to(BUNDLED_DBT_PROJECT))] = child.read_text(encoding="utf-8")
    segments = config.segments  # segments.yml, read once per render
    files["dbt_project.yml"] = _project_yml(files["dbt_project.yml"], config, segments)
    files["profiles.yml"] = _profiles_yml(config)
    files["models/staging/__sources.yml"] = _sources_yml(config)
    for source in config.sources:
        files[f"models/staging/{source.name}/{source.staging_model}.sql"] = (
            f"{{# Generated from cdp.yml (source {source.name}); the SQL is in macros/stage_source.sql. #}}\n"
            f"{{{{ cdp_stage_source('{source.name}') }}}}\n"
        )
        files[f"models/staging/{source.name}/{source.staging_model}.yml"] = _staging_yml(source)
    files.update(_segment_files(segments))
    return files


def _project_yml(template: str, config: CdpConfig, segments: SegmentsConfig) -> str:
    project = yaml.safe_load(template)
    project["vars"] = {
        "cdp_sources": {
            s.name: {
                "kind": s.kind,
                "model": s.staging_model,
                "mapping": s.mapping,
                "grain": KIND_GRAIN[s.kind],
                "money_scale": max((c.scale for c in s.contract.values() if c.type == "decimal"), default=2),
                "has_identity_records": s.has_identity_records,
                "links_to": s.links_to,
                "identity_source": s.identity_source or s.name,
            }
            for s in config.sources
        },
        "cdp_canonical_fields": {kind: fields_for_kind(kind) for kind in KIND_FIELDS},
        "cdp_identity_fields": list(IDENTITY_FIELDS),
        "cdp_deterministic_keys": list(config.deterministic_keys),
        "cdp_default_phone_country_code": config.default_phone_country_code,
        "cdp_max_shared_group": config.max_shared_group,
        "cdp_consent_defaults": dict(config.consent_defaults),
        "cdp_enrichment_max_age_days": config.enrichment_max_age_days,
        **_profile_vars(config, segments),
    }
    return yaml.safe_dump(project, sort_keys=False)


def _profile_vars(config: CdpConfig, segments: SegmentsConfig) -> dict:
    """Golden record, traits, model horizons, actions and segments as dbt vars."""
    golden, traits = config.golden_record, config.traits
    return {
        "cdp_survivorship": {
            "trust": {name: rank for rank, name in enumerate(golden.source_trust, start=1)},
            "attributes": [{"name": a.name, "fields": list(a.fields), "rule": a.rule} for a in golden.attributes],
        },
        "cdp_traits": {
            "as_of": traits.as_of,
            "session_gap_minutes": traits.session_gap_minutes,
            "abandoned_cart_after_days": traits.abandoned_cart_after_days,
            "abandoned_cart_lookback_days": traits.abandoned_cart_lookback_days,
            "recent_days": traits.recent_days,
            "loyalty_tiers": [{"tier": t, "points": p} for t, p in traits.loyalty_tiers.items()],
        },
        "cdp_models": {
            "churn_horizon_days": config.models.churn_horizon_days,
            "propensity_horizon_days": config.models.propensity_horizon_days,
            "snapshot_offsets": config.models.snapshot_offsets,
        },
        "cdp_next_best_action": [{"action": r.action, "when": r.when, "description": r.description} for r in config.next_best_action],
        "cdp_suppressions": dict(segments.suppressions),
        "cdp_segments": {
            s.name: {"description": s.description, "where": s.where, "marketing": s.marketing,
                     "suppressions": applied_suppressions(segments, s), "enrichment": s.enrichment}
            for s in segments.segments
        },
    }


def _segment_files(segments: SegmentsConfig) -> dict[str, str]:
    """One dbt model per segment of segments.yml: adding a segment is a config change."""
    files = {}
    for segment in segments.segments:
        model = f"seg_{segment.name}"
        files[f"models/activation/segments/{model}.sql"] = (
            f"{{# Generated from {segments.path.name} (segment {segment.name}); the SQL is in macros/segments.sql. #}}\n"
            f"{{{{ cdp_segment('{segment.name}') }}}}\n"
        )
        suppressed = applied_suppressions(segments, segment)
        yml = {"version": 2, "models": [{
            "name": model,
            "description": (segment.description or f"Segment {segment.name}.")
            + f" Members: customer_traits where `{segment.where}`"
            + (f", minus suppressions {', '.join(suppressed)}." if suppressed else "."),
            "columns": [
                {"name": "person_id", "description": "A member of the segment.", "data_tests": ["unique", "not_null"]},
                {"name": "segment", "description": f"Always '{segment.name}'."},
            ],
        }]}
        files[f"models/activation/segments/{model}.yml"] = yaml.safe_dump(yml, sort_keys=False)
    return files


def _profiles_yml(config: CdpConfig) -> str:
    duckdb_target = {
        "type": "duckdb", "path": str(config.warehouse), "schema": "main",
        "threads": "{{ env_var('CDP_THREADS', '%d') | as_number }}" % threads(),
        "settings": {"memory_limit": "{{ env_var('CDP_MEMORY_LIMIT', '%s') }}" % memory_limit(),
                     "threads": "{{ env_var('CDP_THREADS', '%d') | as_number }}" % threads()},
    }
    profile = {"cdp": {"target": "spark" if config.engine == "spark" else "local",
                       "outputs": {"local": duckdb_target, "spark": _spark_target(config)}}}
    return yaml.safe_dump(profile, sort_keys=False)


def _spark_target(config: CdpConfig) -> dict:
    """dbt-spark: the Thrift server of a cluster when cdp.yml names one, else a session in dbt's
    own process on the local warehouse (spark.master local[N])."""
    spark = config.spark
    if spark.thrift_host:
        return {"type": "spark", "method": "thrift", "host": spark.thrift_host, "port": spark.thrift_port,
                "schema": "main", "threads": 4, "server_side_parameters": CLUSTER_SETTINGS}  # as the run's session
    # One dbt thread per core: most of a data test's time is Spark planning it on the driver.
    return {"type": "spark", "method": "session", "host": "localhost", "schema": "main",
            "threads": local_cores(spark.master),
            "server_side_parameters": session_settings(spark_dir(config), spark.master)}


def _sources_yml(config: CdpConfig) -> str:
    tables = [
        {
            "name": s.name,
            "description": f"Landing files {s.glob} ({s.format}, kind {s.kind}) loaded under their contract by the ingest asset raw/{s.name}.",
        }
        for s in config.sources
    ]
    return yaml.safe_dump({"version": 2, "sources": [{"name": "raw", "schema": "raw", "tables": tables}]}, sort_keys=False)


def _staging_yml(source: SourceConfig) -> str:
    grain = KIND_GRAIN[source.kind]
    # The latest version per non-null grain key: unique and not null by construction (defs/dbt.py).
    by_construction = {"config": {"tags": ["cdp_by_construction"]}} if grain not in IDENTITY_FIELDS else {}
    tests = [{test: by_construction} if by_construction else test for test in ("unique", "not_null")]
    columns = [{"name": grain, "description": f"Grain of the model: the latest version of each {grain}.", "data_tests": tests}]
    columns += [
        {"name": field, "description": f"Canonical {field}, mapped from `{expression}`."}
        for field, expression in source.mapping.items()
        if field != grain and field not in IDENTITY_FIELDS
    ]
    model = {
        "name": source.staging_model,
        "description": (
            f"Source {source.name} ({source.kind}) mapped to canonical fields, latest version per {grain}, "
            "identifiers normalised (email lower case, phone E.164, names folded for matching; originals kept as *_original)."
        ),
        "columns": columns,
    }
    return yaml.safe_dump({"version": 2, "models": [model]}, sort_keys=False)


def _fingerprint(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name].encode())
    digest.update(dbt_executable().encode())
    return digest.hexdigest()


def _write_project(project_dir: Path, files: dict[str, str]) -> None:
    for name in (*COPIED, "profiles.yml"):
        target = project_dir / name
        if target.is_dir():
            shutil.rmtree(target)
    for name, text in files.items():
        path = project_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
