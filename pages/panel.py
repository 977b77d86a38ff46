"""The Page screen's live part: what it shows (`panel_context`) and its HTML
(`render_event`), for a page load and a live event alike (a live update renders exactly what
a reload would).

The browser morphs each event into the screen (htmx's idiomorph extension, see
static/js/progress.js): every element that stays keeps its node, so the progress bar slides,
a focused button keeps its focus, and an open "Technical details" stays open. The card's
wording is in templates/pages/page_detail.html; what it has to say is decided here:

- `state`: finer than the run's status ("census", "no_worker", "reconnected", …);
- `actions`: only the controls that can help in that state (never Resume without a saved
  position, never Resume for a Page that has no usable token);
- the numbers: "#15 of 250", the percentage, the pace (`pages.sync.pace`), the folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from conversations.models import Conversation
from pages.history_panel import history_context
from pages.models import FacebookPage, SyncRun, WorkerHeartbeat
from pages.sync import checkpoint, findings
from pages.sync.checkpoint import FOLDERS, Checkpoint, percent_done
from pages.sync.pace import Pace, pace_of
from pages.verify_card import verify_card
from pages.webhook_facts import webhook_facts

LIVE_TEMPLATE = "pages/page_detail.html#live"
S = SyncRun.Status
RESUMABLE_STATUSES = (S.INTERRUPTED, S.CANCELLED, S.FAILED)
# A run that no worker has picked up this long after it could start says why.
WAIT_WARNING_AFTER = timedelta(seconds=15)
# The run's problems listed on the screen (all of them are counted, the rest are in the admin).
PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Workers:
    """What the heartbeats say: is a worker running, and when was one last seen."""

    alive: bool
    last_seen: datetime | None

    @classmethod
    def now(cls, now: datetime) -> Workers:
        beats = list(WorkerHeartbeat.objects.order_by("-seen_at")[:20])
        return cls(
            alive=any(beat.is_alive(now) for beat in beats),
            last_seen=beats[0].seen_at if beats else None,
        )


@dataclass(frozen=True)
class Bar:
    """The `<progress>` element: a value of max, or indeterminate (value None); `still` when
    nothing moves (paused, ended), so an indeterminate bar does not animate."""

    value: int | None
    max: int
    still: bool


def waiting_since(run: SyncRun | None, now: datetime) -> datetime | None:
    """Since when a run could start (queued) or go on (paused past its resume time) but no
    worker has taken it; None when it is not waiting for a worker."""
    if run is None:
        return None
    if run.status == S.QUEUED:
        return run.created_at
    if run.status == S.PAUSED and run.resume_at is not None and run.resume_at <= now:
        return run.resume_at
    return None


def wait_state(run: SyncRun | None, now: datetime, workers: Workers | None = None) -> str:
    """ "" (not waiting for a worker), "waiting" (only just queued), "busy" (waited too long
    while a worker runs) or "no_worker" (waited too long and no worker runs)."""
    since = waiting_since(run, now)
    if since is None:
        return ""
    if now - since < WAIT_WARNING_AFTER:
        return "waiting"
    workers = workers or Workers.now(now)
    return "busy" if workers.alive else "no_worker"


def card_state(page: FacebookPage, run: SyncRun | None, cp: Checkpoint | None, wait: str) -> str:
    """The state the card shows; the run's status, refined."""
    active = run is not None and run.is_active
    if not page.is_connected and not active:
        return "not_connected"
    if page.needs_reconnect and not active:
        return "needs_reconnect"
    if run is None:
        return "none"
    if wait in ("busy", "no_worker"):
        return wait
    if run.status == S.RUNNING and cp is not None and cp.phase in ("census", "closing"):
        return cp.phase
    if run.status == S.FAILED and _failed_before_reconnect(page, run):
        return "reconnected"
    return run.status


def _failed_before_reconnect(page: FacebookPage, run: SyncRun) -> bool:
    """The run failed with the token the Page had then: its error is about an old token."""
    return (
        page.connected_at is not None
        and run.finished_at is not None
        and run.finished_at <= page.connected_at
    )


def actions_for(
    page: FacebookPage, run: SyncRun | None, state: str, resumable: bool
) -> tuple[str, ...]:
    """The controls that can help, in the order shown (the first is the main one)."""
    if state == "not_connected":
        return ("connect",)
    if state == "needs_reconnect":
        return ("reconnect",)
    if run is not None and run.is_active:
        return () if run.status == S.CANCELLING else ("cancel",)
    if resumable:
        return ("resume", "start_over")
    if page.full_sync_completed_at is not None:
        return ("sync", "full_sync")
    return ("sync",)


def _is_resumable(page: FacebookPage, run: SyncRun | None, cp: Checkpoint | None) -> bool:
    """A stopped run with a saved position past its first conversation ("#0" resumes
    nothing a new sync would not do), on a Page that can sync."""
    return (
        run is not None
        and run.status in RESUMABLE_STATUSES
        and cp is not None
        and cp.unfinished
        and cp.current > 0
        and page.is_connected
        and not page.needs_reconnect
    )


def bar_of(run: SyncRun | None, state: str) -> Bar | None:
    if run is None or state in ("not_connected", "none"):
        return None
    moving = run.status in (S.QUEUED, S.RUNNING, S.CANCELLING) and state not in (
        "busy",
        "no_worker",
    )
    if run.status == S.COMPLETE:
        done = max(run.total or run.current, 1)
        return Bar(value=done, max=done, still=True)
    if run.total and state not in ("census", "queued", "waiting"):
        return Bar(value=min(run.current, run.total), max=run.total, still=not moving)
    return Bar(value=None, max=100, still=not moving)


