"""The sandbox's webhook control methods (mixed into :class:`graph_sandbox.Sandbox`).

Webhooks are built from the sandbox's own data, so a webhook and the Graph API agree: the
``mid`` is the id ``/{conversation}/messages`` serves, ``timestamp`` its ``created_time``.

* When its data changes: ``add_messages`` and ``add_conversations`` send the new messages
  (``message`` from the person, ``echo`` from the Page) to a Page subscribed to those fields.
* On command: :meth:`WebhookControls.send_webhooks` creates the data first where there is data
  (a new message, an edit) and sends the events whatever the subscriptions;
  :meth:`WebhookControls.send_raw_webhook` posts any body.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .content import OUTBOUND_TEXT, Message, _attachment, message_id
from .media import Media, media_ref
from .webhook_events import (
    KIND_FIELDS,
    UNKNOWN_KEY,
    Event,
    epoch_ms,
    message_item,
    meta_json,
    person_item,
    reaction_value,
    signature_headers,
)
from .webhook_sender import WebhookSender

if TYPE_CHECKING:
    from .dataset import Conversation, Dataset, Page
    from .debug_token import TokenRegistry
    from .faults import FaultConfig

KINDS = tuple(KIND_FIELDS)
NEW_MESSAGE_KINDS = ("message", "echo", "postback")
ATTACHMENT_KINDS = ("image", "file", "audio", "video", "sticker")
RECENT = 20  # how far back a delivery receipt looks for the Page's last message


def subscribed_fields(sandbox: Any, page_id: str) -> set[str] | None:
    """The fields a Page is subscribed to; None: not subscribed. A sandbox without
    ``subscriptions`` treats every Page as subscribed to everything."""
    subscriptions = getattr(sandbox, "subscriptions", None)
    if subscriptions is None:
        return {field for fields in KIND_FIELDS.values() for field in fields} | {"standby"}
    fields = subscriptions.get(page_id)
    if fields is None:
        return None
    return set(fields.split(",") if isinstance(fields, str) else fields)


def wants(fields: set[str], kind: str, standby: bool) -> bool:
    """Whether a Page subscribed to ``fields`` gets an event of ``kind``. Items of a thread
    another app controls (``standby``) come only with the ``standby`` field (Meta's handover
    protocol), whatever the kind."""
    if standby:
        return "standby" in fields
    needed = KIND_FIELDS[kind]
    return not needed or bool(fields.intersection(needed))


def custom_attachment(msg_id: str, kind: str) -> tuple[dict[str, Any], str | None]:
    """A Graph attachment of ``kind`` for a message the sandbox writes (and its sticker URL)."""
    if kind not in ATTACHMENT_KINDS:
        raise ValueError(f"attachment must be one of {ATTACHMENT_KINDS}")
    att_seed = int.from_bytes(hashlib.blake2b(msg_id.encode(), digest_size=8).digest())
    rng = random.Random(att_seed)
    if kind == "audio":
        att_id = str(10**15 + att_seed % (9 * 10**15))
        url = media_ref(f"/v/t59.3654-21/{att_id}_n.mp3")  # served as audio/mpeg
        graph = {
            "id": att_id,
            "mime_type": "audio/mpeg",
            "name": f"audioclip-{att_id}.mp4",
            "size": rng.randint(10_000, 900_000),
            "file_url": url,
        }
        return graph, None
    graph = _attachment(rng, att_seed, kind)
    sticker = graph["image_data"]["url"] if kind == "sticker" else None
    return graph, sticker


def _about(conv: Conversation, mid: str) -> dict[str, str]:
    """What an event is about, for the caller (webhooks carry no conversation id)."""
    return {"mid": mid, "conversation_id": conv.id, "psid": conv.psid}


@dataclass(frozen=True, slots=True)
class Order:
    """What :meth:`WebhookControls.send_webhooks` was asked for, checked before any change."""

    kind: str = "message"
    text: str | None = None
    attachment: str | None = None
    quick_reply: str | None = None
    reply_to: str | bool | None = None
    title: str = "Get Started"
    payload: str = "GET_STARTED"
    action: str = "react"
    reaction: str = "love"
    emoji: str | None = None
    app_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if self.attachment is not None and self.attachment not in ATTACHMENT_KINDS:
            raise ValueError(f"attachment must be one of {ATTACHMENT_KINDS}")
        if self.action not in ("react", "unreact"):
            raise ValueError("action must be 'react' or 'unreact'")

    @property
    def writes_content(self) -> bool:
        """Whether the new message's content is written rather than generated."""
        return self.kind != "message" or any(
            v is not None for v in (self.text, self.attachment, self.quick_reply)
        )


