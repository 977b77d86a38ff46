"""Creating, claiming and reaping SyncRuns.

The database enforces "at most one active run per page" (a partial unique constraint); this
module turns that into clear answers, and turns runs whose process died (SIGKILL, a crashed
machine) into `interrupted` so they can be resumed.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from pages.models import FacebookPage, SyncRun
from pages.sync.checkpoint import Checkpoint

logger = logging.getLogger(__name__)

UNFINISHED_CHECKPOINT_STATUSES = {"running", "paused", "interrupted", "cancelled", "failed"}
STOPPED_UNEXPECTEDLY = (
    "The sync stopped unexpectedly (its process ended). Progress is saved: resume to continue."
)


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun | None) -> None:
        self.run = run
        number = f" (run #{run.pk})" if run else ""
        super().__init__(f"A sync of this page is already running{number}.")


def this_host() -> str:
    return socket.gethostname()


def has_unfinished_checkpoint(page: FacebookPage) -> bool:
    checkpoint = page.sync_checkpoint or {}
    return bool(checkpoint.get("passId")) and checkpoint.get("status") in (
        UNFINISHED_CHECKPOINT_STATUSES
    )


def choose_mode(page: FacebookPage, *, full: bool) -> str:
    if full or page.full_sync_completed_at is None:
        return SyncRun.Mode.FULL
    return SyncRun.Mode.INCREMENTAL


def create_run(
    page: FacebookPage,
    *,
    trigger: str,
    full: bool = False,
    resume: bool = False,
    status: str = SyncRun.Status.QUEUED,
) -> SyncRun:
    """Record the intent to sync. Raises SyncAlreadyRunning when the page has an active run
    (after reaping it if its process is gone)."""
    reap_stale_runs(page_id=page.pk)
    # Decide on the state in the database, not on a copy loaded before the last run.
    page.refresh_from_db(fields=["sync_checkpoint", "full_sync_completed_at", "token_status"])
    resumed = resume and has_unfinished_checkpoint(page)
    mode = page.sync_checkpoint.get("mode") if resumed else choose_mode(page, full=full)
    run = SyncRun(page=page, trigger=trigger, mode=mode, resumed=resumed, status=status)
    if status == SyncRun.Status.RUNNING:
        # Created by the process that runs it: alive from the first instant, for the reaper.
        run.worker_host, run.worker_pid = this_host(), os.getpid()
        run.heartbeat_at = run.started_at = timezone.now()
    try:
        with transaction.atomic():
            run.save()
            return run
    except IntegrityError:
        active = SyncRun.objects.filter(page=page, status__in=SyncRun.ACTIVE_STATUSES).first()
        raise SyncAlreadyRunning(active) from None


def claim(run: SyncRun) -> None:
    """Mark the run as running in this process."""
    now = timezone.now()
    run.status = SyncRun.Status.RUNNING
    run.worker_host = this_host()
    run.worker_pid = os.getpid()
    run.heartbeat_at = now
    run.started_at = run.started_at or now
    run.resume_at = None
    run.save(
        update_fields=[
            "status",
            "worker_host",
            "worker_pid",
            "heartbeat_at",
            "started_at",
            "resume_at",
        ]
    )


def _process_is_gone(run: SyncRun) -> bool:
    if run.worker_host != this_host() or not run.worker_pid:
        return False
    if run.worker_pid == os.getpid():
        return False
    try:
        os.kill(run.worker_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(run.worker_pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def reap_stale_runs(*, page_id: int | None = None) -> list[SyncRun]:
    """Mark running runs whose process is gone, or whose heartbeat is stale, as interrupted."""
    cutoff = timezone.now() - timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT_SECONDS)
    candidates = SyncRun.objects.filter(
        status__in=[SyncRun.Status.RUNNING, SyncRun.Status.CANCELLING]
    ).select_related("page")
    if page_id is not None:
        candidates = candidates.filter(page_id=page_id)
    reaped = []
    for run in candidates:
        stale = run.heartbeat_at is None or run.heartbeat_at < cutoff
        if not (stale or _process_is_gone(run)):
            continue
        with transaction.atomic():
            page = FacebookPage.objects.select_for_update().get(pk=run.page_id)
            owns_checkpoint = page.sync_checkpoint.get("runId") == run.pk
            # The run row is written a few times a second, the checkpoint with every
            # conversation: the checkpoint is where the run really stopped.
            counters = (
                Checkpoint.from_json(page.sync_checkpoint).run_counters() if owns_checkpoint else {}
            )
            updated = SyncRun.objects.filter(pk=run.pk, status=run.status).update(
                status=SyncRun.Status.INTERRUPTED,
                error=STOPPED_UNEXPECTEDLY,
                finished_at=timezone.now(),
                **counters,
            )
            if not updated:
                continue
            if owns_checkpoint:
                page.sync_checkpoint["status"] = "interrupted"
                page.save(update_fields=["sync_checkpoint"])
        logger.warning("Reaped sync run #%s of page %s", run.pk, run.page_id)
        run.status = SyncRun.Status.INTERRUPTED
        for name, value in counters.items():
            setattr(run, name, value)
        reaped.append(run)
    return reaped
