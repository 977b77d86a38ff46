"""One delivery's events applied to the inbox, idempotently (call inside a transaction).

Messages (and postbacks) are keyed like the sync's: `Message(page, facebook_id)` is unique and
a webhook's `mid` is the Graph message id (graph-api.md §8.2), so an insert that conflicts
means the message is stored already, by a sync or an earlier delivery, and changes nothing.
Its `message_received` / `message_sent` event is inserted the same way, only with the message.
A webhook's row is a `webhook_copy` until a sync reads the message and replaces it with
Graph's version (conversations.ingest): what both paths store ends equal to what the sync
alone stores.

The conversation a message lands in moves forward for the lists (`updated_time`, `snippet`,
`last_message_at`, never backward) and keeps the sync's own `updated_time` in
`synced_updated_time`, which the sync compares with Graph's: so it still fetches any message
the webhooks missed.

Webhooks name people (PSIDs), not threads. A message from a person with no stored conversation
cannot be stored yet (a message belongs to a conversation): its Contact is created and the
event is left `waiting` for a sync to learn the conversation (webhooks.processing).

Reads and deliveries move the conversation's watermarks forward. A reaction sets the
reacting id's latest action on the message, applied only when newer than the one stored
(deliveries come in any order). Events are applied in timestamp order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.ingest import EVENT_ROWS, MESSAGE_FIELDS, NAMELESS_CONTACT_UPSERT
from conversations.models import Conversation, ErasedContact, InteractionEvent, Message
from conversations.parsing import MessageData
from conversations.sql import ConflictIgnoringInsert
from pages.models import FacebookPage
from webhooks import events
from webhooks.events import Event

MESSAGE_KINDS = ("message", "echo", "postback")


@dataclass
class Applied:
    """What one pass over a delivery's events did."""

    events: int = 0
    messages_stored: int = 0
    unknown_kinds: Counter = field(default_factory=Counter)
    # Events that could not be read (a message without a mid or a time, a watermark that is
    # no time) or that name a Page not connected here: kept raw, nothing else.
    unreadable: int = 0
    other_pages: int = 0
    # Messages from people with no stored conversation, per Page pk.
    waiting: Counter = field(default_factory=Counter)
    erased: int = 0  # messages of people whose data was erased (ErasedContact), not stored
    pages: set[int] = field(default_factory=set)
    touched: set[tuple[int, int]] = field(default_factory=set)  # (page pk, conversation pk)


@dataclass(frozen=True)
class Thread:
    conversation_pk: int
    contact_pk: int | None
    contact_name: str | None


