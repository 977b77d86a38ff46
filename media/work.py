"""The work behind the media tasks: collecting new attachments into rows (`collect`) and
downloading due rows (`download_due`); see media.pipeline for the whole story."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from conversations.models import Message
from media.download import Expired, Failed, Refused, fetch, url_expired
from media.models import MediaAttachment, MediaCursor
from media.refresh import Refresher
from pages.models import FacebookPage

logger = logging.getLogger(__name__)

KINDS = ("image", "sticker", "video", "audio", "file")
BATCH = 500
# Transactions commit out of id order: each collect looks this far below its watermark again.
SLACK_IDS = 2000
LEASE = timedelta(minutes=10)  # a claimed row is retried after this if its worker died
PASS_SECONDS = 60.0  # one task's work; more is queued as another task


def collect(page_id: int) -> int:
    """Create the rows of the Page's new attachments. Returns how many were created."""
    MediaCursor.objects.filter(page_id=page_id).update(collect_queued_at=None)
    cursor, _ = MediaCursor.objects.get_or_create(page_id=page_id)
    last, created = max(cursor.last_message_id - SLACK_IDS, 0), 0
    while True:
        batch = list(
            Message.objects.filter(page_id=page_id, pk__gt=last)
            .exclude(attachments=[])
            .exclude(Exists(MediaAttachment.objects.filter(message=OuterRef("pk"))))
            .order_by("pk")
            .values_list("pk", "attachments")[:BATCH]
        )
        if not batch:
            break
        now = timezone.now()
        rows = [
            MediaAttachment(
                message_id=pk,
                page_id=page_id,
                index=index,
                kind=item["type"],
                name=str(item.get("name") or "")[:255],
                mime_type=str(item.get("mime_type") or "")[:100],
                source_url=item["url"],
                next_try_at=now,
            )
            for pk, attachments in batch
            for index, item in enumerate(attachments if isinstance(attachments, list) else [])
            if _downloadable(item)
        ]
        MediaAttachment.objects.bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
        last = batch[-1][0]
    top = Message.objects.filter(page_id=page_id).order_by("-pk").values_list("pk", flat=True)
    watermark = max(cursor.last_message_id, top.first() or 0)
    MediaCursor.objects.filter(pk=cursor.pk, last_message_id__lt=watermark).update(
        last_message_id=watermark
    )
    return created


def _downloadable(item: object) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type") in KINDS
        and isinstance(item.get("url"), str)
        and item["url"].startswith(("https://", "http://"))
    )


def _claim(page_id: int) -> MediaAttachment | None:
    """The next due row of the Page, leased to this worker; None when none is due."""
    due = (MediaAttachment.State.PENDING, MediaAttachment.State.FAILED)
    while True:
        now = timezone.now()
        candidates = MediaAttachment.objects.filter(
            page_id=page_id, state__in=due, next_try_at__lte=now
        )
        pk = candidates.order_by("next_try_at", "pk").values_list("pk", flat=True).first()
        if pk is None:
            return None
        if candidates.filter(pk=pk).update(next_try_at=now + LEASE):
            return MediaAttachment.objects.select_related("message").get(pk=pk)


def download_due(page_id: int, seconds: float = PASS_SECONDS) -> bool:
    """Download the Page's due attachments for about `seconds`. True when none is left due."""
    page = FacebookPage.objects.get(pk=page_id)
    refresher = Refresher(page)
    deadline = time.monotonic() + seconds
    with requests.Session() as session:
        while time.monotonic() < deadline:
            row = _claim(page_id)
            if row is None:
                return True
            download_one(row, session, refresher)
    return False


def download_one(row: MediaAttachment, session: requests.Session, refresher: Refresher) -> str:
    """Try the row once and record the outcome (its new state)."""
    attempts = row.attempts + 1
    try:
        url = row.source_url
        if not url or url_expired(url):
            url = refresher.fresh_url(row)
        try:
            stored = fetch(url, row.kind, row.mime_type, session)
        except Expired:
            stored = fetch(refresher.fresh_url(row), row.kind, row.mime_type, session)
    except Refused as exc:
        return _record(row, MediaAttachment.State.REFUSED, attempts, str(exc))
    except Failed as exc:
        if attempts >= settings.MEDIA_MAX_ATTEMPTS:
            return _record(row, MediaAttachment.State.FAILED, attempts, str(exc))
        delay = min(settings.MEDIA_RETRY_BASE_SECONDS * 4 ** (attempts - 1), 86_400)
        retry_at = timezone.now() + timedelta(seconds=delay)
        return _record(row, MediaAttachment.State.FAILED, attempts, str(exc), retry_at)
    except Exception as exc:  # a bug or a database error: recorded, tried again later
        logger.exception("Downloading attachment %s failed", row.pk)
        retry_at = timezone.now() + timedelta(seconds=settings.MEDIA_RETRY_BASE_SECONDS)
        reason = f"an error occurred ({type(exc).__name__})"
        return _record(row, MediaAttachment.State.FAILED, attempts, reason, retry_at)
    MediaAttachment.objects.filter(pk=row.pk).update(
        state=MediaAttachment.State.STORED,
        attempts=attempts,
        file=stored,
        last_error="",
        next_try_at=None,
        updated_at=timezone.now(),
    )
    return MediaAttachment.State.STORED


def _record(row, state: str, attempts: int, error: str, retry_at=None) -> str:
    MediaAttachment.objects.filter(pk=row.pk).update(
        state=state,
        attempts=attempts,
        last_error=error[:255],
        next_try_at=retry_at,
        updated_at=timezone.now(),
    )
    return state
