"""One run per workspace at a time: an exclusive lock on `<state dir>/run.lock`.

The lock is `fcntl.flock` on the file, so the operating system releases it
when the holding process ends, even by `kill -9`. The file also says who
holds it (pid, host, start time, what runs) for the message a second run
prints. A lock that is still held but whose holder is gone is stale and is
broken: the recorded pid is no longer alive on this host (a forked child
kept the lock open), or it was taken on another host (a shared folder) more
than STALE_AFTER ago.

Only the standard library is imported: a second `cdp run` answers at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

LOCK_FILE = "run.lock"
STALE_AFTER = timedelta(hours=24)  # for a lock taken on another host
POLL_SECONDS = 0.5

# Lock files this process holds: a nested acquisition (a Dagster run inside
# `cdp run`) is a no-op instead of a conflict with itself.
_held_here: set[Path] = set()


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: str  # ISO 8601, UTC
    run: str

    def describe(self) -> str:
        started = _parse_time(self.started_at)
        when = started.strftime("%Y-%m-%d %H:%M:%S UTC") if started else self.started_at
        return f"pid {self.pid} on {self.host}, started {when} ({self.run})"

    def is_stale(self, now: datetime | None = None) -> bool:
        if self.pid <= 0:
            return False  # not known yet: assume alive
        if self.host == socket.gethostname():
            return not _pid_alive(self.pid)
        started = _parse_time(self.started_at)
        return started is None or (now or datetime.now(timezone.utc)) - started > STALE_AFTER


UNKNOWN_HOLDER = Holder(0, "an unknown host", "at an unknown time", "details not written yet")


class WorkspaceBusy(Exception):
    """Another process holds the workspace's run lock."""

    def __init__(self, lock_path: Path, holder: Holder):
        self.lock_path, self.holder = lock_path, holder
        super().__init__(f"workspace {lock_path.parent.parent} is busy: a run by {holder.describe()} holds {lock_path}")


def lock_path(state_dir: Path) -> Path:
    return Path(state_dir) / LOCK_FILE


@contextmanager
def workspace_lock(state_dir: Path, run: str, wait: float = 0):
    """Hold the workspace's run lock for the block; wait up to `wait` seconds
    (float('inf'): until it is free), then raise WorkspaceBusy. Yields the
    Holder a killed run left in the file, if any, else None."""
    path = lock_path(state_dir).resolve()
    if path in _held_here:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, left_behind = _acquire(path, wait)
    _held_here.add(path)
    try:
        _write_holder(fd, run)
        yield left_behind
    finally:
        _held_here.discard(path)
        os.ftruncate(fd, 0)  # an empty file means: released cleanly
        os.close(fd)  # closing releases the flock


def current_holder(state_dir: Path) -> Holder | None:
    """Who holds the workspace's run lock now (this process included), or None."""
    path = lock_path(state_dir)
    if not path.exists():
        return None
    if path.resolve() in _held_here:
        return _read_holder_file(path) or Holder(os.getpid(), socket.gethostname(), "", "this process")
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd) or UNKNOWN_HOLDER  # locked a moment before writing its details
        return None if holder.is_stale() else holder
    finally:
        os.close(fd)
    return None


def _acquire(path: Path, wait: float) -> tuple[int, Holder | None]:
    deadline = time.monotonic() + wait
    broken = None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd) or UNKNOWN_HOLDER
            if holder.is_stale() and _same_file(fd, path):
                path.unlink()  # the holder is gone: its successor locks a fresh file
                os.close(fd)
                broken = holder
                continue
            os.close(fd)
            if time.monotonic() >= deadline:
                raise WorkspaceBusy(path, holder) from None
            time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
            continue
        if not _same_file(fd, path):  # broken and replaced between open and flock
            os.close(fd)
            continue
        return fd, _read_holder(fd) or broken


def _write_holder(fd: int, run: str) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": run,
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    os.fsync(fd)


def _read_holder(fd: int) -> Holder | None:
    try:
        raw = json.loads(os.pread(fd, 4096, 0) or b"null")
        return Holder(int(raw["pid"]), str(raw["host"]), str(raw["started_at"]), str(raw.get("run", "")))
    except (ValueError, TypeError, KeyError):
        return None  # empty (released cleanly) or not ours


def _read_holder_file(path: Path) -> Holder | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read_holder(fd)
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
