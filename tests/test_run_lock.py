"""One run per workspace: a second `cdp run` refuses at once or waits; stale locks are taken over.

Other processes hold the lock here through the lock module itself (no pipeline runs).
"""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from dagster_project.cli import _parser, main
from dagster_project.config import PROJECT_ROOT, load_config
from dagster_project.run_lock import WorkspaceBusy, current_holder, lock_path, workspace_lock
from tests.conftest import make_workspace

# Holds the workspace lock, as `cdp run` does, until a line arrives on stdin
# or, given a second argument, for that many seconds.
HOLD = """
import sys, time
from pathlib import Path
from dagster_project.run_lock import workspace_lock
with workspace_lock(Path(sys.argv[1]), "cdp run"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2])) if len(sys.argv) > 2 else sys.stdin.readline()
"""

# Holds an flock on the lock file whose content names another holder (as a
# forked child that outlived its killed parent would).
HOLD_AS = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, sys.argv[2].encode())
print("held", flush=True)
sys.stdin.readline()
"""


def _start(script: str, *args) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=PROJECT_ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    return process


@pytest.fixture
def holders():
    started = []

    def start(script, *args):
        started.append(_start(script, *args))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def workspace(tmp_path):
    return load_config(make_workspace(tmp_path / "w"))


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / ".cdp"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_second_cdp_run_refuses_at_once_naming_the_running_process(workspace, holders, capsys):
    holder = holders(HOLD, workspace.state_dir)
    started = time.monotonic()
    status = main(["run", "--config", str(workspace.path)])
    assert status == 5
    assert time.monotonic() - started < 5
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert f"pid {holder.pid} on {socket.gethostname()}, started " in lines[0]
    assert "UTC (cdp run)" in lines[0] and "not started" in lines[0] and "--wait" in lines[0]


@pytest.mark.parametrize("command", [["erase", "--email", "a@example.com"], ["identity", "train"], ["models", "train"]])
def test_other_writing_commands_refuse_while_a_run_holds_the_workspace(workspace, holders, capsys, command):
    holder = holders(HOLD, workspace.state_dir)
    assert main([*command, "--config", str(workspace.path)]) == 5
    assert f"pid {holder.pid} on {socket.gethostname()}" in capsys.readouterr().err


def test_wait_gives_up_after_its_seconds(workspace, holders, capsys):
    holders(HOLD, workspace.state_dir)
    started = time.monotonic()
    assert main(["run", "--config", str(workspace.path), "--wait", "0.6"]) == 5
    assert time.monotonic() - started >= 0.6
    assert "is busy" in capsys.readouterr().err


def test_wait_without_seconds_waits_until_the_run_ends():
    assert _parser().parse_args(["run", "--wait"]).wait == float("inf")
    assert _parser().parse_args(["run"]).wait == 0


def test_waiting_proceeds_once_the_first_run_ends(state_dir, holders):
    holders(HOLD, state_dir, 1.0)
    started = time.monotonic()
    with workspace_lock(state_dir, "second", wait=30) as left_behind:
        assert time.monotonic() - started > 0.5
        assert left_behind is None  # the first run released it cleanly
        assert current_holder(state_dir).run == "second"
    assert current_holder(state_dir) is None


def test_the_lock_of_a_killed_run_is_taken_over(state_dir, holders):
    killed = holders(HOLD, state_dir)
    with pytest.raises(WorkspaceBusy):
        with workspace_lock(state_dir, "second"):
            pass
    killed.kill()  # kill -9: the OS releases the flock, the file still names it
    killed.wait()
    with workspace_lock(state_dir, "second") as left_behind:
        assert left_behind.pid == killed.pid
        assert current_holder(state_dir).pid == os.getpid()


def _holder_json(pid: int, host: str, started: datetime) -> str:
    return json.dumps({"pid": pid, "host": host, "started_at": started.isoformat(), "run": "cdp run"})


def test_a_lock_still_held_for_a_dead_pid_is_broken(state_dir, holders):
    dead = _dead_pid()
    state_dir.mkdir(parents=True)
    holders(HOLD_AS, lock_path(state_dir), _holder_json(dead, socket.gethostname(), datetime.now(timezone.utc)))
    assert current_holder(state_dir) is None  # stale: nothing to wait for
    with workspace_lock(state_dir, "second") as left_behind:
        assert left_behind.pid == dead
        assert current_holder(state_dir).run == "second"


def test_another_hosts_lock_is_stale_only_after_the_limit(state_dir, holders):
    state_dir.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    recent = holders(HOLD_AS, lock_path(state_dir), _holder_json(1, "other-host", now - timedelta(hours=1)))
    with pytest.raises(WorkspaceBusy, match="pid 1 on other-host"):
        with workspace_lock(state_dir, "second"):
            pass
    recent.kill()
    recent.wait()
    holders(HOLD_AS, lock_path(state_dir), _holder_json(1, "other-host", now - timedelta(days=2)))
    with workspace_lock(state_dir, "second") as left_behind:
        assert left_behind.host == "other-host"
