"""The "Full history" card's buttons: start the history backfill, stop it. Thin: the run's
life is pages.sync.runs; the answer is a notice, the card changes through the live stream."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from fbsync.access import inbox_access_required
from pages import progress
from pages.models import FacebookPage, SyncRun
from pages.sync import runs
from pages.sync.runs import Start, SyncAlreadyRunning
from pages.tasks import PageCannotSync, queue_sync
from pages.views import _control_response


@require_POST
@inbox_access_required
def fetch_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Fetch every conversation's older messages (beside the syncs, second to them)."""
    page = get_object_or_404(FacebookPage, pk=pk)
    notice = ""
    try:
        queue_sync(page, trigger=SyncRun.Trigger.WEB, mode=Start.HISTORY)
    except PageCannotSync as exc:
        notice = str(exc)
    except SyncAlreadyRunning:
        notice = "The history of this page is already being fetched."
    progress.publish(page.pk, final=True)
    return _control_response(request, page, notice)


@require_POST
@inbox_access_required
def stop_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop after the page of messages in flight; a later fetch goes on from there."""
    page = get_object_or_404(FacebookPage, pk=pk)
    runs.request_cancel(page, background=True)
    progress.publish(page.pk, final=True)
    return _control_response(request, page)
