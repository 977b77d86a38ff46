"""The task queue (Django tasks framework, django-tasks-db worker): the one way to ask for a
sync (`queue_sync`, used by the web, the admin and the schedule) and the task that runs it.
Thin: the run's life is pages.sync.runs, its execution pages.harness."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.tasks import task

from pages import progress
from pages.harness import RunHarness, StopSignals
from pages.models import FacebookPage, SyncRun
from pages.sync.runs import Start, SyncAlreadyRunning, create_run


class PageCannotSync(Exception):
    """The Page has no usable token: someone must connect it first (the message says how)."""


class PageNotConnected(PageCannotSync):
    def __init__(self) -> None:
        super().__init__("Connect this page (paste its access token) before syncing it.")


class PageNeedsReconnect(PageCannotSync):
    def __init__(self) -> None:
        super().__init__("Reconnect the page before syncing it.")


def queue_sync(page: FacebookPage, *, trigger: str, mode: Start = Start.NEXT) -> SyncRun:
    """Queue a run for the workers and show it on the page's live card.

    Raises SyncAlreadyRunning (the page has an active run) or PageCannotSync (not connected,
    or its token was rejected)."""
    if not page.is_connected:
        raise PageNotConnected()
    if page.needs_reconnect:
        raise PageNeedsReconnect()
    with transaction.atomic():
        run = create_run(page, trigger=trigger, mode=mode)
        transaction.on_commit(lambda: sync_page_task.enqueue(run.pk))
    progress.publish(page.pk, final=True)
    return run


def queue_history_after(run: SyncRun) -> SyncRun | None:
    """After a Page's sync completes, its history backfill goes on (when the Page fetches
    full history and some thread's history is not complete)."""
    if run.is_background or run.mode not in (SyncRun.Mode.FULL, SyncRun.Mode.INCREMENTAL):
        return None
    page = FacebookPage.objects.get(pk=run.page_id)
    if not page.fetch_history or not page.conversations.filter(history_complete=False).exists():
        return None
    try:
        return queue_sync(page, trigger=run.trigger, mode=Start.HISTORY)
    except (SyncAlreadyRunning, PageCannotSync):
        return None  # one runs already, or the Page lost its token meanwhile


@task
def sync_page_task(run_id: int) -> str:
    """Run (or continue a parked) SyncRun. Returns its final status."""
    run = SyncRun.objects.select_related("page").get(pk=run_id)
    with StopSignals(chain=True) as signals:
        harness = RunHarness(
            run,
            stop=signals.event,
            park_after_seconds=settings.SYNC_MAX_INLINE_PAUSE_SECONDS,
        )
        run = harness.execute()
    if run.status == SyncRun.Status.COMPLETE:
        queue_history_after(run)
    if run.status == SyncRun.Status.PAUSED:
        # A delayed task claims the parked run again when Graph lets it go on.
        run_after = run.resume_at
        transaction.on_commit(lambda: sync_page_task.using(run_after=run_after).enqueue(run.pk))
    progress.publish(run.page_id, final=True)
    return run.status
