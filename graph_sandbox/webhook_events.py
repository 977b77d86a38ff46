"""Messenger webhook payloads as Meta sends them (graph-api.md §8.2–§8.3): the items, the
envelope, the escaped JSON Meta signs and the signature headers.

Plain functions of data: :mod:`graph_sandbox.webhook_controls` feeds them the sandbox's own
messages so a webhook and the Graph API tell the same story (the webhook ``mid`` is the Graph
message ``id``, ``timestamp`` is its ``created_time`` in epoch milliseconds).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from .content import Message

# the subscribed field (POST /{page-id}/subscribed_apps) each kind of event needs; Meta's pages
# spell some of them two ways (graph-api.md §8.1), so either spelling subscribes
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "message": ("messages",),
    "echo": ("message_echoes",),
    "read": ("message_reads",),
    "delivery": ("message_deliveries",),
    "postback": ("messaging_postbacks",),
    "reaction": ("message_reactions", "messaging_reactions"),
    "message_edit": ("message_edits", "message_edit"),
    "unknown": (),  # a kind no field names: sent to every subscribed Page
}
UNKNOWN_KEY = "sandbox_unknown_event"  # a key no receiver knows, for robustness tests
REACTION_EMOJI = {
    "love": "\u2764",
    "like": "\U0001f44d",
    "smile": "\U0001f606",
    "wow": "\U0001f62e",
    "sad": "\U0001f622",
    "angry": "\U0001f620",
}


@dataclass(slots=True)
class Event:
    """One ``messaging[]`` item of one Page, with what it is about (for the caller's log)."""

    page_id: str
    kind: str
    item: dict[str, Any]
    about: dict[str, Any] = field(default_factory=dict)  # mid, conversation_id, psid


def epoch_ms(seconds: float) -> int:
    return int(seconds * 1000)


def meta_json(value: Any) -> bytes:
    """The body as Meta writes it: compact, ASCII only (``\\uXXXX``) and ``/`` as ``\\/``.

    A receiver must check the signature on these raw bytes: re-serialising the parsed JSON
    gives other bytes (§8.3)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")  # "/" occurs only inside JSON strings


def signature_headers(body: bytes, secret: str) -> dict[str, str]:
    """``X-Hub-Signature-256`` (the one to check) and the legacy SHA-1 ``X-Hub-Signature``."""
    key = secret.encode()
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
    }


def webhook_attachment(graph: dict[str, Any]) -> dict[str, Any]:
    """A Graph message attachment as a webhook attachment (``type`` + ``payload``)."""
    image = graph.get("image_data")
    if image is not None:
        if image.get("render_as_sticker"):
            # after 30 Aug 2026 a sticker arrives only as a `sticker` attachment (§8.2)
            return {"type": "sticker", "payload": {"url": image["url"], "sticker_id": _num(graph)}}
        return {"type": "image", "payload": {"url": image["url"]}}
    if "video_data" in graph:
        return {"type": "video", "payload": {"url": graph["video_data"]["url"]}}
    if "file_url" in graph:
        kind = "audio" if str(graph.get("mime_type", "")).startswith("audio/") else "file"
        return {"type": kind, "payload": {"url": graph["file_url"]}}
    if "generic_template" in graph:
        template = graph["generic_template"]
        element = {"title": template.get("title"), "subtitle": template.get("subtitle")}
        return {"type": "template", "payload": {"template_type": "generic", "elements": [element]}}
    return {"type": "fallback", "title": graph.get("name") or "", "payload": None}


def _num(graph: dict[str, Any]) -> int:
    return int(graph["id"]) if str(graph.get("id", "")).isdigit() else 0


def message_item(
    page_id: str,
    psid: str,
    msg: Message,
    app_id: str,
    quick_reply: str | None = None,
    reply_to: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(kind, item) of a message: ``message`` from the person, ``echo`` from the Page."""
    body: dict[str, Any] = {"mid": msg.id}
    if msg.from_page:
        body["is_echo"] = True
        body["app_id"] = int(app_id)
    if msg.text:
        body["text"] = msg.text
    attachments = [webhook_attachment(a) for a in msg.attachments or []]
    attachments += [
        {"type": "fallback", "title": s.get("name") or "", "url": s["link"], "payload": None}
        for s in msg.shares or []
        if s.get("link")
    ]
    if attachments:
        body["attachments"] = attachments
    if quick_reply is not None:
        body["quick_reply"] = {"payload": quick_reply}
    if reply_to is not None:
        body["reply_to"] = {"mid": reply_to}
    sender, recipient = (page_id, psid) if msg.from_page else (psid, page_id)
    item = _item(sender, recipient, epoch_ms(msg.created_ts))
    item["message"] = body
    return ("echo" if msg.from_page else "message"), item


def _item(sender: str, recipient: str, timestamp_ms: int) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": timestamp_ms}


def person_item(
    page_id: str, psid: str, timestamp_ms: int, key: str, value: dict[str, Any]
) -> dict[str, Any]:
    """An item the person caused (read, delivery, reaction, postback, edit...)."""
    item = _item(psid, page_id, timestamp_ms)
    item[key] = value
    return item


def reaction_value(mid: str, action: str, reaction: str, emoji: str | None) -> dict[str, Any]:
    if action not in ("react", "unreact"):
        raise ValueError("action must be 'react' or 'unreact'")
    emoji = emoji if emoji is not None else REACTION_EMOJI.get(reaction, "\u2764")
    return {"mid": mid, "action": action, "reaction": reaction, "emoji": emoji}


def envelopes(
    events: list[Event],
    max_events: int,
    items_per_entry: int,
    standby: bool,
    time_ms: int,
) -> list[tuple[dict[str, Any], list[Event]]]:
    """Group events into POST bodies of at most ``max_events`` items; in a body, consecutive
    events of one Page share an entry of at most ``items_per_entry`` items (Meta documents one
    item per entry; entries are batched). Items go under ``standby`` instead of ``messaging``
    when ``standby``. Returns (body, its events) pairs in order."""
    key = "standby" if standby else "messaging"
    out = []
    for start in range(0, len(events), max_events):
        chunk = events[start : start + max_events]
        entries: list[dict[str, Any]] = []
        for event in chunk:
            last = entries[-1] if entries else None
            if last is None or last["id"] != event.page_id or len(last[key]) >= items_per_entry:
                last = {"id": event.page_id, "time": time_ms, key: []}
                entries.append(last)
            last[key].append(event.item)
        out.append(({"object": "page", "entry": entries}, chunk))
    return out
