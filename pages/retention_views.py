"""The Page screen's "Keeping data" section: what fbsync keeps of the Page (its retention,
whether it fetches each conversation's full history) and the form that changes it.

Deleting data cannot be undone, so changing the setting needs, besides inbox access, the
permission to change Pages (`pages.change_facebookpage`, as in the admin); other inbox staff
see what is kept. The form answers with a redirect to the Page screen and a message, never a
re-rendered page: the section is outside the live card, and a reload shows it as saved.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from fbsync.access import inbox_access_required
from pages.models import FacebookPage, SyncRun
from pages.retention import MAX_DAYS, MIN_DAYS, media_housekeeping_available
from pages.sync.runs import Start, SyncAlreadyRunning
from pages.tasks import PageCannotSync, queue_sync

CHANGE_PERMISSION = "pages.change_facebookpage"
DAYS_ERROR = f"Enter a whole number of days from {MIN_DAYS} to {MAX_DAYS:,}, or leave it empty."


def retention_days_field() -> forms.IntegerField:
    """The days field, the same on the Page screen and in the admin."""
    return forms.IntegerField(
        label="Delete messages and events older than (days)",
        required=False,
        min_value=MIN_DAYS,
        max_value=MAX_DAYS,
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), DAYS_ERROR),
        help_text="Empty: keep them forever. Conversations stay either way.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class KeepingForm(forms.Form):
    retention_days = retention_days_field()
    fetch_history = forms.BooleanField(
        label="Fetch each conversation's full history after every sync", required=False
    )


def can_change_keeping(user) -> bool:
    return user.has_perm(CHANGE_PERMISSION)


def every(seconds: int) -> str:
    """How often housekeeping applies a retention, for people: "every day", "every 6 hours"."""
    if seconds % 86_400 == 0:
        days = seconds // 86_400
        return "every day" if days == 1 else f"every {days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "every hour" if hours == 1 else f"every {hours} hours"
    minutes = max(1, round(seconds / 60))
    return "every minute" if minutes == 1 else f"every {minutes} minutes"


def keeping_context(page: FacebookPage, user) -> dict:
    """What the section shows: the Page's settings, how often they apply, and the form (for
    staff who may change it)."""
    interval = settings.RETENTION_INTERVAL_SECONDS
    form = None
    if can_change_keeping(user):
        form = KeepingForm(
            initial={"retention_days": page.retention_days, "fetch_history": page.fetch_history},
            auto_id="keeping-%s",
        )
    return {
        "days": page.retention_days or None,
        "every": every(interval),
        "applied_at": page.retention_applied_at,
        "next_at": (
            page.retention_applied_at + timedelta(seconds=interval)
            if page.retention_days and page.retention_applied_at
            else None
        ),
        "media": media_housekeeping_available(),
        "fetch_history": page.fetch_history,
        "form": form,
    }


def _back(page: FacebookPage) -> HttpResponse:
    # The Page screen's top, where the message is (not the section: the message would be
    # out of view).
    return redirect("pages:detail", pk=page.pk)


@require_POST
@inbox_access_required
def keeping_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the Page's retention and history settings; turning history on (or saving it on)
    queues a history fetch at once."""
    page = get_object_or_404(FacebookPage, pk=pk)
    if not can_change_keeping(request.user):
        raise PermissionDenied("Only staff who may change Pages can change what is kept.")
    form = KeepingForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"Not saved: {error}")
        return _back(page)
    days = form.cleaned_data["retention_days"]
    fetch_history = form.cleaned_data["fetch_history"]
    # Only these two columns: a save() of the whole row would overwrite what a running sync
    # writes to the Page meanwhile (its marks, its checkpoint).
    FacebookPage.objects.filter(pk=page.pk).update(retention_days=days, fetch_history=fetch_history)
    if days:
        kept = f"messages and events older than {days:,} day{'s' if days != 1 else ''} are deleted"
    else:
        kept = "messages are kept forever"
    messages.success(request, f"Saved: {kept}.")
    if fetch_history:
        page.refresh_from_db()
        _queue_history(request, page)
    return _back(page)


def _queue_history(request: HttpRequest, page: FacebookPage) -> None:
    try:
        queue_sync(page, trigger=SyncRun.Trigger.WEB, mode=Start.HISTORY)
    except SyncAlreadyRunning as exc:
        messages.info(request, str(exc))  # "A history fetch of this page is already running"
    except PageCannotSync as exc:
        messages.info(request, f"The full history is fetched once the page can sync: {exc}")
    else:
        messages.info(request, "Fetching each conversation's full history now.")
