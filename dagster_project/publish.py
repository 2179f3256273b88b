"""The published warehouse: a read-only copy for analysts and BI tools.

DuckDB lets one process write a database file and locks the whole file per
process, readers included, so nobody may read the working warehouse while a
run writes it. After each good run (and each erasure) the warehouse is copied
to a temporary file beside `published:` and renamed over it. A rename is
atomic: a new reader opens the newest snapshot, and a reader already connected
keeps the file it opened (its inode lives on until it disconnects). A run that
fails publishes nothing, so the last good snapshot stays.

The copy is a plain file copy made while this process holds the warehouse open
for writing, after a checkpoint: no other process can write it meanwhile (the
lock) and the checkpoint has moved every change from the WAL into the file.
Measured on 2 busy cores: the 5,000-person sample (50 MB) takes 0.17 s,
against 1.3 s for DuckDB's `COPY FROM DATABASE` into a new file; a
100,000-person warehouse (713 MB) 4.6-5.3 s, against 25 s.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster_project.config import CdpConfig
from dagster_project.files import sync_file, sync_folder
from dagster_project.warehouse import connect


def publish_warehouse(config: CdpConfig) -> Path:
    """Replace config.published with a consistent copy of config.warehouse; returns its path."""
    target = config.published
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")  # one name: a killed publish leaves no litter
    try:
        with connect(config.warehouse) as con:
            con.execute("checkpoint")
            _copy_durably(config.warehouse, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(target.parent)
    return target


def _copy_durably(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    sync_file(target)