class DeliveryApplier:
    def __init__(self) -> None:
        self.applied = Applied()
        self._pages: dict[str, FacebookPage | None] = {}
        self._threads: dict[tuple[int, str], Thread | None] = {}

    def apply(self, delivery_events: list[Event]) -> Applied:
        handlers: dict[str, Callable[[FacebookPage, Event], None]] = {
            "read": self._read,
            "delivery": self._delivery,
            "reaction": self._reaction,
        }
        # Meta sends in no particular order: apply oldest first (a stable sort keeps a
        # delivery's order among equal times).
        for event in sorted(delivery_events, key=lambda e: e.timestamp_ms or 0):
            self.applied.events += 1
            if event.kind not in MESSAGE_KINDS and event.kind not in handlers:
                self.applied.unknown_kinds[event.kind] += 1
                continue
            page = self._page(event.page_id)
            if page is None:
                self.applied.other_pages += 1
                continue
            self.applied.pages.add(page.pk)
            if event.kind in MESSAGE_KINDS:
                self._message(page, event)
            else:
                handlers[event.kind](page, event)
        return self.applied

    # -- lookups ----------------------------------------------------------------------------

    def _page(self, facebook_id: str) -> FacebookPage | None:
        if facebook_id not in self._pages:
            self._pages[facebook_id] = (
                FacebookPage.objects.filter(facebook_id=facebook_id).only("pk", "name").first()
            )
        return self._pages[facebook_id]

    def _thread(self, page: FacebookPage, psid: str) -> Thread | None:
        """The person's conversation with the Page (their latest, should Graph ever give a
        person two)."""
        key = (page.pk, psid)
        if key not in self._threads:
            row = (
                Conversation.objects.filter(page=page, contact__psid=psid)
                .order_by("-updated_time", "-pk")
                .values_list("pk", "contact_id", "contact__name")
                .first()
            )
            self._threads[key] = Thread(*row) if row else None
        return self._threads[key]

    # -- handlers ---------------------------------------------------------------------------

    def _message(self, page: FacebookPage, event: Event) -> None:
        psid = event.person
        if not events.storable_id(psid) or psid == page.facebook_id:
            self.applied.unreadable += 1
            return
        thread = self._thread(page, psid)
        data = events.message_of(event, page.name, thread.contact_name if thread else None)
        if data is None:
            self.applied.unreadable += 1
            return
        if thread is None:
            if ErasedContact.is_erased(page.pk, psid):
                self.applied.erased += 1  # their data was deleted on request: keep nothing
                return
            now = timezone.now()
            NAMELESS_CONTACT_UPSERT.upsert(page.pk, psid, None, now, now)
            self.applied.waiting[page.pk] += 1
            return
        if not insert_message(page.pk, thread.conversation_pk, data):
            return  # stored already: by a sync, or by this delivery's earlier attempt
        kind = (
            InteractionEvent.Kind.MESSAGE_SENT
            if data.direction == Message.Direction.OUTBOUND
            else InteractionEvent.Kind.MESSAGE_RECEIVED
        )
        EVENT_ROWS.insert(
            [
                (
                    page.pk,
                    thread.conversation_pk,
                    thread.contact_pk,
                    kind,
                    data.facebook_id,
                    data.created_time,
                )
            ]
        )
        move_forward(thread.conversation_pk, data)
        self.applied.messages_stored += 1
        self.applied.touched.add((page.pk, thread.conversation_pk))

    def _read(self, page: FacebookPage, event: Event) -> None:
        self._watermark(page, event, "read_watermark")

    def _delivery(self, page: FacebookPage, event: Event) -> None:
        self._watermark(page, event, "delivered_watermark")

    def _watermark(self, page: FacebookPage, event: Event, name: str) -> None:
        moment = events.time_of(event.data.get("watermark"))
        thread = self._thread(page, event.person) if event.person else None
        if moment is None:
            self.applied.unreadable += 1
            return
        if thread is None:
            return  # a conversation we do not hold: nothing to mark
        older = Q(**{f"{name}__lt": moment}) | Q(**{f"{name}__isnull": True})
        if Conversation.objects.filter(older, pk=thread.conversation_pk).update(**{name: moment}):
            self.applied.touched.add((page.pk, thread.conversation_pk))

    def _reaction(self, page: FacebookPage, event: Event) -> None:
        mid = event.data.get("mid")
        stamp = event.timestamp_ms
        if not isinstance(mid, str) or not mid or not event.sender_id or stamp is None:
            self.applied.unreadable += 1
            return
        message = (
            Message.objects.select_for_update()
            .filter(page=page, facebook_id=mid)
            .only("pk", "conversation_id", "reactions")
            .first()
        )
        if message is None:
            return  # a message we do not hold (older than what the sync keeps)
        reactions = message.reactions if isinstance(message.reactions, dict) else {}
        current = reactions.get(event.sender_id)
        if isinstance(current, dict) and _number(current.get("at")) > stamp:
            return  # a newer action of this person is stored already
        reactions[event.sender_id] = reaction_of(event.data, stamp)
        Message.objects.filter(pk=message.pk).update(reactions=reactions)
        self.applied.touched.add((page.pk, message.conversation_id))


def reaction_of(data: dict[str, Any], stamp: int) -> dict[str, Any]:
    action = data.get("action") if data.get("action") in ("react", "unreact") else "react"
    text = {key: data.get(key) for key in ("reaction", "emoji")}
    return {
        "action": action,
        **{key: value[:32] for key, value in text.items() if isinstance(value, str)},
        "at": stamp,
    }


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


# A webhook's row: a `webhook_copy` until a sync reads the message (conversations.ingest).
WEBHOOK_MESSAGE_ROWS = ConflictIgnoringInsert(Message, [*MESSAGE_FIELDS, "webhook_copy"])


def insert_message(page_pk: int, conversation_pk: int, data: MessageData) -> bool:
    """Insert a webhook's message unless its (page, id) is stored; whether it was inserted.
    One `INSERT … ON CONFLICT DO NOTHING`: of a sync and a webhook inserting the same message
    at the same instant, one does nothing."""
    row = (
        page_pk,
        conversation_pk,
        data.facebook_id,
        data.sender_id,
        data.sender_name,
        data.direction,
        data.text,
        data.attachments,
        data.created_time,
        True,
    )
    return WEBHOOK_MESSAGE_ROWS.insert([row]) == 1


def move_forward(conversation_pk: int, data: MessageData) -> None:
    """Show the conversation's new last message in the lists, never moving them back: a
    delivery older than what is shown changes nothing. The first move keeps the sync's own
    `updated_time` (conversations.ingest.load_known)."""
    moment: datetime = data.created_time
    Conversation.objects.filter(pk=conversation_pk, updated_time__lt=moment).update(
        synced_updated_time=Coalesce("synced_updated_time", "updated_time"),
        updated_time=moment,
        snippet=data.text,
    )
    Conversation.objects.filter(
        Q(last_message_at__lt=moment) | Q(last_message_at__isnull=True), pk=conversation_pk
    ).update(last_message_at=moment)
