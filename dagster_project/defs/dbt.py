"""dbt stage: staging + intermediate models before identity, marts after.

Two @dbt_assets over one manifest, because identity resolution (Python)
sits between intermediate models and marts. dbt tests become asset checks.
"""


from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.dbt_workspace import DbtWorkspace


class CdpDbtTranslator(DagsterDbtTranslator):
    """Sources keep their dbt key (raw/crm, identity/person_map), so the ingest
    and identity assets are the same nodes; models are keyed <schema>/<name>
    and grouped by their folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"].get("schema") or "main", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"


def build_dbt_assets(workspace: DbtWorkspace) -> list[dg.AssetsDefinition]:
    translator = CdpDbtTranslator()

    @dbt_assets(
        manifest=workspace.manifest_path,
        select="fqn:staging fqn:intermediate resource_type:seed",
        name="dbt_staging_and_intermediate",
        dagster_dbt_translator=translator,
    )
    def dbt_before_identity(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    @dbt_assets(
        manifest=workspace.manifest_path,
        select="fqn:marts",
        name="dbt_marts",
        dagster_dbt_translator=translator,
    )
    def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    return [dbt_before_identity, dbt_marts]
