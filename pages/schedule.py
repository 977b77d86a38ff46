"""Work that runs on its own: reaping runs whose process died, resuming them, and
scheduled syncs.

Every worker runs `housekeeping()` at start and then every SYNC_REAPER_INTERVAL_SECONDS in a
thread (`housekeeping_forever`); daphne's stream loop runs `reap_and_publish` too. No extra
service is needed, and any number of processes may run it at once: a due page is claimed with
a conditional UPDATE (one worker wins), and the database allows one active run per page.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Exists, OuterRef
from django.utils import timezone

from pages import progress
from pages.models import FacebookPage, SyncRun
from pages.sync.runs import Start, SyncAlreadyRunning, reap_stale_runs
from pages.tasks import PageNeedsReconnect, queue_sync

logger = logging.getLogger(__name__)


def _queue(page: FacebookPage, trigger: str) -> SyncRun | None:
    """Queue a run that continues an unfinished checkpoint, or else a normal sync."""
    try:
        return queue_sync(page, trigger=trigger, mode=Start.RESUME)
    except (SyncAlreadyRunning, PageNeedsReconnect):
        return None


def reap_and_publish() -> list[SyncRun]:
    """Reap runs whose process died, and show their cards as interrupted."""
    reaped = reap_stale_runs()
    for run in reaped:
        progress.publish(run.page_id, final=True)
    return reaped


def resume_reaped_runs() -> list[SyncRun]:
    """Reap runs whose worker died, then resume reaped runs that workers own (whoever reaped
    them: this worker, another one or the web server). Command-line runs are left
    interrupted: their user resumes them with --resume."""
    reap_and_publish()
    if not settings.SYNC_AUTO_RESUME_REAPED:
        return []
    newer = SyncRun.objects.filter(page=OuterRef("page"), created_at__gt=OuterRef("created_at"))
    reaped = (
        SyncRun.objects.filter(
            reaped_at__gte=timezone.now() - timedelta(days=1),
            page__token_status=FacebookPage.TokenStatus.OK,
        )
        .exclude(trigger=SyncRun.Trigger.COMMAND)
        .exclude(Exists(newer))
        .select_related("page")
    )
    resumed = []
    for run in reaped:
        if new_run := _queue(run.page, run.trigger):
            logger.warning("Resuming reaped run #%s as #%s", run.pk, new_run.pk)
            resumed.append(new_run)
    return resumed


def enqueue_due_syncs() -> list[SyncRun]:
    """Queue an incremental sync for every connected page whose interval has passed."""
    interval = settings.SYNC_SCHEDULE_INTERVAL_SECONDS
    if interval <= 0:
        return []
    now = timezone.now()
    due = FacebookPage.objects.filter(token_status=FacebookPage.TokenStatus.OK).exclude(
        next_scheduled_sync_at__gt=now
    )
    queued = []
    for page in due:
        previous = page.next_scheduled_sync_at
        claim = FacebookPage.objects.filter(pk=page.pk)
        claim = (
            claim.filter(next_scheduled_sync_at__isnull=True)
            if previous is None
            else claim.filter(next_scheduled_sync_at=previous)
        )
        if not claim.update(next_scheduled_sync_at=now + timedelta(seconds=interval)):
            continue  # another worker took it
        if run := _queue(page, SyncRun.Trigger.SCHEDULE):
            queued.append(run)
    return queued


def housekeeping() -> None:
    resume_reaped_runs()
    enqueue_due_syncs()


def housekeeping_forever(stop: threading.Event) -> None:
    """A worker's housekeeping thread: now, then every SYNC_REAPER_INTERVAL_SECONDS until
    `stop`. A failure (the database is down) is logged and tried again next time."""
    while True:
        try:
            housekeeping()
        except Exception:
            logger.exception("Housekeeping failed")
            connections.close_all()  # this thread's; a broken one is opened anew next time
        finally:
            close_old_connections()
        if stop.wait(settings.SYNC_REAPER_INTERVAL_SECONDS):
            return
