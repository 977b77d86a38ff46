"""Attachments kept, from a new message to a stored file.

`note_new_messages(page_id)` is the one entry point for whatever stores messages (the sync's
recorder, webhook processing, the history backfill). It is safe inside a transaction: it only
registers an on-commit hook, which queues one "collect" task per Page however many commits
ask (`MediaCursor.collect_queued_at` is set by a conditional UPDATE; the task clears it first,
so messages committed while it runs queue another). Nothing here ever runs inside the
conversation's transaction, and nothing here ever fails it.

`collect` finds the Page's messages with attachments and no media rows yet, from a watermark
on Message.id (minus a slack, for transactions that commit out of id order), creates a row
per downloadable attachment and downloads what is due. `download_due` claims rows one at a
time (a lease on `next_try_at`, so two workers never download the same row), downloads,
and records the outcome: stored, refused (never tried again), or failed (tried again after
a backoff, by housekeeping, until MEDIA_MAX_ATTEMPTS)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from media.models import MediaCursor
from media.tasks import collect_task


def note_new_messages(page_id: int) -> None:
    """Messages of this Page were stored (or will be, when the current transaction commits):
    queue their attachments' downloads once it has committed."""
    transaction.on_commit(lambda: request_collect(page_id), robust=True)


def request_collect(page_id: int) -> bool:
    """Queue a collect task for the Page unless one is already queued. True if queued."""
    now = timezone.now()
    queued = MediaCursor.objects.filter(page_id=page_id, collect_queued_at__isnull=True).update(
        collect_queued_at=now
    )
    if not queued and not MediaCursor.objects.filter(page_id=page_id).exists():
        _, queued = MediaCursor.objects.get_or_create(
            page_id=page_id, defaults={"collect_queued_at": now}
        )
    if queued:
        collect_task.enqueue(page_id)
    return bool(queued)
