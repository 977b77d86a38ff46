"""Parse Graph conversation/message JSON and upsert one conversation idempotently.

Parsing is strict about what we key on (ids, timestamps) and lenient about everything else:
Graph omits fields that have no data (graph-api.md §4.2), names go missing for deleted users,
attachment kinds come and go. What cannot be keyed raises `BadConversationData`, which the
engine records and skips.

`ingest_conversation` runs inside the caller's transaction (the engine commits the rows and
the checkpoint together); it makes no network calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.utils import timezone

from conversations.models import Contact, Conversation, InteractionEvent, Message

FOLDERS = {choice.value for choice in Conversation.Folder}


class BadConversationData(ValueError):
    """Graph returned a conversation we cannot store faithfully."""


@dataclass
class MessageData:
    facebook_id: str
    created_time: datetime
    sender_id: str
    sender_name: str | None
    direction: str
    text: str
    attachments: list[dict[str, Any]]


@dataclass
class ConversationData:
    facebook_id: str
    folder: str
    updated_time: datetime
    message_count: int
    unread_count: int
    snippet: str
    can_reply: bool
    contact_psid: str | None
    contact_name: str | None
    # Newest first, as Graph returns them.
    messages: list[MessageData] = field(default_factory=list)
    # Cursor to older messages than those in `messages`, when Graph says there are more.
    older_messages_cursor: str | None = None


@dataclass
class KnownConversation:
    """What the engine needs to know about a stored conversation before ingesting it."""

    pk: int
    updated_time: datetime
    folder: str
    contact_name: str | None
    message_count: int
    unread_count: int
    snippet: str
    can_reply: bool
    sync_pass: str


@dataclass
class IngestResult:
    created: bool
    changed: bool
    new_messages: int
    events_created: int


def parse_time(value: Any) -> datetime:
    """Graph's "2026-08-01T10:22:31+0000" (fromisoformat reads it, 30× faster than strptime)."""
    if not isinstance(value, str):
        raise BadConversationData(f"missing or invalid timestamp {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadConversationData(f"invalid timestamp {value!r}") from None
    if parsed.tzinfo is None:
        raise BadConversationData(f"timestamp without a time zone {value!r}")
    return parsed


def _count(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _name(value: Any) -> str | None:
    return value.strip()[:255] or None if isinstance(value, str) else None


def _data_list(value: Any) -> list[Any]:
    """Graph wraps lists as {"data": [...]}; anything else counts as empty."""
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        return value["data"]
    return []


def parse_attachments(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Normalise attachments, sticker and shares to [{"type": …, …}] with only what we show."""
    result: list[dict[str, Any]] = []
    for item in _data_list(raw.get("attachments")):
        if not isinstance(item, dict):
            continue
        mime = _text(item.get("mime_type"))
        image = item.get("image_data") if isinstance(item.get("image_data"), dict) else None
        video = item.get("video_data") if isinstance(item.get("video_data"), dict) else None
        if image and image.get("render_as_sticker"):
            kind, url = "sticker", image.get("url")
        elif image or mime.startswith("image/"):
            kind, url = "image", (image or {}).get("url") or item.get("file_url")
        elif video or mime.startswith("video/"):
            kind, url = "video", (video or {}).get("url") or item.get("file_url")
        elif mime.startswith("audio/"):
            kind, url = "audio", item.get("file_url")
        elif item.get("file_url"):
            kind, url = "file", item.get("file_url")
        else:
            kind, url = "unknown", None
        entry = {"type": kind, "name": _text(item.get("name")), "mime_type": mime}
        if url:
            entry["url"] = str(url)
        if item.get("size") is not None:
            entry["size"] = _count(item.get("size"))
        result.append(entry)
    sticker = raw.get("sticker")
    if isinstance(sticker, str) and sticker:
        result.append({"type": "sticker", "url": sticker})
    for share in _data_list(raw.get("shares")):
        if isinstance(share, dict):
            result.append(
                {
                    "type": "share",
                    "url": _text(share.get("link")),
                    "name": _text(share.get("name")),
                    "description": _text(share.get("description")),
                }
            )
    return result


def parse_message(raw: Any, page_id: str) -> MessageData:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise BadConversationData("a message has no id")
    sender = raw.get("from") if isinstance(raw.get("from"), dict) else {}
    sender_id = str(sender.get("id") or "")
    return MessageData(
        facebook_id=raw["id"],
        created_time=parse_time(raw.get("created_time")),
        sender_id=sender_id,
        sender_name=_name(sender.get("name")),
        # Graph reads carry no is_echo flag: the Page as sender means outbound (§4.3).
        direction=(
            Message.Direction.OUTBOUND if sender_id == page_id else Message.Direction.INBOUND
        ),
        text=_text(raw.get("message")),
        attachments=parse_attachments(raw),
    )


def parse_messages_page(raw: Any, page_id: str) -> tuple[list[MessageData], str | None]:
    """Parse a `messages` edge (nested or `/{conversation}/messages`): (messages, after
    cursor when `paging.next` says there is more)."""
    if not isinstance(raw, dict):
        return [], None
    data = raw.get("data")
    if not isinstance(data, list):
        raise BadConversationData("the messages list is malformed")
    messages = [parse_message(item, page_id) for item in data]
    paging = raw.get("paging") if isinstance(raw.get("paging"), dict) else {}
    cursor = None
    if paging.get("next"):
        cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
        cursor = cursors.get("after") if isinstance(cursors.get("after"), str) else None
    return messages, cursor


def parse_conversation(raw: Any, page_id: str, folder: str) -> ConversationData:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise BadConversationData("a conversation has no id")
    messages, older_cursor = parse_messages_page(raw.get("messages"), page_id)
    if raw.get("updated_time") is not None:
        updated_time = parse_time(raw.get("updated_time"))
    elif messages:
        updated_time = max(m.created_time for m in messages)
    else:
        raise BadConversationData("the conversation has no updated_time")
    person = next(
        (
            p
            for p in _data_list(raw.get("participants"))
            if isinstance(p, dict) and p.get("id") and str(p["id"]) != page_id
        ),
        None,
    )
    return ConversationData(
        facebook_id=raw["id"],
        folder=folder if folder in FOLDERS else Conversation.Folder.INBOX,
        updated_time=updated_time,
        message_count=_count(raw.get("message_count")),
        unread_count=_count(raw.get("unread_count")),
        snippet=_text(raw.get("snippet")),
        can_reply=raw.get("can_reply") is not False,
        contact_psid=str(person["id"]) if person else None,
        contact_name=_name(person.get("name")) if person else None,
        messages=messages,
        older_messages_cursor=older_cursor,
    )


def load_known(page_id: int, facebook_ids: list[str]) -> dict[str, KnownConversation]:
    """One query for the stored state of a page of conversations."""
    rows = Conversation.objects.filter(page_id=page_id, facebook_id__in=facebook_ids).values_list(
        "facebook_id",
        "pk",
        "updated_time",
        "folder",
        "contact__name",
        "message_count",
        "unread_count",
        "snippet",
        "can_reply",
        "sync_pass",
    )
    return {row[0]: KnownConversation(*row[1:]) for row in rows}


def known_message_ids(page_id: int, facebook_ids: list[str]) -> set[str]:
    return set(
        Message.objects.filter(page_id=page_id, facebook_id__in=facebook_ids).values_list(
            "facebook_id", flat=True
        )
    )


def has_changed(known: KnownConversation, data: ConversationData) -> bool:
    """Whether Graph's view of the conversation differs from ours (a rename counts)."""
    name_changed = data.contact_name is not None and data.contact_name != known.contact_name
    return name_changed or (
        known.updated_time,
        known.folder,
        known.message_count,
        known.unread_count,
        known.snippet,
        known.can_reply,
    ) != (
        data.updated_time,
        data.folder,
        data.message_count,
        data.unread_count,
        data.snippet,
        data.can_reply,
    )


def ingest_conversation(
    page_id: int,
    data: ConversationData,
    *,
    known: KnownConversation | None,
    new_messages: list[MessageData],
    sync_pass: str,
) -> IngestResult:
    """Upsert the contact, the conversation, `new_messages` (those not stored yet) and their
    interaction events. Call inside a transaction."""
    contact_pk = None
    if data.contact_psid:
        now = timezone.now()
        if data.contact_name is None:
            # A deleted user loses their name: keep the one we knew.
            contact_pk = NAMELESS_CONTACT_UPSERT.upsert(page_id, data.contact_psid, None, now, now)
        else:
            contact_pk = CONTACT_UPSERT.upsert(
                page_id, data.contact_psid, data.contact_name, now, now
            )

    newest = max((m.created_time for m in data.messages), default=None)
    now = timezone.now()
    conversation_pk = CONVERSATION_UPSERT.upsert(
        page_id,
        data.facebook_id,
        contact_pk,
        data.folder,
        data.updated_time,
        newest or data.updated_time,
        data.message_count,
        data.unread_count,
        data.snippet,
        data.can_reply,
        sync_pass,
        now,
        now,
    )

    # Oldest first, so rows of one thread are inserted in chronological order (ties keep
    # Graph's order: ordering by (created_time, id) then reads back the right sequence).
    chronological = list(reversed(new_messages))
    MESSAGE_ROWS.insert(
        (
            page_id,
            conversation_pk,
            m.facebook_id,
            m.sender_id,
            m.sender_name,
            m.direction,
            m.text,
            m.attachments,
            m.created_time,
        )
        for m in chronological
    )
    events = [
        (
            page_id,
            conversation_pk,
            contact_pk,
            InteractionEvent.Kind.MESSAGE_SENT
            if m.direction == Message.Direction.OUTBOUND
            else InteractionEvent.Kind.MESSAGE_RECEIVED,
            m.facebook_id,
            m.created_time,
        )
        for m in chronological
    ]
    if known is None:
        started_at = min((m.created_time for m in data.messages), default=data.updated_time)
        kind = InteractionEvent.Kind.CONVERSATION_STARTED
        events.append((page_id, conversation_pk, contact_pk, kind, data.facebook_id, started_at))
    # Message events are written only here, with their message, in one transaction: so an
    # event exists exactly when its message does and the count of new messages is exact.
    EVENT_ROWS.insert(events)
    return IngestResult(
        created=known is None,
        changed=known is None or has_changed(known, data) or bool(new_messages),
        new_messages=len(new_messages),
        events_created=len(events),
    )


class ConflictIgnoringInsert:
    """`INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING`: many rows in one statement.

    Equivalent to `bulk_create(ignore_conflicts=True)` (values go through each field's own
    database preparation, so JSON and datetimes are stored exactly as the ORM would), without
    building a model instance and compiling SQL per row. Messages and events are most of
    what a sync writes: this halves the time spent writing them on SQLite, and one statement
    instead of one per row (which is what executemany sends to PostgreSQL) matters more there.
    """

    ROWS_PER_STATEMENT = 500  # well under SQLite's and PostgreSQL's parameter limits

    def __init__(self, model, field_names: list[str]) -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in field_names]

    def insert(self, rows) -> None:
        connection = connections[router.db_for_write(self.model)]
        prepared = [
            [
                field.get_db_prep_save(value, connection)
                for field, value in zip(self.fields, row, strict=True)
            ]
            for row in rows
        ]
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in self.fields)
        one_row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # SQLite's executemany reuses one prepared statement in C: faster still.
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES {one_row} ON CONFLICT DO NOTHING",
                    prepared,
                )
                return
            for start in range(0, len(prepared), self.ROWS_PER_STATEMENT):
                chunk = prepared[start : start + self.ROWS_PER_STATEMENT]
                values = ", ".join([one_row] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT DO NOTHING",
                    [value for row in chunk for value in row],
                )


