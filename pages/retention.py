"""Retention: a Page's messages and interaction events older than its `retention_days` are
deleted, with the processed webhook deliveries that carried them, then the media files no
message refers to any more (`media.housekeeping`, when that
app is installed). Conversations stay: their rows, contacts, snippets and counts.

The deletion goes in batches of primary keys, each batch its own short transaction, so a Page
with millions of old rows never holds a long lock and a sync or webhook writing to it at the
same time waits at most one batch. Housekeeping (`pages.schedule.housekeeping`) runs
`apply_due_retention` in every worker; a Page's turn is taken with a conditional UPDATE on
`retention_applied_at`, so of several workers one does it, at most every
RETENTION_INTERVAL_SECONDS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from conversations.models import InteractionEvent, Message
from pages.models import FacebookPage
from webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

# The form's bounds (a hundred years at most).
MIN_DAYS = 1
MAX_DAYS = 36_500


@dataclass(frozen=True)
class RetentionCounts:
    """What one application of a Page's retention deleted."""

    messages: int = 0
    events: int = 0
    files: int = 0

    @property
    def total(self) -> int:
        return self.messages + self.events + self.files


def cutoff_for(page: FacebookPage, now: datetime | None = None) -> datetime | None:
    """The time before which the Page's messages and events are deleted; None: kept forever."""
    days = page.retention_days
    if not days:  # None (keep forever), or 0 from a hand-made row: never "delete everything"
        return None
    return (now or timezone.now()) - timedelta(days=min(days, MAX_DAYS))


def delete_in_batches(queryset: QuerySet, batch_size: int) -> int:
    """Delete the rows of `queryset`, lowest primary keys first, `batch_size` at a time, each
    batch in its own transaction. Returns how many rows were deleted (of its own model)."""
    model: type[Model] = queryset.model
    batch_size = max(1, batch_size)
    deleted, after = 0, None
    while True:
        # Keyset: each read starts after the last batch, so the rows kept are read once.
        todo = queryset if after is None else queryset.filter(pk__gt=after)
        pks = list(todo.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        after = pks[-1]
        with transaction.atomic():
            # Re-checked inside: a row that changed since the read (a webhook's newer copy)
            # is kept if it no longer matches.
            _, per_model = queryset.filter(pk__in=pks).delete()
        deleted += per_model.get(model._meta.label, 0)
        if len(pks) < batch_size:
            return deleted


MEDIA_HOUSEKEEPING = "media.housekeeping"


def media_housekeeping_available() -> bool:
    """The media app (kept attachment files) is installed and can remove unreferenced files.
    Looked up, not imported at the top: the app is optional to this module."""
    return apps.is_installed("media") and find_spec(MEDIA_HOUSEKEEPING) is not None


def remove_unreferenced_media() -> int:
    """Delete the stored files no message refers to any more; 0 without the media app."""
    if not media_housekeeping_available():
        return 0
    remove = getattr(import_module(MEDIA_HOUSEKEEPING), "remove_unreferenced_files", None)
    if remove is None:
        return 0
    removed = remove()
    return removed if isinstance(removed, int) else 0


def apply_retention(
    page: FacebookPage, *, now: datetime | None = None, batch_size: int | None = None
) -> RetentionCounts:
    """Delete the Page's messages and interaction events older than its retention (message
    events and `conversation_started` events alike), then unreferenced media files.
    Nothing happens for a Page that keeps its data forever."""
    cutoff = cutoff_for(page, now)
    if cutoff is None:
        return RetentionCounts()
    size = batch_size if batch_size is not None else settings.RETENTION_BATCH_SIZE
    messages = delete_in_batches(Message.objects.filter(page=page, created_time__lt=cutoff), size)
    events = delete_in_batches(
        InteractionEvent.objects.filter(page=page, occurred_at__lt=cutoff), size
    )
    # Webhook deliveries keep Meta's raw bodies (message texts): processed ones older than the
    # horizon go too. One that also names another Page goes with the first Page that drops it.
    delete_in_batches(
        WebhookDelivery.objects.filter(
            received_at__lt=cutoff,
            status=WebhookDelivery.Status.PROCESSED,
            mentions__page_facebook_id=page.facebook_id,
        ).distinct(),
        size,
    )
    files = remove_unreferenced_media()
    counts = RetentionCounts(messages=messages, events=events, files=files)
    if counts.total:
        logger.info(
            "Retention of page %s (%s days): deleted %s messages, %s events, %s files",
            page.pk,
            page.retention_days,
            messages,
            events,
            files,
        )
    return counts


def due_pages(now: datetime) -> QuerySet[FacebookPage]:
    """Pages with a retention whose last application is older than the interval."""
    last_due = now - timedelta(seconds=settings.RETENTION_INTERVAL_SECONDS)
    return FacebookPage.objects.filter(retention_days__gte=MIN_DAYS).filter(
        Q(retention_applied_at__isnull=True) | Q(retention_applied_at__lte=last_due)
    )


def apply_due_retention(now: datetime | None = None) -> dict[int, RetentionCounts]:
    """Housekeeping's part: apply the retention of every due Page whose turn this process
    takes (another worker that took it first does it instead). A Page whose deletion fails
    is logged and tried again after the interval; the others go on."""
    now = now or timezone.now()
    done: dict[int, RetentionCounts] = {}
    for page in due_pages(now):
        if not page.take_turn("retention_applied_at", now):
            continue  # another worker took it
        try:
            done[page.pk] = apply_retention(page, now=now)
        except Exception:
            logger.exception("Retention of page %s failed", page.pk)
    return done
