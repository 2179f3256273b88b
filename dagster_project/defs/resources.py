"""Resources shared by the assets: the workspace's config."""


from functools import lru_cache
from pathlib import Path

import dagster as dg

from dagster_project.config import CdpConfig, load_config


@lru_cache(maxsize=8)
def _load(path: str, modified_ns: int) -> CdpConfig:
    return load_config(path)


class CdpResource(dg.ConfigurableResource):
    """The workspace: its cdp.yml, from which every path and setting comes."""

    config_path: str

    def config(self) -> CdpConfig:
        # Keyed on the file's modification time: an edited cdp.yml is re-read.
        return _load(self.config_path, Path(self.config_path).stat().st_mtime_ns)