class WebhookControls:
    """Control methods, mixed into :class:`graph_sandbox.sandbox.Sandbox` (which provides
    these attributes)."""

    lock: threading.RLock
    seed: int
    config: FaultConfig
    dataset: Dataset
    tokens: TokenRegistry
    media: Media
    _page: Callable[[str | None], Page]
    _conv: Callable[[Page, str], Conversation]
    _pick: Callable[[Page, int], list[Conversation]]

    @property
    def webhooks(self) -> WebhookSender:
        with self.lock:
            if getattr(self, "_webhook_sender", None) is None:
                self._webhook_sender = WebhookSender(self.seed)
            return self._webhook_sender

    def _secret(self) -> str:
        return self.tokens.app_secret(self.config)

    def configure_webhooks(
        self,
        url: str | None = None,
        duplicate_rate: float = 0.0,
        shuffle: bool = False,
        max_events_per_delivery: int = 1,
        items_per_entry: int = 1,
        standby: bool = False,
        retries: int = 3,
        retry_delay_seconds: float = 0.5,
        concurrency: int = 8,
        timeout_seconds: float = 5.0,
    ) -> dict[str, Any]:
        """Where and how webhooks are posted (each call sets every option; ``url`` None: off)."""
        return self.webhooks.configure(
            url=url,
            duplicate_rate=duplicate_rate,
            shuffle=shuffle,
            max_events_per_delivery=max_events_per_delivery,
            items_per_entry=items_per_entry,
            standby=standby,
            retries=retries,
            retry_delay_seconds=retry_delay_seconds,
            concurrency=concurrency,
            timeout_seconds=timeout_seconds,
        )

    def webhook_log(self, since: int = 0) -> list[dict[str, Any]]:
        """Every delivery (id, state, attempts, status, duplicated, events, kinds, mids...)."""
        return self.webhooks.log(since)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until nothing is in flight (True) or ``timeout`` seconds pass (False)."""
        return self.webhooks.wait(timeout)

    def stop_webhooks(self) -> None:
        sender = getattr(self, "_webhook_sender", None)
        if sender is not None:
            sender.stop()

    def send_raw_webhook(self, body: Any, sign: bool = True, signature: str | None = None) -> int:
        """Post ``body`` (an object written as Meta writes JSON, or a string sent as it is),
        signed with the app secret unless ``sign`` is false; ``signature`` replaces
        ``X-Hub-Signature-256``. Returns the delivery id."""
        raw = body.encode() if isinstance(body, str) else meta_json(body)
        headers = signature_headers(raw, self._secret()) if sign else {}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return self.webhooks.send_raw(raw, headers)

    # -- when the data changes --------------------------------------------------------------

    def _notify_new_messages(
        self, page: Page, convs: list[Conversation], per_conversation: int | None
    ) -> None:
        """The hook of add_messages/add_conversations (lock held): the last
        ``per_conversation`` messages of each conversation (None: all) are new."""
        sender = getattr(self, "_webhook_sender", None)
        if sender is None or not sender.enabled:
            return
        fields = subscribed_fields(self, page.id)
        if fields is None:
            return
        events = []
        for conv_id, times in Counter(c.id for c in convs).items():
            conv = page.conversations[conv_id]
            total = conv.message_count
            new = total if per_conversation is None else min(total, per_conversation * times)
            for index in range(total - new, total):
                event = self._message_event(page, conv, self.dataset.message(conv, index))
                if wants(fields, event.kind, sender.config.standby):
                    events.append(event)
        if events:
            sender.send_events(events, self._secret())

    def _message_event(self, page: Page, conv: Conversation, msg: Message, **extra: Any) -> Event:
        kind, item = message_item(page.id, conv.psid, msg, self.tokens.app_id, **extra)
        # attachment URLs on the sandbox's own origin, fresh as a Graph read's (media.py)
        item = self.media.sign(item, self.media.base_url, self.config.media_url_ttl_seconds)
        return Event(page.id, kind, item, _about(conv, msg.id))

    # -- on command -------------------------------------------------------------------------

    def send_webhooks(
        self,
        page_id: str | None = None,
        kind: str = "message",
        n: int = 1,
        conversation_id: str | None = None,
        new_conversation: bool = False,
        standby: bool | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Create ``n`` events of ``kind`` and post them, whatever the subscriptions. Options
        (graph_sandbox/README.md): ``text``, ``attachment``, ``quick_reply``, ``reply_to``,
        ``title``, ``payload``, ``action``, ``reaction``, ``emoji``, ``app_id``. Returns
        ``{"deliveries": [ids], "events": [{"kind", "mid", "conversation_id", "psid"}]}``."""
        order = Order(kind, **options)
        if int(n) < 1:
            raise ValueError("n must be >= 1")
        if new_conversation and kind not in ("message", "postback"):
            raise ValueError("new_conversation goes with kind message or postback")
        if not self.webhooks.enabled:
            raise ValueError("no webhook URL: call configure_webhooks(url=...) first")
        with self.lock:
            page = self._page(page_id)
            if kind in NEW_MESSAGE_KINDS:
                convs = self._targets(page, int(n), conversation_id, new_conversation)
                ts = self.dataset.activity_ts(page)
                appended = not new_conversation
                events = [self._new_message(page, c, ts, order, appended) for c in convs]
            else:
                convs = self._targets(page, int(n), conversation_id, False)
                empty = [c.id for c in convs if not c.message_count]
                if empty:
                    raise ValueError(f"conversations {empty} have no message to point at")
                events = [self._person_event(page, c, order) for c in convs]
            ids = self.webhooks.send_events(events, self._secret(), standby)
        return {"deliveries": ids, "events": [{"kind": e.kind, **e.about} for e in events]}

    def _targets(
        self, page: Page, n: int, conversation_id: str | None, new_conversation: bool
    ) -> list[Conversation]:
        if conversation_id is not None:
            return [self._conv(page, conversation_id)] * n
        if new_conversation:  # a person the app has never seen, one message each
            ids = self.dataset.add_conversations(page, n, "inbox", 1)
            return [page.conversations[i] for i in ids]
        picked = self._pick(page, n)
        return [picked[i % len(picked)] for i in range(n)]

    def _new_message(
        self, page: Page, conv: Conversation, ts: int, order: Order, appended: bool
    ) -> Event:
        """A new message (appended now, or a new conversation's first) and its event."""
        if appended:
            self.dataset.append_messages(conv, 1, ts)
        index = conv.message_count - 1
        msg = self.dataset.message(conv, index)
        if order.writes_content:
            msg = self._write_message(conv, msg, order)
        reply_to = order.reply_to
        if reply_to is True:
            reply_to = message_id(self.seed, conv.id, index - 1) if index else None
        if order.kind == "postback":
            value = {"mid": msg.id, "title": msg.text, "payload": order.payload}
            item = person_item(page.id, conv.psid, epoch_ms(msg.created_ts), "postback", value)
            return Event(page.id, order.kind, item, _about(conv, msg.id))
        extra = {"quick_reply": order.quick_reply, "reply_to": reply_to or None}
        event = self._message_event(page, conv, msg, **extra)
        if order.app_id is not None and event.kind == "echo":
            event.item["message"]["app_id"] = int(order.app_id)
        return event

    def _write_message(self, conv: Conversation, msg: Message, order: Order) -> Message:
        """Replace a new message's generated content; the Graph API serves it from now on."""
        from_page = order.kind == "echo"
        text = order.title if order.kind == "postback" else order.text
        if text is None:
            if order.attachment is not None:
                text = ""
            elif from_page:
                text = random.Random(msg.id).choice(OUTBOUND_TEXT)
            else:
                text = msg.text or "Yes"  # a quick reply's title
        attachments, sticker = None, None
        if order.attachment is not None and order.kind != "postback":
            graph, sticker = custom_attachment(msg.id, order.attachment)
            attachments = [graph]
        written = Message(msg.id, msg.index, msg.created_ts, from_page, text, attachments, sticker)
        self.dataset.custom_messages[(conv.id, msg.index)] = written
        return written

    def _person_event(self, page: Page, conv: Conversation, order: Order) -> Event:
        """A read, delivery, reaction, edit or unknown event about existing messages."""
        kind = order.kind
        newest = self.dataset.message(conv, conv.message_count - 1)
        now = max(epoch_ms(time.time()), epoch_ms(newest.created_ts))
        about = _about(conv, newest.id)
        if kind == "read":
            value: dict[str, Any] = {"watermark": epoch_ms(newest.created_ts)}
        elif kind == "delivery":
            recent = self.dataset.messages_before(conv, conv.message_count, RECENT)
            target = next((m for m in recent if m.from_page), newest)
            value = {"mids": [target.id], "watermark": epoch_ms(target.created_ts)}
            about["mid"] = target.id
        elif kind == "reaction":
            value = reaction_value(newest.id, order.action, order.reaction, order.emoji)
        elif kind == "message_edit":
            value = self._edit(conv, order.text)
            about["mid"] = value["mid"]
        else:
            value = {"mid": newest.id, "detail": "an event no receiver knows"}
        key = UNKNOWN_KEY if kind == "unknown" else kind
        return Event(page.id, kind, person_item(page.id, conv.psid, now, key, value), about)

    def _edit(self, conv: Conversation, text: str | None) -> dict[str, Any]:
        """The person edits their latest message; Graph serves the new text from now on."""
        recent = self.dataset.messages_before(conv, conv.message_count, RECENT)
        target = next((m for m in recent if not m.from_page), None)
        if target is None:
            raise ValueError(f"conversation {conv.id} has no recent message of the person")
        edited = replace(target, text=text if text is not None else f"{target.text} (edited)")
        self.dataset.custom_messages[(conv.id, target.index)] = edited
        edits = self.webhooks.edits
        edits[target.id] = edits.get(target.id, 0) + 1
        return {"mid": target.id, "text": edited.text, "num_edit": edits[target.id]}


