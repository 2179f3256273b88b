"""A real headless Chromium (the system's package, /usr/bin/chromium) driven by Playwright.

In CI (CI=true) a missing browser fails the test that needs it; elsewhere it skips it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium"))
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def launch_browser(playwright):
    if not CHROMIUM.exists():
        message = f"no browser at {CHROMIUM}: `apt-get install chromium` (.ci/run installs it)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])


def open_page(browser, url: str, errors: list[str]):
    """A page at `url` whose console errors and uncaught exceptions go into `errors`."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page


def screenshot(page, folder: Path, name: str) -> Path:
    """Into the test's output folder; also into docs/screenshots/ when CDP_SCREENSHOTS_TO_DOCS=1 (the README's pictures)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("CDP_SCREENSHOTS_TO_DOCS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    return path
