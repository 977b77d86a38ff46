"""The Page screen's "Full history" card (part of the live part, pages.panel): where the
history backfill stands ("History: 1,204 of 5,630 conversations complete · 41,870
messages"), what it is doing, where threads' history ended, and its controls."""

from __future__ import annotations

from typing import Any

from pages.models import FacebookPage, SyncRun
from pages.sync.history_progress import HistoryCheckpoint, HistoryCounts

S = SyncRun.Status


def history_context(page: FacebookPage) -> dict[str, Any]:
    run = (
        page.sync_runs.filter(mode__in=SyncRun.BACKGROUND_MODES)
        .order_by("-created_at", "-id")
        .first()
    )
    counts = HistoryCounts.of(page.pk)
    saved = HistoryCheckpoint.of(page)
    state = _state(page, run, saved, counts)
    can_start = page.is_connected and not page.needs_reconnect and counts.remaining > 0
    if state in ("running", "waiting", "queued", "stepped_aside", "cancelling"):
        actions = ["stop"] if state != "cancelling" else []
    else:
        actions = ["fetch"] if can_start else []
    return {
        "run": run,
        "state": state,
        "counts": counts,
        "messages": saved.messages,
        "current_name": saved.currentName if state in ("running", "waiting") else "",
        "actions": actions,
        "ended_early": counts.graph_stopped + counts.retention,
    }


def _state(
    page: FacebookPage, run: SyncRun | None, saved: HistoryCheckpoint, counts: HistoryCounts
) -> str:
    if run is None:
        return "complete" if counts.total and not counts.remaining else "none"
    if run.status == S.RUNNING:
        return "waiting" if saved.runId == run.pk and saved.message else "running"
    if run.status == S.PAUSED:
        # Parked to free its worker for the Page's sync, or by Facebook's rate limit.
        return "stepped_aside" if run.error.startswith("Waiting for") else "paused"
    if run.status in (S.QUEUED, S.CANCELLING):
        return str(run.status)
    if counts.total and not counts.remaining:
        return "complete"
    return str(run.status)
