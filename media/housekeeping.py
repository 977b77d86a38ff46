"""Media upkeep, run by every worker's housekeeping (pages.schedule.housekeeping):
downloads that are overdue (a failed one whose backoff is over, a lost task, a dead worker's
lease), collect requests that were never served, and messages stored without a call to
`note_new_messages` are queued again, as one coalesced collect task per Page.

`remove_unreferenced_files` deletes the stored files no attachment points to any more (the
retention job calls it after deleting old messages, whose attachment rows cascade)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.core.files.storage import storages
from django.db.models import Exists, OuterRef
from django.utils import timezone

from conversations.models import Message
from media.models import MediaAttachment, MediaCursor, StoredFile
from media.pipeline import request_collect
from pages.models import FacebookPage

logger = logging.getLogger(__name__)

# A due row nobody took for this long, or a collect request this old, is queued again.
OVERDUE = timedelta(minutes=2)
STALE_REQUEST = timedelta(minutes=15)
# A file younger than this may be about to be pointed at (a download in flight): kept.
ORPHAN_GRACE = timedelta(hours=1)
SWEEP_EVERY_SECONDS = 3600.0
_last_sweep: float | None = None  # per process: when it last removed unreferenced files


def housekeeping() -> int:
    """Queue the Pages whose media need work, and once an hour remove the files nothing
    points to any more (a person's erased messages included). Returns how many Pages were
    queued."""
    global _last_sweep
    if _last_sweep is None or time.monotonic() - _last_sweep > SWEEP_EVERY_SECONDS:
        _last_sweep = time.monotonic()
        remove_unreferenced_files()
    now = timezone.now()
    MediaCursor.objects.filter(collect_queued_at__lt=now - STALE_REQUEST).update(
        collect_queued_at=None
    )
    overdue = MediaAttachment.objects.filter(
        state__in=(MediaAttachment.State.PENDING, MediaAttachment.State.FAILED),
        next_try_at__lte=now - OVERDUE,
    )
    pages = set(overdue.values_list("page_id", flat=True).distinct())
    newer = Message.objects.filter(page_id=OuterRef("page_id"), pk__gt=OuterRef("last_message_id"))
    pages |= set(MediaCursor.objects.filter(Exists(newer)).values_list("page_id", flat=True))
    never_collected = FacebookPage.objects.filter(
        Exists(Message.objects.filter(page_id=OuterRef("pk"))), media_cursor__isnull=True
    )
    pages |= set(never_collected.values_list("pk", flat=True))
    return sum(request_collect(page_id) for page_id in sorted(pages))


def remove_unreferenced_files(grace: timedelta = ORPHAN_GRACE) -> int:
    """Delete stored files (bytes and row) that no attachment row points to. Returns how many."""
    storage = storages["default"]
    orphans = StoredFile.objects.filter(created_at__lt=timezone.now() - grace).exclude(
        Exists(MediaAttachment.objects.filter(file=OuterRef("pk")))
    )
    removed = 0
    for stored in orphans.iterator(chunk_size=500):
        # Row first: a download that finds the bytes again then writes them anew.
        deleted, _ = (
            StoredFile.objects.filter(pk=stored.pk)
            .exclude(Exists(MediaAttachment.objects.filter(file=OuterRef("pk"))))
            .delete()
        )
        if deleted:
            try:
                storage.delete(stored.storage_name)
            except OSError:
                logger.warning("Could not delete stored file %s", stored.sha256[:12])
            removed += 1
    return removed
