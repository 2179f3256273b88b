"""dbt started warm: each dbt command of a run forks from a process that imported dbt once.

Starting dbt costs about 3 s before it reads a model, half of it importing dbt
(1.5 s on an idle core; more on a busy one). A run starts dbt three times (its
three selections, defs/dbt.py), so every run paid that about 5 s, whatever
its batch, and a test suite dozens of times. During a run, a server process
imports dbt once (while the run ingests its files), and each dbt command runs
in a copy of it made by fork: a no-op `dbt build` took 1.4 s forked against
3.0 s started cold.

The launcher dagster-dbt starts (child_process.py) is the client: it hands the
server dbt's arguments, its working directory, its environment and its
standard streams (file descriptors passed over the Unix socket), waits for
the copy's exit status and exits with it. Without a server (a Dagster run
started elsewhere, `cdp docs`) or when it does not answer, the launcher execs
dbt as before: nothing has run yet then.

Ending: the copy dies when its launcher does (it watches the launcher's
connection and kills itself when it closes; the launcher dies with the step
that started it) and when the server does (PR_SET_PDEATHSIG); the server
dies with the run that started it, and is stopped when the run ends.
SIGINT and SIGTERM sent to the launcher (dagster-dbt's cancel) go to the copy.
The server waits for its copies, so the run's accounting of its child
processes (CPU time, peak memory) counts them as it counted dbt started cold.
Linux only: elsewhere dbt starts cold.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, NoReturn

SERVER_VARIABLE = "CDP_WARM_DBT"  # the server's socket, in the environment of the run's processes
DBT_MAIN = "dbt.cli.main:cli"  # what dbt's console script calls
PRELOADED = ("dbt.adapters.duckdb",)  # imported beside dbt when installed: the warehouse's adapter
# Classes whose JSON schema dbt builds (then caches) to validate every command's project, profile and
# credentials: built in the server, each copy has them (0.25 s a command). Skipped if dbt moves them.
SCHEMAS_WARMED = (
    "dbt.contracts.project:Project", "dbt.contracts.project:ProjectFlags", "dbt.contracts.project:ProfileConfig",
    "dbt.contracts.project:Configuration", "dbt.contracts.project:PackageConfig",
    "dbt.contracts.selection:SelectorFile", "dbt.adapters.duckdb.credentials:DuckDBCredentials",
)
_INT = struct.Struct("!i")
PR_SET_PDEATHSIG = 1


_serving: list[str] = []  # the socket of the server this process started, while it serves


@contextmanager
def warm_dbt() -> Iterator[None]:
    """While inside, dbt commands started through the launcher fork from a server that has imported
    dbt (started here, in the background). Nested: the outer server serves. A server of another
    process (its variable inherited) is not this run's: it may end first."""
    if _serving or not sys.platform.startswith("linux"):
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="cdp-dbt-"))  # short: a socket's path is at most 107 bytes
    path = folder / "socket"
    server = subprocess.Popen([sys.executable, "-I", "-m", "dagster_project.warm_dbt", str(path), str(os.getpid())],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    inherited = os.environ.get(SERVER_VARIABLE)
    os.environ[SERVER_VARIABLE] = str(path)
    _serving.append(str(path))
    try:
        yield
    finally:
        _serving.clear()
        if inherited is None:
            os.environ.pop(SERVER_VARIABLE, None)
        else:
            os.environ[SERVER_VARIABLE] = inherited
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


# ---- the server ----

def serve(path: str, parent_pid: int, main: str = DBT_MAIN, preload: tuple[str, ...] = PRELOADED) -> NoReturn:
    """Listen on `path`, import `main` (module:function), then run each request in a forked copy."""
    _die_with_parent(parent_pid)
    _default_signals()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)  # before the import: a launcher that comes meanwhile waits rather than starting dbt cold
    listener.listen(16)
    entry = _load(main)
    for module in preload:
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    if main == DBT_MAIN:
        _warm_schemas()
    signal.signal(signal.SIGCHLD, _reap_copies)
    while True:
        connection, _ = listener.accept()
        try:
            request, fds = _receive_request(connection)
        except (OSError, ValueError, EOFError):
            connection.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            _run_request(connection, fds, request, listener, entry)
        connection.close()
        for fd in fds:
            os.close(fd)


