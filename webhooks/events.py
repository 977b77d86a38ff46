"""A Messenger webhook body read into plain events (graph-api.md §8.2). Pure: no database.

`{"object": "page", "entry": [{"id": PAGE, "time": ms, "messaging": [ITEM, …], "standby":
[ITEM, …]}]}`: items under `standby` (threads another app controls, Business Suite's inbox
among them) are events like the others. An item's kind is the key it carries: `message`
(`is_echo` makes it the Page's own: `message_echoes`), `read`, `delivery`, `reaction`,
`postback`; any other (`referral`, `optin`, `message_edit`, …) is an unknown kind, counted by
its name. Every time is epoch milliseconds.

Lenient like conversations.parsing: an item that is not an object is skipped, a value of the
wrong type reads as missing. A message is turned into the same `MessageData` a Graph read
gives, its attachments into the same stored shape (`payload.url` instead of Graph's
`image_data`/`file_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conversations.models import GRAPH_TIME_END, GRAPH_TIME_START, Message
from conversations.parsing import MESSAGE_ID_LENGTH, PSID_LENGTH, MessageData
from pages.graph.payload import clean_text, parse_json

HANDLED_KINDS = ("message", "read", "delivery", "reaction", "postback")
ITEM_LISTS = ("messaging", "standby")
NOT_A_KIND = ("sender", "recipient", "timestamp")
# Webhook attachment types that are files of that kind (the rest: share, sticker, unknown).
FILE_TYPES = ("image", "video", "audio", "file")
# The UI's names and counts are by kind: a name this long is a bug or an attack.
MAX_KIND_LENGTH = 64


class NotJson(ValueError):
    """A body that is not a JSON object: stored, marked failed, never processed."""


@dataclass(frozen=True)
class Event:
    page_id: str  # entry.id, the Page's Facebook id
    kind: str  # message, echo, read, delivery, reaction, postback, or an unknown kind's name
    sender_id: str
    recipient_id: str
    timestamp_ms: int | None
    data: dict[str, Any]  # the kind's object

    @property
    def person(self) -> str:
        """The person's PSID: the recipient of the Page's own messages, else the sender."""
        return self.recipient_id if self.sender_id == self.page_id else self.sender_id

    @property
    def time(self) -> datetime | None:
        return time_of(self.timestamp_ms)


def decode(body: bytes) -> dict[str, Any]:
    """The body as clean data (pages.graph.payload: no NUL, no lone surrogate, no infinite
    number, nothing nested absurdly deep), or NotJson."""
    try:
        payload = parse_json(body)
    except ValueError:
        raise NotJson("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise NotJson("the body is JSON but not an object")
    return payload


def time_of(milliseconds: Any) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime; None when missing or out of range."""
    if not isinstance(milliseconds, int) or isinstance(milliseconds, bool):
        return None
    try:
        moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if GRAPH_TIME_START <= moment < GRAPH_TIME_END else None


def _id(party: Any) -> str:
    value = party.get("id") if isinstance(party, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def _items(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item
        for name in ITEM_LISTS
        if isinstance(entry.get(name), list)
        for item in entry[name]
        if isinstance(item, dict)
    ]


def _kind(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for name in HANDLED_KINDS:
        if isinstance(item.get(name), dict):
            data = item[name]
            if name == "message" and data.get("is_echo") is True:
                return "echo", data
            return name, data
    other = next((key for key in item if key not in NOT_A_KIND), "empty")
    value = item.get(other)
    return clean_text(str(other))[:MAX_KIND_LENGTH], value if isinstance(value, dict) else {}


def events_of(payload: dict[str, Any]) -> list[Event]:
    """Every event of a delivery, in the order Meta sent them."""
    entries = payload.get("entry") if isinstance(payload.get("entry"), list) else []
    events = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        page_id = _id(entry)
        for item in _items(entry):
            kind, data = _kind(item)
            stamp = item.get("timestamp")
            events.append(
                Event(
                    page_id=page_id,
                    kind=kind,
                    sender_id=_id(item.get("sender")),
                    recipient_id=_id(item.get("recipient")),
                    timestamp_ms=stamp if isinstance(stamp, int) else None,
                    data=data,
                )
            )
    return events


def mentions_of(payload: dict[str, Any]) -> set[tuple[str, str]]:
    """(page id, PSID) of every person a delivery names, whatever the kind of event."""
    return {
        (event.page_id[:64], event.person[:64])
        for event in events_of(payload)
        if event.page_id and event.person and event.person != event.page_id
    }


def storable_id(value: str, length: int = PSID_LENGTH) -> bool:
    """An id we key on is stored as sent or not at all (as conversations.parsing does)."""
    return bool(value) and len(value) <= length and clean_text(value) == value


def _url(value: Any) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def normalise_attachments(raw: Any) -> list[dict[str, Any]]:
    """Webhook attachments (`{"type": "image", "payload": {"url": …}}`) in the shape
    conversations.parsing stores for Graph's: [{"type", "name", "mime_type", "url"?}, …],
    stickers as {"type": "sticker", "url"}, links as shares."""
    result: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type") if isinstance(item.get("type"), str) else ""
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        url = _url(payload.get("url")) or _url(item.get("url"))
        title = _url(item.get("title")) or _url(payload.get("title"))
        if payload.get("sticker_id") is not None or kind == "sticker":
            entry: dict[str, Any] = {"type": "sticker"}
        elif kind in FILE_TYPES:
            entry = {"type": kind, "name": title, "mime_type": ""}
        elif kind == "fallback" and url:  # a shared link
            entry = {"type": "share", "url": url, "name": title, "description": ""}
            result.append(entry)
            continue
        else:  # template, location, product, …: kept, shown as an attachment
            entry = {"type": "unknown", "name": title or clean_text(kind), "mime_type": ""}
        if url:
            entry["url"] = url
        result.append(entry)
    return result


def message_of(event: Event, page_name: str, contact_name: str | None) -> MessageData | None:
    """The message (or postback) an event carries, as a Graph read would give it; None when
    it cannot be keyed (no mid, no time, an id too long to store)."""
    created = event.time
    sender = event.sender_id
    if created is None or not storable_id(sender, PSID_LENGTH):
        return None
    mid = event.data.get("mid")
    if event.kind == "postback" and not isinstance(mid, str):
        # Older postbacks carry no mid: one per person and millisecond.
        mid = f"postback-{sender}-{event.timestamp_ms}"
    if not isinstance(mid, str) or not storable_id(mid, MESSAGE_ID_LENGTH):
        return None
    outbound = event.kind == "echo" or sender == event.page_id
    if event.kind == "postback":
        text = _url(event.data.get("title"))
        payload = event.data.get("payload")
        attachments = [{"type": "postback", "payload": _url(payload)}]
    else:
        text = _url(event.data.get("text"))
        attachments = normalise_attachments(event.data.get("attachments"))
    return MessageData(
        facebook_id=mid,
        created_time=created,
        sender_id=sender,
        # Webhooks carry no names: the ones a Graph read would give (§4.3).
        sender_name=(page_name or None) if outbound else contact_name,
        direction=Message.Direction.OUTBOUND if outbound else Message.Direction.INBOUND,
        text=text,
        attachments=attachments,
    )
