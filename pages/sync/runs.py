"""The life of a SyncRun: the only module that writes `SyncRun.status`.

Every change of status is one conditional UPDATE from the states the table below allows, so
two processes racing for the same run (two workers, a worker and the reaper, a click and a
worker) never both win:

    transition       from                    to
    claim            queued, paused          running       a worker or the command takes it
    cancel           queued, paused          cancelled     nothing runs it: cancelled at once
    request_cancel   running                 cancelling    its process stops after the
                                                           conversation in flight
    park             running                 paused        a long rate-limit pause; a delayed
                                                           task claims it again
    finish           running, cancelling     complete, interrupted, cancelled, failed
    reap             running, cancelling     interrupted   its process died or stopped beating

Runs are created `queued` (`create_run`). The database allows one active run per page.

Fencing: while a run works, every write for it (counters, heartbeat, checkpoint, the final
state) is conditional on it still being running or cancelling. A write that matches nothing
raises RunLost and the run stops at once: a run reaped during a stall (and resumed by
another process) can never write again, nor become complete.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from pages.models import FacebookPage, SyncRun
from pages.sync import checkpoint
from pages.sync.checkpoint import Checkpoint

logger = logging.getLogger(__name__)

S = SyncRun.Status
WORKING = frozenset(SyncRun.WORKING_STATUSES)
ENDED = frozenset({S.COMPLETE, S.INTERRUPTED, S.CANCELLED, S.FAILED})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    targets: frozenset[str]


TRANSITIONS: dict[str, Transition] = {
    "claim": Transition(frozenset({S.QUEUED, S.PAUSED}), frozenset({S.RUNNING})),
    "cancel": Transition(frozenset({S.QUEUED, S.PAUSED}), frozenset({S.CANCELLED})),
    "request_cancel": Transition(frozenset({S.RUNNING}), frozenset({S.CANCELLING})),
    "park": Transition(frozenset({S.RUNNING}), frozenset({S.PAUSED})),
    "finish": Transition(WORKING, ENDED),
    "reap": Transition(WORKING, frozenset({S.INTERRUPTED})),
}

STOPPED_UNEXPECTEDLY = (
    "The sync stopped unexpectedly (its process ended). Progress is saved: resume to continue."
)


class Start(StrEnum):
    """What a new run does."""

    NEXT = "next"  # a full sync the first time, incremental after that
    FULL = "full"  # walk every conversation again
    RESUME = "resume"  # continue the saved checkpoint (or NEXT when there is none)
    VERIFY = "verify"  # compare what is stored with Graph (pages.sync.verify)
    REPAIR = "repair"  # verify, and fetch what is missing
    HISTORY = "history"  # the history backfill, beside the main run (pages.sync.history)


# Modes whose run is what the Start names, whatever the checkpoint says.
OWN_MODES = {
    Start.VERIFY: SyncRun.Mode.VERIFY,
    Start.REPAIR: SyncRun.Mode.REPAIR,
    Start.HISTORY: SyncRun.Mode.HISTORY,
}


class SyncAlreadyRunning(Exception):
    def __init__(self, run: SyncRun | None) -> None:
        self.run = run
        number = f" (run #{run.pk})" if run else ""
        what = "history fetch" if run is not None and run.is_background else "sync"
        super().__init__(f"A {what} of this page is already running{number}.")


class RunLost(Exception):
    """The run is no longer this process's to write (it was reaped, or ended elsewhere)."""


class InvalidTransition(ValueError):
    """A programming error: the table has no such move."""


def this_host() -> str:
    return socket.gethostname()


def move(run_pk: int, name: str, to: str, **fields: Any) -> bool:
    """Apply one transition of the table with a conditional UPDATE; True if it happened."""
    transition = TRANSITIONS[name]
    if to not in transition.targets:
        raise InvalidTransition(f"{name} cannot end in {to}")
    moved = SyncRun.objects.filter(pk=run_pk, status__in=transition.sources).update(
        status=to, **fields
    )
    return bool(moved)


# -- creating and claiming ---------------------------------------------------------------------


def create_run(page: FacebookPage, *, trigger: str, mode: Start = Start.NEXT) -> SyncRun:
    """Record the intent to sync (a queued run). Raises SyncAlreadyRunning when the page has
    an active run (after reaping it if its process is gone)."""
    reap_stale_runs(page_id=page.pk)
    # Decide on the state in the database, not on a copy loaded before the last run.
    page.refresh_from_db(fields=["full_sync_completed_at", "token_status"])
    saved = Checkpoint.saved_now(page)
    resumed = mode == Start.RESUME and saved is not None and saved.unfinished
    if mode in OWN_MODES:
        sync_mode = OWN_MODES[mode]
    elif resumed:
        sync_mode = saved.mode
    elif mode == Start.FULL or page.full_sync_completed_at is None:
        sync_mode = SyncRun.Mode.FULL
    else:
        sync_mode = SyncRun.Mode.INCREMENTAL
    run = SyncRun(page=page, trigger=trigger, mode=sync_mode, resumed=resumed)
    try:
        with transaction.atomic():
            run.save()
            return run
    except IntegrityError:
        active = active_runs(page, background=run.is_background).first()
        raise SyncAlreadyRunning(active) from None


