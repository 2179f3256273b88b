"""A real headless Chromium (the system's package, /usr/bin/chromium) driven by Playwright.

In CI (CI=true) a missing browser fails the test that needs it; elsewhere it skips it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium"))
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCS_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def launch_browser(playwright):
    if not CHROMIUM.exists():
        message = f"no browser at {CHROMIUM}: `apt-get install chromium` (.ci/run installs it)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])


def open_page(browser, url: str, errors: list[str], height: int = 900, init_script: str | None = None):
    """A page at `url` whose console errors and uncaught exceptions go into `errors`."""
    page = browser.new_page(viewport={"width": 1280, "height": height})
    if init_script:
        page.add_init_script(init_script)
    page.on("console", lambda message: message.type == "error" and errors.append(f"{message.text} ({message.location.get('url')})"))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page


def screenshot(page, folder: Path, name: str) -> Path:
    """The whole page into the test's output folder; with CDP_SCREENSHOTS_TO_DOCS=1 also its first
    screen into docs/screenshots/ (the README's pictures, kept small)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("CDP_SCREENSHOTS_TO_DOCS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOTS / path.name))
    return path


@contextmanager
def dagster_webserver(config, log_path: Path, timeout_s: float = 90):
    """`dagster-webserver` on the workspace's definitions and Dagster home (as `make dev`), on a free
    port in its own process group; yields its URL once it answers, then stops the group."""
    from dagster_project.pipeline import workspace_dagster_home

    port = _free_port()
    env = {**os.environ, "CDP_CONFIG": str(config.path), "DAGSTER_HOME": str(workspace_dagster_home(config)),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "dagster_webserver", "-m", "dagster_project.definitions", "-h", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_it_answers(server, f"{url}/server_info", timeout_s, log_path)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the webserver and its code server
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_it_answers(server: subprocess.Popen, url: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"dagster-webserver did not answer within {timeout_s} s:\n{log_path.read_text()[-3000:]}")
