"""Browser tests: pytest-playwright driving Debian's Chromium against a real daphne and a real
worker. Run them on their own (`pytest tests/e2e`); the main run uses `-p no:playwright
--ignore=tests/e2e`, because Playwright's sync API and pytest-asyncio cannot share a run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import CHILD_ENV, VIEWPORTS, BrowserErrors
from tests.helpers import ROOT, spawn_manage, staff_session_cookie

# Playwright's sync API runs an asyncio event loop in the test thread, so Django sees a
# "running event loop" and raises SynchronousOnlyOperation on every ORM call made by the test
# and by pytest-django's fixtures (creating the user, the transactional flush at teardown).
# Nothing in this process is really async: the ORM calls never run inside the loop, so the
# check is a false alarm here. It must be set before any test runs, hence at import time.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

ARTIFACTS = ROOT / "test-artifacts" / "e2e"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium, headless: Playwright must never download a browser."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def artifacts() -> Callable[[str], str]:
    """Path of a screenshot in test-artifacts/e2e/ (git-ignored), folder created."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return lambda name: str(ARTIFACTS / name)


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `manage.py run_worker` on the test database; stopped before the database is
    flushed (it depends on transactional_db, so it is torn down first)."""
    started: list[subprocess.Popen] = []

    def start(server, **env: str) -> subprocess.Popen:
        worker = spawn_manage(
            server,
            "run_worker",
            "--no-startup-delay",
            "--interval",
            "0.1",
            **{**CHILD_ENV, **env},
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.terminate()
        try:
            _, stderr = worker.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, stderr = worker.communicate()
        if stderr:
            print(f"worker {worker.pid} stderr:\n{stderr}")  # shown when the test fails


@pytest.fixture
def open_screen(new_context) -> Callable[..., tuple[Page, BrowserErrors]]:
    """A browser page at one of VIEWPORTS, logged in as inbox staff on `daphne`, with its
    errors watched: `page, errors = open_screen(daphne, "phone")` (more keywords go to the
    browser context: `timezone_id="Asia/Tokyo"`)."""
    cookie = None

    def open_page(daphne, size: str = "desktop", **context_args) -> tuple[Page, BrowserErrors]:
        nonlocal cookie
        cookie = cookie or staff_session_cookie()
        context = new_context(viewport=VIEWPORTS[size], **context_args)
        context.add_cookies(
            [{"name": name, "value": value, "url": daphne.url} for name, value in cookie.items()]
        )
        page = context.new_page()
        return page, BrowserErrors.watch(page, daphne.url)

    return open_page