def active_runs(page: FacebookPage, *, background: bool = False):
    """The page's active main run (full, incremental, verify), or its active background run
    (the history backfill): each kind has at most one."""
    runs = SyncRun.objects.filter(page=page, status__in=SyncRun.ACTIVE_STATUSES)
    if background:
        return runs.filter(mode__in=SyncRun.BACKGROUND_MODES)
    return runs.exclude(mode__in=SyncRun.BACKGROUND_MODES)


def main_run_working(page_id: int) -> bool:
    """A main run of the page is being worked on now: the history backfill yields to it."""
    return (
        SyncRun.objects.filter(page_id=page_id, status__in=WORKING)
        .exclude(mode__in=SyncRun.BACKGROUND_MODES)
        .exists()
    )


def claim(run: SyncRun) -> bool:
    """Take a queued (or parked) run for this process. False when it is not there to take
    (cancelled while queued, or claimed by another worker); `run` is then reloaded."""
    now = timezone.now()
    claimed = move(
        run.pk,
        "claim",
        S.RUNNING,
        worker_host=this_host(),
        worker_pid=os.getpid(),
        heartbeat_at=now,
        started_at=Coalesce("started_at", now),
        resume_at=None,
    )
    run.refresh_from_db()
    return claimed


# -- while it runs -----------------------------------------------------------------------------


def record_progress(run: SyncRun, **fields: Any) -> None:
    """Write the run's counters (and heartbeat) while it works. Raises RunLost if it no
    longer works here."""
    fields.setdefault("heartbeat_at", timezone.now())
    if not SyncRun.objects.filter(pk=run.pk, status__in=WORKING).update(**fields):
        raise RunLost(f"Sync run #{run.pk} was ended by someone else.")
    run.heartbeat_at = fields["heartbeat_at"]


def heartbeat(run: SyncRun) -> None:
    """Keep the run visibly alive during a long wait. Raises RunLost if it was reaped."""
    record_progress(run)


def cancel_requested(run_pk: int) -> bool:
    return SyncRun.objects.filter(pk=run_pk, cancel_requested=True).exists()


def request_cancel(page: FacebookPage, *, background: bool = False) -> None:
    """Cancel the page's active main run (or, with `background`, its history backfill): at
    once when nothing runs it (queued, parked), after the conversation (or page of older
    messages) in flight when a process runs it."""
    for run_pk, status in active_runs(page, background=background).values_list("pk", "status"):
        if status in TRANSITIONS["cancel"].sources:
            move(
                run_pk,
                "cancel",
                S.CANCELLED,
                cancel_requested=True,
                error="Cancelled.",
                finished_at=timezone.now(),
            )
        else:
            move(run_pk, "request_cancel", S.CANCELLING, cancel_requested=True)


# -- how it ends ---------------------------------------------------------------------------------


def park(run: SyncRun, *, resume_at: datetime, message: str, **counters: Any) -> bool:
    """Free the worker until `resume_at`. False when the run is no longer plain running
    (a cancel was requested meanwhile, or it was reaped)."""
    parked = move(run.pk, "park", S.PAUSED, resume_at=resume_at, error=message, **counters)
    if parked:
        run.status, run.resume_at, run.error = S.PAUSED, resume_at, message
    return parked


def finish(run: SyncRun, status: str, *, message: str, **counters: Any) -> None:
    """Record how the run ended. Raises RunLost when it was reaped (or ended) meanwhile."""
    now = timezone.now()
    error = "" if status == S.COMPLETE else message
    if not move(run.pk, "finish", status, error=error, finished_at=now, **counters):
        raise RunLost(f"Sync run #{run.pk} was ended by someone else.")
    run.status, run.error, run.finished_at = status, error, now


# -- reaping -----------------------------------------------------------------------------------


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
    candidates = SyncRun.objects.filter(status__in=WORKING).select_related("page")
    if page_id is not None:
        candidates = candidates.filter(page_id=page_id)
    reaped = []
    for run in candidates:
        stale = run.heartbeat_at is None or run.heartbeat_at < cutoff
        if not (stale or _process_is_gone(run)):
            continue
        with transaction.atomic():
            # Locking the page waits for a conversation transaction in flight to commit.
            page = FacebookPage.objects.select_for_update().get(pk=run.page_id)
            saved = Checkpoint.of(page)
            # The run row is written a few times a second, the checkpoint with every
            # conversation: the checkpoint is where the run really stopped.
            counters = saved.run_counters() if saved and saved.owned_by(run) else {}
            now = timezone.now()
            moved = move(
                run.pk,
                "reap",
                S.INTERRUPTED,
                error=STOPPED_UNEXPECTEDLY,
                finished_at=now,
                reaped_at=now,
                **counters,
            )
            if not moved:
                continue
            checkpoint.mark_status(page, run, S.INTERRUPTED)
        logger.warning("Reaped sync run #%s of page %s", run.pk, run.page_id)
        run.status, run.reaped_at = S.INTERRUPTED, now
        for name, value in counters.items():
            setattr(run, name, value)
        reaped.append(run)
    return reaped
