"""Opening the warehouse waits out a short lock held by another process (a reader's query)."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest

from dagster_project.warehouse import connect

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_short_lock_is_waited_for_and_a_long_one_fails_with_duckdbs_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()

    holder = _hold_lock(path, 1.5)
    started = time.monotonic()
    with connect(path, lock_wait=30) as con:
        assert con.execute("select 1").fetchone() == (1,)
    assert time.monotonic() - started >= 0.5  # it did wait
    holder.wait()

    holder = _hold_lock(path, 10)
    try:
        with pytest.raises(duckdb.IOException, match="(?i)lock"):
            with connect(path, lock_wait=0.5):
                pass
    finally:
        holder.kill()
        holder.wait()
