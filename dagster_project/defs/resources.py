"""Resources shared by the assets: the workspace's config."""


from functools import lru_cache

import dagster as dg

from dagster_project.config import CdpConfig, load_config


@lru_cache(maxsize=8)
def _load(path: str) -> CdpConfig:
    return load_config(path)


class CdpResource(dg.ConfigurableResource):
    """The workspace: its cdp.yml, from which every path and setting comes."""

    config_path: str

    def config(self) -> CdpConfig:
        return _load(self.config_path)