class ReturningUpsert:
    """`INSERT … ON CONFLICT (key) DO UPDATE SET … RETURNING id` for one row: the
    equivalent of `bulk_create(update_conflicts=True)` for a single object, in one statement
    and without the ORM's per-call compilation (two of these run for every conversation).
    Values go through each field's database preparation, as the ORM would."""

    def __init__(self, model, field_names: list[str], unique: list[str], update: list[str]):
        self.model = model
        self.fields = [model._meta.get_field(name) for name in field_names]
        column = {name: model._meta.get_field(name).column for name in field_names}
        self.unique_columns = [column[name] for name in unique]
        self.update_columns = [column[name] for name in update]

    def upsert(self, *values) -> int:
        connection = connections[router.db_for_write(self.model)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        key = ", ".join(quote(c) for c in self.unique_columns)
        assignments = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in self.update_columns)
        sql = (
            f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {assignments} RETURNING {quote('id')}"
        )
        params = [
            field.get_db_prep_save(value, connection)
            for field, value in zip(self.fields, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]


CONTACT_FIELDS = ["page", "psid", "name", "created_at", "updated_at"]
CONTACT_UPSERT = ReturningUpsert(Contact, CONTACT_FIELDS, ["page", "psid"], ["name", "updated_at"])
NAMELESS_CONTACT_UPSERT = ReturningUpsert(Contact, CONTACT_FIELDS, ["page", "psid"], ["updated_at"])
# What a sync refreshes on a conversation it has seen before (the key and created_at stay).
CONVERSATION_SYNCED_FIELDS = [
    "contact",
    "folder",
    "updated_time",
    "last_message_at",
    "message_count",
    "unread_count",
    "snippet",
    "can_reply",
    "sync_pass",
]
CONVERSATION_UPSERT = ReturningUpsert(
    Conversation,
    ["page", "facebook_id", *CONVERSATION_SYNCED_FIELDS, "created_at", "synced_at"],
    ["page", "facebook_id"],
    [*CONVERSATION_SYNCED_FIELDS, "synced_at"],
)
MESSAGE_ROWS = ConflictIgnoringInsert(
    Message,
    [
        "page",
        "conversation",
        "facebook_id",
        "sender_id",
        "sender_name",
        "direction",
        "text",
        "attachments",
        "created_time",
    ],
)
EVENT_ROWS = ConflictIgnoringInsert(
    InteractionEvent, ["page", "conversation", "contact", "kind", "source_id", "occurred_at"]
)


def mark_unchanged(known: KnownConversation, sync_pass: str) -> None:
    """Record that this pass covered an unchanged conversation (so a resume skips it)."""
    Conversation.objects.filter(pk=known.pk).update(sync_pass=sync_pass)
