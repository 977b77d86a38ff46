"""Parse Graph conversation and message JSON into plain data.

Strict about what we key on (ids, timestamps) and lenient about everything else: Graph omits
fields that have no data (graph-api.md §4.2), names go missing for deleted users, attachment
kinds come and go. What cannot be keyed raises `BadConversationData`, which the engine
records and skips.

Everything returned fits its column on SQLite and PostgreSQL: strings are cleaned of what no
database stores (NUL, lone surrogates; pages.graph.payload does this for whole bodies, this
module again for data that reaches it another way), names are cut to their column, counts are
bounded, and ids or timestamps that cannot be stored faithfully make the conversation bad
data: an id is never cut (a cut id would name another conversation) and a date is never
guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conversations.models import (
    GRAPH_TIME_END,
    GRAPH_TIME_START,
    Contact,
    Conversation,
    Message,
)
from pages.graph.paging import next_position
from pages.graph.payload import clean_text

FOLDERS = {choice.value for choice in Conversation.Folder}

# Column sizes, read from the models so that widening a column widens what we accept.
CONVERSATION_ID_LENGTH = Conversation._meta.get_field("facebook_id").max_length
MESSAGE_ID_LENGTH = Message._meta.get_field("facebook_id").max_length
PSID_LENGTH = Contact._meta.get_field("psid").max_length
SENDER_ID_LENGTH = Message._meta.get_field("sender_id").max_length
NAME_LENGTH = Contact._meta.get_field("name").max_length
# The range of a PositiveIntegerField on PostgreSQL (integer); counts beyond it are clamped.
MAX_COUNT = 2**31 - 1
# Attachment sizes live in JSON, read by JavaScript: keep them exact integers there.
MAX_JSON_INTEGER = 2**53 - 1


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
    # Where older messages than those in `messages` start, when Graph says there are more
    # (a position: pages.graph.paging).
    older_messages: str | None = None


def parse_time(value: Any) -> datetime:
    """Graph's "2026-08-01T10:22:31+0000" (fromisoformat reads it, 30× faster than strptime),
    between GRAPH_TIME_START and GRAPH_TIME_END once in UTC: a year-9999 time with a negative
    offset is year 10000 in UTC, which PostgreSQL stores and then cannot give back."""
    if not isinstance(value, str):
        raise BadConversationData(f"missing or invalid timestamp {_shown(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadConversationData(f"invalid timestamp {_shown(value)}") from None
    if parsed.tzinfo is None:
        raise BadConversationData(f"timestamp without a time zone {_shown(value)}")
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not GRAPH_TIME_START <= in_utc < GRAPH_TIME_END:
        raise BadConversationData(
            f"timestamp {_shown(value)} is outside "
            f"{GRAPH_TIME_START.year}–{GRAPH_TIME_END.year - 1}"
        )
    return parsed


def _shown(value: Any) -> str:
    """A short, printable rendering of an unreadable value for a problem's reason."""
    shown = repr(value[:40] if isinstance(value, str) else value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _count(value: Any, maximum: int = MAX_COUNT) -> int:
    """Counts are only shown, never keyed on: a conversation with an absurd count still has
    messages worth keeping, so a count past its column is clamped to it (the same value at
    every sync, so it never reads as a change) and one that is no number at all (missing,
    text, NaN, infinite: `1e400`) counts as 0."""
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return min(max(number, 0), maximum)


def _text(value: Any) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def _name(value: Any) -> str | None:
    """A display name cut to its column (by code points, after cleaning, so never inside a
    character); blank counts as no name."""
    if not isinstance(value, str):
        return None
    return clean_text(value).strip()[:NAME_LENGTH].rstrip() or None


def _key(value: Any) -> str | None:
    """An id as text: Graph sends strings, an integer is read as its digits, anything else is
    no id."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _checked_id(value: str, length: int, what: str) -> str:
    """An id we key on, as Graph sent it, or BadConversationData: it is never cut nor cleaned,
    since the changed id would name another object."""
    if len(value) > length:
        raise BadConversationData(f"{what} is longer than {length} characters")
    if clean_text(value) != value:
        raise BadConversationData(f"{what} contains a NUL or a broken character")
    return value


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
        if isinstance(url, str) and url:
            entry["url"] = clean_text(url)
        if item.get("size") is not None:
            entry["size"] = _count(item.get("size"), MAX_JSON_INTEGER)
        result.append(entry)
    sticker = raw.get("sticker")
    if isinstance(sticker, str) and sticker:
        result.append({"type": "sticker", "url": clean_text(sticker)})
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
    message_id = _checked_id(raw["id"], MESSAGE_ID_LENGTH, "a message id")
    sender = raw.get("from") if isinstance(raw.get("from"), dict) else {}
    sender_id = _checked_id(_key(sender.get("id")) or "", SENDER_ID_LENGTH, "a sender id")
    return MessageData(
        facebook_id=message_id,
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
    """Parse a `messages` edge (nested or `/{conversation}/messages`): (messages, the
    position of older messages when `paging.next` says there are more; pages.graph.paging)."""
    if not isinstance(raw, dict):
        return [], None
    data = raw.get("data")
    if not isinstance(data, list):
        raise BadConversationData("the messages list is malformed")
    messages = [parse_message(item, page_id) for item in data]
    return messages, next_position(raw.get("paging"))


def _the_person(raw: dict[str, Any], page_id: str) -> dict[str, Any] | None:
    """The person the Page talks with: from `participants`, or, when Graph no longer gives
    that field, from the messages' `from` and `to`."""
    parties = list(_data_list(raw.get("participants")))
    if "participants" not in raw:
        for message in _data_list(raw.get("messages")):
            if isinstance(message, dict):
                parties.append(message.get("from"))
                parties.extend(_data_list(message.get("to")))
    return next(
        (
            party
            for party in parties
            if isinstance(party, dict) and _key(party.get("id")) not in (None, "", page_id)
        ),
        None,
    )


def parse_conversation(raw: Any, page_id: str, folder: str) -> ConversationData:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise BadConversationData("a conversation has no id")
    conversation_id = _checked_id(raw["id"], CONVERSATION_ID_LENGTH, "the conversation id")
    messages, older = parse_messages_page(raw.get("messages"), page_id)
    if raw.get("updated_time") is not None:
        updated_time = parse_time(raw.get("updated_time"))
    elif messages:
        updated_time = max(m.created_time for m in messages)
    else:
        raise BadConversationData("the conversation has no updated_time")
    person = _the_person(raw, page_id)
    psid = _checked_id(_key(person["id"]), PSID_LENGTH, "the contact's id") if person else None
    return ConversationData(
        facebook_id=conversation_id,
        folder=folder if folder in FOLDERS else Conversation.Folder.INBOX,
        updated_time=updated_time,
        message_count=_count(raw.get("message_count")),
        unread_count=_count(raw.get("unread_count")),
        snippet=_text(raw.get("snippet")),
        can_reply=raw.get("can_reply") is not False,
        contact_psid=psid,
        contact_name=_name(person.get("name")) if person else None,
        messages=messages,
        older_messages=older,
    )