def show_freshest_counters(run: SyncRun | None, cp: Checkpoint | None) -> None:
    """While a run works (or is parked), its checkpoint is written with every conversation and
    its row at most a few times a second: the card shows the checkpoint's counters, so it
    never lags one conversation behind the saved position it also shows."""
    if run is not None and cp is not None and run.status in (S.RUNNING, S.CANCELLING, S.PAUSED):
        for name, value in cp.run_counters().items():
            setattr(run, name, value)


def pace_for(run: SyncRun | None, cp: Checkpoint | None, now: datetime) -> Pace | None:
    if run is None or cp is None or run.status not in (S.RUNNING, S.CANCELLING):
        return None
    return pace_of(
        walk_started_at=cp.walkStartedAt,
        walk_start_current=cp.walkStartCurrent,
        current=run.current,
        total=run.total,
        now=now,
    )


def problems_of(page: FacebookPage, run: SyncRun | None) -> list[dict]:
    """The run's problems, each with its stored conversation's pk when there is one."""
    if run is None or not run.problems:
        return []
    shown = [p for p in run.problems[:PROBLEMS_SHOWN] if isinstance(p, dict)]
    ids = [str(p.get("id", "")) for p in shown]
    stored = dict(
        Conversation.objects.filter(page=page, facebook_id__in=ids).values_list("facebook_id", "pk")
    )
    return [
        {"id": fb_id, "error": str(p.get("error", "")), "pk": stored.get(fb_id)}
        for fb_id, p in zip(ids, shown, strict=True)
    ]


def saved_position(cp: Checkpoint | None) -> dict | None:
    """The saved checkpoint in words for staff (the JSON itself is in Technical details)."""
    if cp is None:
        return None
    try:
        saved_at = datetime.fromisoformat(cp.timestamp) if cp.timestamp else None
    except ValueError:
        saved_at = None
    return {
        "status": cp.status,
        "unfinished": cp.unfinished,
        "mode": cp.mode,
        "current": cp.current,
        "total": cp.total,
        "phase": cp.phase,
        "folder": cp.folder_label,
        "folder_number": min(cp.folderIndex, len(FOLDERS) - 1) + 1,
        "saved_at": saved_at,
    }


def schedule_of(page: FacebookPage) -> dict:
    """When the schedule syncs this Page next (pages.schedule)."""
    interval = settings.SYNC_SCHEDULE_INTERVAL_SECONDS
    if interval <= 0:
        return {"on": False}
    return {
        "on": True,
        "blocked": not page.is_connected or page.needs_reconnect,
        "next_at": page.next_scheduled_sync_at,
        "every": timedelta(seconds=interval),
    }


def panel_context(page: FacebookPage, now: datetime | None = None) -> dict:
    """What the Page screen's live part shows: the page, its latest run and card, history,
    problems, schedule, workers and the saved position."""
    now = now or timezone.now()
    runs = list(page.sync_runs.order_by("-created_at", "-id")[:20])
    # The card shows the main runs; the history backfill has its own (pages.history_panel).
    run = (
        page.sync_runs.exclude(mode__in=SyncRun.BACKGROUND_MODES)
        .order_by("-created_at", "-id")
        .first()
    )
    saved = Checkpoint.of(page)
    own = saved if saved is not None and run is not None and saved.owned_by(run) else None
    show_freshest_counters(run, own)
    workers = Workers.now(now)
    wait = wait_state(run, now, workers)
    state = card_state(page, run, own, wait)
    resumable = _is_resumable(page, run, own)
    problems = problems_of(page, run)
    return {
        "page": page,
        "run": run,
        "runs": runs,
        "state": state,
        "wait": wait,
        "waiting_since": waiting_since(run, now),
        "workers": workers,
        "actions": actions_for(page, run, state, resumable),
        # A verify run's own words (None for a sync): pages.verify_card.
        "verify": verify_card(run, state),
        "resumable": resumable,
        "bar": bar_of(run, state),
        # "0 conversations" says nothing while it waits for a worker or counts the Page.
        "show_counts": run is not None and run.status != S.QUEUED and state != "census",
        "percent": percent_done(run.current, run.total, run.status) if run else None,
        "pace": pace_for(run, own, now),
        "checkpoint": own,
        "folder_number": min(own.folderIndex, len(FOLDERS) - 1) + 1 if own else None,
        "folder_count": len(FOLDERS),
        "changed": (run.inserted + run.updated) if run else 0,
        "processing": min(run.current + 1, run.total or run.current + 1) if run else 0,
        "problems": problems,
        "problems_more": max((run.problem_count if run else 0) - len(problems), 0),
        "saved": saved_position(saved),
        "checkpoint_json": checkpoint.pretty_json(page),
        "conversation_count": page.conversations.count(),
        "schedule": schedule_of(page),
        "webhooks": webhook_facts(page),
        "history": history_context(page),
        "unavailable_folders": findings.unavailable_folders(page),
        "degraded_fields": findings.degraded_fields(page),
        # Events can arrive out of order (a page load and a replayed event): the browser
        # keeps the newest rendering (static/js/progress.js).
        "version": time.time_ns() // 1000,
    }


def render_event(page: FacebookPage) -> str:
    """One live update: the Page screen's live part, morphed into the screen."""
    return render_to_string(LIVE_TEMPLATE, panel_context(page))