def _default_signals() -> None:
    """SIGTERM stops the server. A process inherits the signals its starter ignored or blocked (a
    Dagster run in a long-lived process may have), and then the run could not stop its server.
    Ctrl-C in a terminal reaches the whole process group: the server ignores it, and the copy (in a
    group of its own) gets it once, from its launcher."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD})
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(signum, frame) -> NoReturn:
    """End the server once its copies have ended (a copy reports its status just before it exits)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)


def _reap_copies(signum, frame) -> None:
    """Wait for the copies that ended: a run's accounting of its child processes (CPU time, peak
    memory: RUSAGE_CHILDREN) then counts them, as it counted dbt started cold."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _load(main: str) -> Callable[[], object]:
    module, _, name = main.partition(":")
    return getattr(importlib.import_module(module), name)


def _warm_schemas() -> None:
    for path in SCHEMAS_WARMED:
        try:
            _load(path).json_schema()
        except (ImportError, AttributeError):
            pass


def _receive_request(connection: socket.socket) -> tuple[dict, list[int]]:
    header, fds, _, _ = socket.recv_fds(connection, _INT.size, 3)
    if len(header) != _INT.size or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("not a launcher's request")
    return json.loads(_receive_exactly(connection, _INT.unpack(header)[0])), fds


def _run_request(connection: socket.socket, fds: list[int], request: dict, listener: socket.socket,
                 entry: Callable[[], object]) -> NoReturn:
    """In the forked copy: become the launcher's dbt process, run the command, report its status."""
    code = 1
    try:
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # dbt's own handling of an interrupt
        os.setpgid(0, 0)
        _die_with_parent(None)
        for target, fd in enumerate(fds):  # stdin, stdout, stderr
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        random.seed()  # not the server's state, shared by every copy
        sys.argv = [request["executable"], *request["args"]]
        connection.sendall(_INT.pack(os.getpid()))
        threading.Thread(target=_end_with_launcher, args=(connection,), daemon=True).start()
        code = _exit_status(entry)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            atexit._run_exitfuncs()  # e.g. multiprocessing's clean-up, as a normal exit runs it
            connection.sendall(_INT.pack(code))
        finally:
            os._exit(code & 0xFF)


def _exit_status(entry: Callable[[], object]) -> int:
    """Run dbt's entry point as its console script does (sys.exit(cli())); its exit status."""
    try:
        result = entry()
    except SystemExit as exit:
        result = exit.code
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    if result is None:
        return 0
    return result if isinstance(result, int) else 1


def _end_with_launcher(connection: socket.socket) -> None:
    """The launcher sends nothing more: the connection closes when it ends, killed or not."""
    try:
        while connection.recv(1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def _die_with_parent(expected_parent: int | None) -> None:
    """SIGKILL when the parent ends; exit at once if it already has (`expected_parent` is not it)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


# ---- the launcher's side ----

def run_warm(executable: str, args: list[str]) -> None:
    """Run `executable args` in a copy of the run's warm server and exit with its status. Returns
    (nothing has run) when there is no server or it does not answer: the caller then execs dbt."""
    path = os.environ.get(SERVER_VARIABLE)
    if not path:
        return
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        request = json.dumps({"executable": executable, "args": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(connection, [_INT.pack(len(request))], [0, 1, 2])
        connection.sendall(request)
        pid = _INT.unpack(_receive_exactly(connection, _INT.size))[0]
    except (OSError, EOFError):
        connection.close()
        return
    for forwarded in (signal.SIGINT, signal.SIGTERM):
        signal.signal(forwarded, lambda number, frame: os.kill(pid, number))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        status = _INT.unpack(_receive_exactly(connection, _INT.size))[0]
    except EOFError:
        print(f"dbt (process {pid}) ended without an exit status: it was killed", file=sys.stderr)
        status = 1
    sys.stdout.flush()
    os._exit(status & 0xFF)


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError("the connection closed")
        data += chunk
    return data


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
