"""dbt started warm (dagster_project/warm_dbt.py): the launcher has a copy of the run's server run the
command, as its own process would, and the copy ends with the launcher. The server here runs a small
entry point in place of dbt's, which reports what the copy was given."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagster_project.child_process import launcher_dying_with_parent
from dagster_project.warm_dbt import SERVER_VARIABLE, warm_dbt

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dbt starts warm on Linux only")

# The server's script: `entry` stands for dbt's console entry point.
SERVER = """
import json, os, signal, sys, time
from dagster_project.warm_dbt import serve

def entry():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "argv": sys.argv, "cwd": os.getcwd(),
                      "mark": os.environ.get("MARK"), "stdin": sys.stdin.readline()}), flush=True)
    if sys.argv[1] == "sleep":
        time.sleep(60)
    if sys.argv[1] == "allocate":  # 300 MB resident
        memory = bytearray(b"x") * (300 << 20)
    return int(sys.argv[2])

serve(sys.argv[1], int(sys.argv[2]), main="__main__:entry", preload=())
"""


def _start_server(path: Path, **popen) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(path), str(os.getpid())], stdout=subprocess.DEVNULL, **popen)
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return process


@pytest.fixture
def server(tmp_path):
    path = tmp_path / "s"  # short: a socket's path is limited
    process = _start_server(path)
    yield path, process
    process.kill()
    process.wait()


def _launcher(tmp_path: Path) -> str:
    """The launcher dagster-dbt starts, for /bin/echo: what it execs when no server answers."""
    return launcher_dying_with_parent("/bin/echo", tmp_path / "bin")


def _start(launcher: str, socket_path: Path, cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, SERVER_VARIABLE: str(socket_path), "MARK": "from the launcher"}
    env.pop("CDP_DBT_PARENT_PID", None)
    return subprocess.Popen([launcher, *args], cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_the_command_runs_in_a_copy_of_the_server_with_the_launchers_arguments_directory_environment_and_streams(
        server, tmp_path):
    socket_path, process = server
    launcher = _launcher(tmp_path)
    output, _ = _start(launcher, socket_path, tmp_path, "build", "7").communicate("hello\n", timeout=60)
    seen = json.loads(output)
    assert seen["ppid"] == process.pid  # forked by the server, not started by the launcher
    assert seen["argv"] == ["/bin/echo", "build", "7"]
    assert (seen["cwd"], seen["mark"], seen["stdin"]) == (str(tmp_path), "from the launcher", "hello\n")

    launched = _start(launcher, socket_path, tmp_path, "build", "7")
    launched.communicate("\n", timeout=60)
    assert launched.returncode == 7  # the copy's exit status is the launcher's


def test_without_a_server_the_launcher_runs_the_command_itself(tmp_path):
    launched = _start(_launcher(tmp_path), tmp_path / "no-server", tmp_path, "build", "7")
    output, _ = launched.communicate("", timeout=60)
    assert (output, launched.returncode) == ("build 7\n", 0)  # /bin/echo itself


def test_killing_the_launcher_ends_the_command(server, tmp_path):
    socket_path, _ = server
    launched = _start(_launcher(tmp_path), socket_path, tmp_path, "sleep", "0")
    launched.stdin.write("\n")
    launched.stdin.flush()
    copy = json.loads(launched.stdout.readline())["pid"]
    launched.kill()
    launched.wait()
    deadline = time.monotonic() + 10
    while _running(copy) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(copy)


def test_sigterm_to_the_launcher_reaches_the_command(server, tmp_path):
    socket_path, _ = server
    launched = _start(_launcher(tmp_path), socket_path, tmp_path, "sleep", "0")
    launched.stdin.write("\n")
    launched.stdin.flush()
    launched.stdout.readline()  # the copy is running
    launched.send_signal(signal.SIGTERM)
    assert launched.wait(timeout=30) == 3  # the copy's SIGTERM handler's status


def test_an_interrupt_reaches_the_command_once_and_leaves_the_server_serving(server, tmp_path):
    socket_path, process = server
    launcher = _launcher(tmp_path)
    launched = _start(launcher, socket_path, tmp_path, "sleep", "0")
    launched.stdin.write("\n")
    launched.stdin.flush()
    launched.stdout.readline()
    process.send_signal(signal.SIGINT)  # Ctrl-C reaches the run's whole process group, the server too
    launched.send_signal(signal.SIGINT)
    assert launched.wait(timeout=30) == 128 + signal.SIGINT  # the command's KeyboardInterrupt
    output, _ = _start(launcher, socket_path, tmp_path, "build", "0").communicate("\n", timeout=60)
    assert json.loads(output)["ppid"] == process.pid


def test_the_server_ends_on_sigterm_though_its_starter_ignored_and_blocked_it(tmp_path):
    def ignore_and_block_sigterm():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    process = _start_server(tmp_path / "s", preexec_fn=ignore_and_block_sigterm)
    process.terminate()
    try:
        assert process.wait(timeout=30) == 0  # stopped on its own, not killed
    finally:
        process.kill()


# The run's side: a process starts the server, has the launcher run a command that takes 300 MB, stops
# the server, and says the peak memory of its largest finished child process (the run summary's).
OWNER = """
import os, resource, subprocess, sys, time
server_script, path, launcher = sys.argv[1:]
server = subprocess.Popen([sys.executable, server_script, path, str(os.getpid())], stdout=subprocess.DEVNULL)
while not os.path.exists(path):
    time.sleep(0.05)
os.environ.pop("CDP_DBT_PARENT_PID", None)  # a run's, if the test's process ran one: not this launcher's parent
subprocess.run([launcher, "allocate", "0"], env={**os.environ, "CDP_WARM_DBT": path}, input="\\n", text=True,
               stdout=subprocess.DEVNULL, check=True)
server.terminate()
server.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def test_a_runs_peak_memory_of_its_children_counts_the_copies(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    owner = subprocess.run([sys.executable, "-c", OWNER, str(script), str(tmp_path / "s"), _launcher(tmp_path)],
                           capture_output=True, text=True, timeout=120, check=True)
    assert int(owner.stdout) >= 300  # MB: the copy's, though the server (forked, not started) ran it


def test_a_runs_server_serves_inside_and_is_gone_after(monkeypatch):
    assert SERVER_VARIABLE not in os.environ
    with warm_dbt():
        socket_path = Path(os.environ[SERVER_VARIABLE])
        with warm_dbt():  # nested: the outer server serves
            assert os.environ[SERVER_VARIABLE] == str(socket_path)
    assert SERVER_VARIABLE not in os.environ and not socket_path.parent.exists()

    monkeypatch.setenv(SERVER_VARIABLE, "/gone/socket")  # inherited from another process's run
    with warm_dbt():
        assert os.environ[SERVER_VARIABLE] != "/gone/socket"  # a server of this run's own
    assert os.environ[SERVER_VARIABLE] == "/gone/socket"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return False
    return state != "Z"
