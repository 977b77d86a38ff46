"""The staff screens for stored conversations: a searchable list, one thread, and a Page's
activity heat map. Read-only and thin: querysets here, presentation in the templates.

The screens update live (conversations.live): each page load names the event stream to follow
(`conversation_events`, daphne's side is pages.streams), and a live refresh asks the same URL
again with `HX-Request`, which answers only the live part.

This app's models must not depend on `pages` (design.md §2), so the Page model is reached
through the foreign key of `Conversation.page`.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from conversations import live
from conversations.models import Conversation, InteractionEvent, Message
from conversations.snippets import add_list_snippets
from fbsync.access import can_use_inbox, inbox_access_required
from fbsync.timezones import TIMEZONE_COOKIE, reader_timezone
from media import display as media_display
from pages import streams

PER_PAGE = 50
# ISO weekday numbers (1 = Monday … 7 = Sunday) and the names shown for them.
WEEKDAYS = [
    (1, "Monday"),
    (2, "Tuesday"),
    (3, "Wednesday"),
    (4, "Thursday"),
    (5, "Friday"),
    (6, "Saturday"),
    (7, "Sunday"),
]
HOURS = range(24)
# Heat-map shades: 0 means no events, 1…HEAT_LEVELS scale with the busiest cell.
HEAT_LEVELS = 5
ATTACHMENT_TYPES = {"image", "video", "audio", "file", "sticker", "share", "unknown"}
SAFE_URL_SCHEMES = ("https://", "http://")
PAGE_HEAVY_FIELDS = (
    "page__sync_checkpoint",
    "page__high_water_marks",
    "page__encrypted_access_token",
)


def _page_model() -> type:
    """`pages.FacebookPage`, without importing `pages`."""
    return Conversation.page.field.related_model


def _int_param(value: str | None) -> int | None:
    """A positive integer query parameter, or None for anything else (no 500s on junk)."""
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    # Larger than any database key: treat as "no such page" rather than overflow SQL.
    return number if 0 < number < 2**63 else None


def filter_conversations(
    queryset: QuerySet[Conversation], *, q: str = "", page_pk: int | None, folder: str
) -> QuerySet[Conversation]:
    """Search by contact name or message text (case-insensitive) and filter by Page and
    folder. The text search is an EXISTS subquery, so a conversation with many matching
    messages is still one row."""
    if q:
        matching_message = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=q)
        queryset = queryset.filter(Q(contact__name__icontains=q) | Exists(matching_message))
    if page_pk is not None:
        queryset = queryset.filter(page_id=page_pk)
    if folder:
        queryset = queryset.filter(folder=folder)
    return queryset


def live_events_url() -> str:
    """The live stream, starting after the last change stored before this rendering: a
    change made while the screen loads is replayed, never lost."""
    events = reverse("conversations:events")
    return f"{events}?lastEventId={live.CHANNEL}:{live.current_event_id()}"


@require_safe
@inbox_access_required
@vary_on_headers("HX-Request")
def conversation_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    page_pk = _int_param(request.GET.get("page"))
    folder = request.GET.get("folder", "")
    if folder not in Conversation.Folder.values:
        folder = ""
    conversations = filter_conversations(
        # The page's checkpoint, marks and token are not shown: leave them in the database.
        Conversation.objects.select_related("contact", "page").defer(*PAGE_HEAVY_FIELDS),
        q=q,
        page_pk=page_pk,
        folder=folder,
    ).order_by("-updated_time", "-id")
    paginator = Paginator(conversations, PER_PAGE)
    listing = paginator.get_page(request.GET.get("p"))
    rows = list(listing.object_list)
    add_list_snippets(rows)
    # The current filters without the page number, for the pagination links.
    filters = request.GET.copy()
    filters.pop("p", None)
    context: dict[str, Any] = {
        "nav": "conversations",
        "listing": listing,
        "conversations": rows,
        "q": q,
        "selected_page": page_pk,
        "selected_folder": folder,
        "pages": _page_model().objects.only("pk", "name", "facebook_id").order_by("name", "pk"),
        "folders": Conversation.Folder.choices,
        "filters": filters.urlencode(),
        "filtered": bool(q or page_pk or folder),
    }
    if request.htmx:
        # A live refresh: the results only (the reader's search form is left alone).
        return render(request, "conversations/conversation_list.html#results", context)
    context["live_events_url"] = live_events_url()
    return render(request, "conversations/conversation_list.html", context)


def display_attachments(attachments: Any) -> list[dict[str, Any]]:
    """The stored attachment list made safe to render: unknown kinds become "unknown", and a
    URL is kept only when it is http(s), so a shared `javascript:` link never becomes a link."""
    if not isinstance(attachments, list):
        return []
    result = []
    for item in attachments:
        if not isinstance(item, dict):
            continue
        entry = dict(item)
        if entry.get("type") not in ATTACHMENT_TYPES:
            entry["type"] = "unknown"
        url = entry.get("url")
        entry["url"] = url if isinstance(url, str) and url.startswith(SAFE_URL_SCHEMES) else ""
        result.append(entry)
    return result


@require_safe
@inbox_access_required
@vary_on_headers("HX-Request")
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.select_related("contact", "page"), pk=pk)
    # All stored messages: a thread holds at most a few hundred (up to 25 per sync plus
    # what incremental syncs add), so no pagination. Oldest first, ties in insertion order.
    thread = list(conversation.messages.order_by("created_time", "id"))
    for message in thread:
        message.shown_attachments = display_attachments(message.attachments)
    media_display.annotate(thread)  # kept files, or where their download stands
    context = {
        "nav": "conversations",
        "conversation": conversation,
        "contact": conversation.contact,
        # Not "messages": base.html shows django.contrib.messages under that name.
        "thread": thread,
        "stored_count": len(thread),
        "event_count": conversation.events.count(),
    }
    if request.htmx:
        # A live refresh: the facts and the thread.
        return render(request, "conversations/conversation_detail.html#live", context)
    context["live_events_url"] = live_events_url()
    return render(request, "conversations/conversation_detail.html", context)


@require_safe
async def conversation_events(request: HttpRequest) -> HttpResponse:
    """The conversation screens' live stream (SSE) of conversations.live's notices, for
    inbox staff only; a browser that reconnects replays what it missed (Last-Event-ID).
    pages.streams caps the streams and ends one whose user loses access."""
    user = await request.auser()
    if not await sync_to_async(can_use_inbox)(user):
        return HttpResponseForbidden("Staff with access to the inbox only.")
    # The stream may stay open for hours: it must not keep the connection the checks opened.
    await sync_to_async(streams.close_db_connections)()
    return await streams.open_channel_stream(request, live.CHANNEL, user)


def activity_grid(events: QuerySet[InteractionEvent]) -> dict[str, Any]:
    """Count events per (weekday, hour) in the database, in the active timezone (the
    reader's, see fbsync/timezones.py), and lay them out as 7 rows of 24 cells with a shade
    level relative to the busiest cell."""
    counts = {
        (row["weekday"], row["hour"]): row["n"]
        for row in events.annotate(
            weekday=ExtractIsoWeekDay("occurred_at"), hour=ExtractHour("occurred_at")
        )
        .values("weekday", "hour")
        .annotate(n=Count("id"))
        .order_by()
    }
    busiest = max(counts.values(), default=0)
    rows = []
    for number, name in WEEKDAYS:
        cells = []
        for hour in HOURS:
            n = counts.get((number, hour), 0)
            # Any activity gets at least level 1, so a single event is never invisible.
            level = -(-n * HEAT_LEVELS // busiest) if n else 0
            cells.append({"hour": hour, "count": n, "level": level})
        rows.append({"name": name, "cells": cells, "total": sum(c["count"] for c in cells)})
    hour_totals = [sum(row["cells"][hour]["count"] for row in rows) for hour in HOURS]
    return {
        "rows": rows,
        "hours": list(HOURS),
        "hour_totals": hour_totals,
        "total": sum(hour_totals),
        "busiest": busiest,
    }


@require_safe
@inbox_access_required
def activity(request: HttpRequest, page_pk: int) -> HttpResponse:
    page = get_object_or_404(_page_model(), pk=page_pk)
    events = InteractionEvent.objects.filter(page_id=page.pk)
    # Events of older messages the history backfill fetched are real activity at their
    # times, but a Page that just fetched years of history looks unlike its usual weeks:
    # staff can leave them out (`?history=hide`).
    backfilled = events.filter(backfill=True).count()
    hide_history = request.GET.get("history") == "hide"
    if hide_history:
        events = events.filter(backfill=False)
    by_kind = dict(events.values_list("kind").annotate(n=Count("id")).order_by())
    kinds = [
        (value, label, by_kind.get(value, 0)) for value, label in InteractionEvent.Kind.choices
    ]
    context = {
        "nav": "conversations",
        "page": page,
        "grid": activity_grid(events),
        "kinds": kinds,
        "levels": range(HEAT_LEVELS + 1),
        "backfilled": backfilled,
        "hide_history": hide_history,
        "timezone_name": timezone.get_current_timezone_name(),
        # Whether the hours are the reader's (their browser told us) or the server's default.
        "timezone_is_readers": reader_timezone(request.COOKIES.get(TIMEZONE_COOKIE)) is not None,
    }
    return render(request, "conversations/activity.html", context)
