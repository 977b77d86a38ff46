"""A Page's conversations, messages and events as records, and as JSON Lines or CSV text
(`manage.py export_page`, the Page screen's download). The schema is docs/export.md: change a
key there and here together, and only by adding.

Nothing is loaded whole: each kind of row is read in keyset order (`id > last id`, `LIMIT
EXPORT_CHUNK_SIZE`), one query per chunk, so memory stays flat however big the Page is and a
row inserted while the export runs never shifts a chunk (no row is exported twice). The export
is not a snapshot: rows written while it runs may or may not be in it.

CSV layout: one file, a `type` column, and the union of every kind's columns (a column that
does not belong to a row's type is empty). One file streams as it is written (a zip of three
CSVs would have to be finished before the first byte of the second), opens in a spreadsheet at
once and filters by `type`. It starts with a UTF-8 byte order mark, so Excel reads the emoji and
right-to-left names correctly; lists (attachments) are JSON text in their cell.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from conversations.models import Conversation, InteractionEvent, Message

if TYPE_CHECKING:
    from pages.models import FacebookPage

FORMATS = ("jsonl", "csv")
CONTENT_TYPES = {
    "jsonl": "application/x-ndjson; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
DEFAULT_CHUNK_SIZE = 2000

CONVERSATION_KEYS = (
    "type",
    "page_id",
    "conversation_id",
    "folder",
    "contact_psid",
    "contact_name",
    "updated_time",
    "last_message_at",
    "message_count",
    "unread_count",
    "snippet",
    "can_reply",
)
MESSAGE_KEYS = (
    "type",
    "page_id",
    "conversation_id",
    "message_id",
    "created_time",
    "direction",
    "sender_id",
    "sender_name",
    "text",
    "attachment_names",
    "attachments",
)
EVENT_KEYS = (
    "type",
    "page_id",
    "conversation_id",
    "event_kind",
    "source_id",
    "contact_psid",
    "occurred_at",
)
# Every CSV column, in this order (docs/export.md).
CSV_COLUMNS = tuple(dict.fromkeys(CONVERSATION_KEYS + MESSAGE_KEYS + EVENT_KEYS))
ATTACHMENT_KEYS = ("type", "name", "mime_type", "size", "url")


class BadSince(ValueError):
    """`--since` / `?since=` is not a date nor an ISO 8601 date and time."""


def parse_since(value: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 date and time (UTC when it has no offset)."""
    text = (value or "").strip()
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = datetime.combine(day, time()) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise BadSince(
            f"Not a date: {value!r}. Use YYYY-MM-DD or an ISO 8601 date and time "
            "such as 2026-08-03T12:00:00Z."
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z; fractions of a second only when there are some."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def chunk_size() -> int:
    return max(1, int(getattr(settings, "EXPORT_CHUNK_SIZE", DEFAULT_CHUNK_SIZE)))


def _keyset(queryset: QuerySet, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows as dicts, by id, one query of at most chunk_size() rows at a time."""
    size, last = chunk_size(), 0
    while True:
        rows = list(queryset.filter(id__gt=last).order_by("id").values("id", *fields)[:size])
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1]["id"]


def attachments_of(stored: Any) -> list[dict[str, Any]]:
    """The stored normalised attachments (conversations.parsing), each with the same keys.
    `url` is Facebook's CDN address: not a secret, but it stops working after a while."""
    items = stored if isinstance(stored, list) else []
    return [
        {key: item.get(key) for key in ATTACHMENT_KEYS} for item in items if isinstance(item, dict)
    ]


def conversation_records(page: FacebookPage, since: datetime | None = None) -> Iterator[dict]:
    queryset = Conversation.objects.filter(page=page)
    if since is not None:
        queryset = queryset.filter(updated_time__gte=since)
    fields = (
        "facebook_id",
        "folder",
        "contact__psid",
        "contact__name",
        "updated_time",
        "last_message_at",
        "message_count",
        "unread_count",
        "snippet",
        "can_reply",
    )
    for row in _keyset(queryset, fields):
        yield {
            "type": "conversation",
            "page_id": page.facebook_id,
            "conversation_id": row["facebook_id"],
            "folder": row["folder"],
            "contact_psid": row["contact__psid"],
            "contact_name": row["contact__name"],
            "updated_time": iso(row["updated_time"]),
            "last_message_at": iso(row["last_message_at"]),
            "message_count": row["message_count"],
            "unread_count": row["unread_count"],
            "snippet": row["snippet"],
            "can_reply": row["can_reply"],
        }


def message_records(page: FacebookPage, since: datetime | None = None) -> Iterator[dict]:
    queryset = Message.objects.filter(page=page)
    if since is not None:
        queryset = queryset.filter(created_time__gte=since)
    fields = (
        "conversation__facebook_id",
        "facebook_id",
        "created_time",
        "direction",
        "sender_id",
        "sender_name",
        "text",
        "attachments",
    )
    for row in _keyset(queryset, fields):
        attachments = attachments_of(row["attachments"])
        yield {
            "type": "message",
            "page_id": page.facebook_id,
            "conversation_id": row["conversation__facebook_id"],
            "message_id": row["facebook_id"],
            "created_time": iso(row["created_time"]),
            "direction": row["direction"],
            "sender_id": row["sender_id"],
            "sender_name": row["sender_name"],
            "text": row["text"],
            "attachment_names": [a["name"] for a in attachments if a["name"]],
            "attachments": attachments,
        }


def event_records(page: FacebookPage, since: datetime | None = None) -> Iterator[dict]:
    queryset = InteractionEvent.objects.filter(page=page)
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    fields = ("conversation__facebook_id", "kind", "source_id", "contact__psid", "occurred_at")
    for row in _keyset(queryset, fields):
        yield {
            "type": "event",
            "page_id": page.facebook_id,
            "conversation_id": row["conversation__facebook_id"],
            "event_kind": row["kind"],
            "source_id": row["source_id"],
            "contact_psid": row["contact__psid"],
            "occurred_at": iso(row["occurred_at"]),
        }


def records(page: FacebookPage, since: datetime | None = None) -> Iterator[dict]:
    """Every conversation, then every message, then every event of the Page."""
    yield from conversation_records(page, since)
    yield from message_records(page, since)
    yield from event_records(page, since)


# JSON leaves these unescaped with ensure_ascii=False, yet str.splitlines() and some JSON Lines
# readers split lines on them: escaped, a record is always exactly one line.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def jsonl_lines(page: FacebookPage, since: datetime | None = None) -> Iterator[str]:
    for record in records(page, since):
        yield json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS) + "\n"


class _Line:
    """csv.writer's file: writerow() returns the line instead of storing it."""

    def write(self, text: str) -> str:
        return text


# A cell a spreadsheet would run as a formula when it begins with one of these (OWASP's
# "CSV injection"): message text and names come from strangers, and staff open exports in Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # shown as text; the JSON Lines export keeps the exact text
    return "" if value is None else value


def csv_lines(page: FacebookPage, since: datetime | None = None) -> Iterator[str]:
    """RFC 4180 (CRLF, quoted when needed), after a byte order mark and the header row."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    for record in records(page, since):
        yield writer.writerow([_cell(record.get(column)) for column in CSV_COLUMNS])


def export_lines(page: FacebookPage, fmt: str, since: datetime | None = None) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}: use jsonl or csv.")
    return jsonl_lines(page, since) if fmt == "jsonl" else csv_lines(page, since)


def batched(lines: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """UTF-8 bytes in pieces of about `size`: fewer, bigger writes than one per line."""
    parts, length = [], 0
    for line in lines:
        data = line.encode()
        parts.append(data)
        length += len(data)
        if length >= size:
            yield b"".join(parts)
            parts, length = [], 0
    if parts:
        yield b"".join(parts)


def export_filename(page: FacebookPage, fmt: str, today: datetime) -> str:
    """A file name made only of safe characters, whatever the Page's id holds."""
    safe_id = "".join(c for c in page.facebook_id if c.isascii() and c.isalnum()) or str(page.pk)
    return f"fbsync-page-{safe_id}-{today:%Y-%m-%d}.{fmt}"
