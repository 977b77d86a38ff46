"""Parse Graph conversation and message JSON into plain data.

Strict about what we key on (ids, timestamps) and lenient about everything else: Graph omits
fields that have no data (graph-api.md §4.2), names go missing for deleted users, attachment
kinds come and go. What cannot be keyed raises `BadConversationData`, which the engine
records and skips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conversations.models import Conversation, Message

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
