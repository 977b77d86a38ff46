"""What the thread view shows of each attachment: the stored file through our own view, or
where its download stands. The CDN's URL is dropped from every media attachment here, so a
template can never render it."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from media.models import MediaAttachment
from media.work import KINDS


def annotate(thread: list[Any]) -> None:
    """Give each shown attachment of these messages (`message.shown_attachments`, parallel to
    the dicts of `message.attachments`) a `media` entry: {"state", "url", "size",
    "content_type", "error", "retrying"}; None when no download was planned yet."""
    rows = MediaAttachment.objects.filter(message__in=[m.pk for m in thread]).select_related("file")
    found = {(row.message_id, row.index): row for row in rows}
    for message in thread:
        raw = message.attachments if isinstance(message.attachments, list) else []
        shown = iter(message.shown_attachments)
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                continue
            entry = next(shown, None)
            if entry is None:
                break
            if entry.get("type") not in KINDS:
                continue
            entry["has_source"] = bool(entry.get("url"))
            entry["url"] = ""  # never rendered: the CDN's URL expires and tracks the reader
            row = found.get((message.pk, index))
            entry["media"] = _media(row) if row else None


def _media(row: MediaAttachment) -> dict[str, Any]:
    stored = row.state == MediaAttachment.State.STORED and row.file is not None
    return {
        "state": row.state,
        "url": reverse("media:file", args=[row.pk]) if stored else "",
        "size": row.file.size if stored else None,
        "content_type": row.file.content_type if stored else "",
        "error": row.last_error,
        "retrying": row.state == MediaAttachment.State.FAILED and row.next_try_at is not None,
    }
