"""The Page screen's sync card: what it shows (`panel_context`) and its HTML, for a page
load, an htmx response and a live event alike (so a live update renders exactly what a
reload would)."""

from __future__ import annotations

from django.template.loader import render_to_string

from pages.models import FacebookPage, SyncRun
from pages.sync import checkpoint, findings
from pages.sync.checkpoint import Checkpoint, percent_done

# The parts of the Page screen that a live event replaces: the card, and out of band the
# numbers around it, so nothing on the screen contradicts the card.
LIVE_PARTS = (
    "sync-panel",
    "conversation-count",
    "sync-history",
    "graph-findings",
    "sync-checkpoint",
)
RESUMABLE_STATUSES = (SyncRun.Status.INTERRUPTED, SyncRun.Status.CANCELLED, SyncRun.Status.FAILED)


def panel_context(page: FacebookPage) -> dict:
    """What the Page screen shows: the page, its latest run, history and checkpoint."""
    runs = list(page.sync_runs.order_by("-created_at", "-id")[:20])
    run = runs[0] if runs else None
    saved = Checkpoint.of(page)
    resumable = (
        run is not None
        and run.status in RESUMABLE_STATUSES
        and saved is not None
        and saved.owned_by(run)
        and not page.needs_reconnect
    )
    return {
        "page": page,
        "run": run,
        "runs": runs,
        "checkpoint": saved,
        "checkpoint_json": checkpoint.pretty_json(page),
        "conversation_count": page.conversations.count(),
        "percent": percent_done(run.current, run.total, run.status) if run else None,
        "resumable": resumable,
        "unavailable_folders": findings.unavailable_folders(page),
        "degraded_fields": findings.degraded_fields(page),
    }


def render_event(page: FacebookPage, notice: str = "") -> str:
    """One live update: the card, plus out-of-band swaps for the parts around it."""
    context = {**panel_context(page), "oob": True, "notice": notice}
    return "".join(
        render_to_string(f"pages/page_detail.html#{name}", context) for name in LIVE_PARTS
    )
