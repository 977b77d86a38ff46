"""Helpers for tests that run real worker processes (`manage.py run_worker`)."""

import time

from pages.models import SyncRun
from pages.sync.runs import Start, create_run
from pages.tasks import sync_page_task
from tests.helpers import spawn_manage

WORKER_ENV = {"SYNC_PAGE_SIZE": "10", "SYNC_REAPER_INTERVAL_SECONDS": "1"}


def start_worker(server, **env):
    return spawn_manage(
        server, "run_worker", "--no-startup-delay", "--interval", "0.1", **WORKER_ENV, **env
    )


def enqueue(page, *, resume=False) -> SyncRun:
    run = create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.RESUME if resume else Start.NEXT)
    sync_page_task.enqueue(run.pk)
    return run


def wait_for_run(run: SyncRun, predicate, timeout: float = 60) -> SyncRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if predicate(run):
            return run
        time.sleep(0.02)
    raise AssertionError(f"run #{run.pk} stuck at {run.status} #{run.current}")
