"""Work that runs on its own: reaping runs whose process died, resuming them, scheduled
syncs, Pages' retention (pages.retention), and the workers' heartbeats.

Every worker runs `housekeeping()` at start and then every SYNC_REAPER_INTERVAL_SECONDS in a
thread (`housekeeping_forever`), beating its heartbeat (`WorkerHeartbeat`) each time, so the
Page screen can tell a queued sync that waits for a busy worker from one that waits for none;
daphne's stream loop runs `reap_and_publish` too. No extra
service is needed, and any number of processes may run it at once: a due page is claimed with
a conditional UPDATE (one worker wins), and the database allows one active run per page.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from media.housekeeping import housekeeping as media_housekeeping
from pages import progress
from pages.models import FacebookPage, SyncRun, WorkerHeartbeat
from pages.retention import apply_due_retention
from pages.sync.runs import OWN_MODES, Start, SyncAlreadyRunning, reap_stale_runs, this_host
from pages.tasks import PageCannotSync, queue_sync
from webhooks.upkeep import webhook_housekeeping

logger = logging.getLogger(__name__)


# Runs that start again as what they were (they keep no checkpoint); syncs resume theirs.
OWN_MODE_STARTS = {mode: start for start, mode in OWN_MODES.items()}


def _queue(page: FacebookPage, trigger: str, mode: Start = Start.RESUME) -> SyncRun | None:
    """Queue a run that continues an unfinished checkpoint, or else a normal sync (or, with
    Start.HISTORY, a history backfill, which continues where each thread stopped)."""
    try:
        return queue_sync(page, trigger=trigger, mode=mode)
    except (SyncAlreadyRunning, PageCannotSync):
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
    # A run is resumed unless a newer run of its kind (main, or history backfill) exists.
    newer = SyncRun.objects.filter(page=OuterRef("page"), created_at__gt=OuterRef("created_at"))
    background = Q(mode__in=SyncRun.BACKGROUND_MODES)
    reaped = (
        SyncRun.objects.filter(
            reaped_at__gte=timezone.now() - timedelta(days=1),
            page__token_status=FacebookPage.TokenStatus.OK,
        )
        .exclude(page__encrypted_access_token="")
        .exclude(trigger=SyncRun.Trigger.COMMAND)
        .filter(
            (background & ~Exists(newer.filter(background)))
            | (~background & ~Exists(newer.exclude(background)))
        )
        .select_related("page")
    )
    resumed = []
    for run in reaped:
        # A verify or history run starts again as what it was; a sync continues its checkpoint.
        mode = OWN_MODE_STARTS.get(run.mode, Start.RESUME)
        if new_run := _queue(run.page, run.trigger, mode):
            logger.warning("Resuming reaped run #%s as #%s", run.pk, new_run.pk)
            resumed.append(new_run)
    return resumed


def enqueue_due_syncs() -> list[SyncRun]:
    """Queue an incremental sync for every connected page whose interval has passed."""
    interval = settings.SYNC_SCHEDULE_INTERVAL_SECONDS
    if interval <= 0:
        return []
    now = timezone.now()
    due = (
        FacebookPage.objects.filter(token_status=FacebookPage.TokenStatus.OK)
        .exclude(encrypted_access_token="")
        .exclude(next_scheduled_sync_at__gt=now)
    )
    queued = []
    for page in due:
        if not page.take_turn("next_scheduled_sync_at", now + timedelta(seconds=interval)):
            continue  # another worker took it
        if run := _queue(page, SyncRun.Trigger.SCHEDULE):
            queued.append(run)
    return queued


# Heartbeats of workers gone this long are deleted (each start has a new worker id).
FORGET_WORKERS_AFTER = timedelta(days=7)


def beat(worker_id: str) -> None:
    """Record that this worker is alive now."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"host": this_host(), "pid": os.getpid(), "seen_at": now, "stopped_at": None},
        create_defaults={"host": this_host(), "pid": os.getpid(), "started_at": now},
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_WORKERS_AFTER).delete()


def worker_stopped(worker_id: str) -> None:
    """A worker that stops cleanly is gone at once (not after its beats go stale)."""
    now = timezone.now()
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(stopped_at=now, seen_at=now)


def housekeeping() -> None:
    resume_reaped_runs()
    enqueue_due_syncs()
    webhook_housekeeping()  # deliveries left behind, Pages' subscriptions
    apply_due_retention()  # Pages with a retention: old messages and events, in batches
    media_housekeeping()  # attachments still to download, failed ones due again


def housekeeping_forever(stop: threading.Event, worker_id: str | None = None) -> None:
    """A worker's housekeeping thread: now, then every SYNC_REAPER_INTERVAL_SECONDS until
    `stop`, beating `worker_id`'s heartbeat first. A failure (the database is down) is logged
    and tried again next time."""
    try:
        while True:
            try:
                if worker_id:
                    beat(worker_id)
                housekeeping()
            except Exception:
                logger.exception("Housekeeping failed")
                connections.close_all()  # this thread's; a broken one is opened anew next time
            finally:
                close_old_connections()
            if stop.wait(settings.SYNC_REAPER_INTERVAL_SECONDS):
                return
    finally:
        if worker_id:
            try:
                worker_stopped(worker_id)
            except Exception:
                logger.warning("Could not record that worker %s stopped", worker_id)
            finally:
                connections.close_all()