def add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    """``manage.py graph_sandbox`` flags (graph_sandbox/README.md)."""
    group = parser.add_argument_group("webhooks (graph_sandbox/README.md)")
    group.add_argument("--webhook-url", default=None, help="post Messenger webhooks here")
    group.add_argument("--webhook-duplicate-rate", type=float, default=0.0)
    group.add_argument("--webhook-shuffle", action="store_true", help="send out of order")
    group.add_argument("--webhook-batch", type=int, default=1, help="events per delivery")
    group.add_argument("--webhook-standby", action="store_true", help="items under standby")
    group.add_argument("--webhook-retries", type=int, default=3)
    group.add_argument("--webhook-retry-delay", type=float, default=0.5, help="seconds")
    group.add_argument("--webhook-concurrency", type=int, default=8)
    group.add_argument("--webhook-timeout", type=float, default=5.0, help="seconds")


def webhook_options(opts: dict[str, Any]) -> dict[str, Any] | None:
    """The configure_webhooks arguments of the parsed flags; None without ``--webhook-url``."""
    if not opts.get("webhook_url"):
        return None
    return {
        "url": opts["webhook_url"],
        "duplicate_rate": opts["webhook_duplicate_rate"],
        "shuffle": opts["webhook_shuffle"],
        "max_events_per_delivery": opts["webhook_batch"],
        "standby": opts["webhook_standby"],
        "retries": opts["webhook_retries"],
        "retry_delay_seconds": opts["webhook_retry_delay"],
        "concurrency": opts["webhook_concurrency"],
        "timeout_seconds": opts["webhook_timeout"],
    }
