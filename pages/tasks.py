"""Background tasks (Django tasks framework, django-tasks-db worker). Thin: they load a run
by id, wire progress and stop signals, and call the engine."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from pages import progress
from pages.models import SyncRun
from pages.sync.engine import SyncProgress, SyncStopped, run_sync

CANCEL_CHECK_SECONDS = 0.5


class WorkerStopSignals:
    """While a sync runs, SIGTERM/SIGINT ask it to stop after the conversation in flight.

    The worker's own handlers still run (so it exits when the task returns, and a second
    signal still forces it); we only add a flag the engine checks between conversations.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> WorkerStopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        self.event.set()
        previous = self._previous.get(signum)
        if callable(previous):
            # db_worker's handler: the first signal lets the task finish, a second forces exit.
            previous(signum, frame)

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def cancel_checker(run_id: int, stop: threading.Event) -> Callable[[], bool]:
    """A should_stop that reads the run's cancel flag at most every CANCEL_CHECK_SECONDS."""
    state = {"checked_at": 0.0, "cancelled": False}

    def should_stop() -> bool:
        if stop.is_set() or state["cancelled"]:
            return True
        now = time.monotonic()
        if now - state["checked_at"] >= CANCEL_CHECK_SECONDS:
            state["checked_at"] = now
            state["cancelled"] = SyncRun.objects.filter(pk=run_id, cancel_requested=True).exists()
        return state["cancelled"]

    return should_stop


@task
def sync_page_task(run_id: int) -> str:
    """Run (or continue a parked) SyncRun. Returns its final status."""
    claimed = SyncRun.objects.filter(
        pk=run_id, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.PAUSED]
    ).update(status=SyncRun.Status.RUNNING, heartbeat_at=timezone.now())
    run = SyncRun.objects.select_related("page").get(pk=run_id)
    if not claimed:
        return run.status  # cancelled while queued, or already taken
    if run.page.sync_checkpoint.get("runId") == run.pk:
        run.resumed = True  # a parked run continues its own checkpoint
    with WorkerStopSignals() as stop:

        def interruptible_sleep(seconds: float) -> None:
            if stop.event.wait(seconds):
                raise SyncStopped()

        def on_progress(snapshot: SyncProgress) -> None:
            progress.publish(
                run.page_id, final=snapshot.flush or snapshot.status != SyncRun.Status.RUNNING
            )

        run = run_sync(
            run,
            on_progress=on_progress,
            should_stop=cancel_checker(run.pk, stop.event),
            sleep=interruptible_sleep,
            max_inline_pause=settings.SYNC_MAX_INLINE_PAUSE_SECONDS,
        )
    if run.status == SyncRun.Status.PAUSED:
        run_after = run.resume_at
        transaction.on_commit(lambda: sync_page_task.using(run_after=run_after).enqueue(run.pk))
    progress.publish(run.page_id, final=True)
    return run.status


def enqueue_run(run: SyncRun) -> None:
    """Hand a queued run to the workers once the transaction that created it commits."""
    transaction.on_commit(lambda: sync_page_task.enqueue(run.pk))
