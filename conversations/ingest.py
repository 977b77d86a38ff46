"""Upsert one parsed conversation (conversations.parsing) idempotently.

`ingest_conversation` runs inside the caller's transaction (the engine commits the rows and
the checkpoint together); it makes no network calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.models import (
    Contact,
    Conversation,
    ErasedContact,
    InteractionEvent,
    Message,
)
from conversations.parsing import ConversationData, MessageData
from conversations.sql import ConflictIgnoringInsert, ReturningUpsert


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
    # When each message this sync stored for the first time was sent (a webhook's copy it
    # replaced is not among them): the recorder tells from them what the webhooks missed.
    new_message_times: tuple[datetime, ...] = ()
    # The person's data was erased on request (ErasedContact): nothing was stored.
    erased: bool = False
    # Messages read from Graph again and not stored twice: those the sync recognised as
    # held (`new_messages.seen_again`, pages.sync.threads) and inserts that found their row.
    duplicates_prevented: int = 0


def load_known(page_id: int, facebook_ids: list[str]) -> dict[str, KnownConversation]:
    """One query for the stored state of a page of conversations. `updated_time` is the one
    the last sync stored, even when a webhook has moved the row's forward since."""
    rows = (
        Conversation.objects.filter(page_id=page_id, facebook_id__in=facebook_ids)
        .annotate(synced_time=Coalesce("synced_updated_time", "updated_time"))
        .values_list(
            "facebook_id",
            "pk",
            "synced_time",
            "folder",
            "contact__name",
            "message_count",
            "unread_count",
            "snippet",
            "can_reply",
            "sync_pass",
        )
    )
    return {row[0]: KnownConversation(*row[1:]) for row in rows}


def known_message_ids(page_id: int, facebook_ids: list[str]) -> set[str]:
    """The ids a sync already stored. A webhook's copy does not count: the sync reads on past
    it, to the messages the webhooks may have missed."""
    return set(
        Message.objects.filter(
            page_id=page_id, facebook_id__in=facebook_ids, webhook_copy=False
        ).values_list("facebook_id", flat=True)
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
    interaction events. Call inside a transaction. Nothing of a person whose data was erased
    comes back (a stored conversation is never theirs: erasing deleted it)."""
    if known is None and ErasedContact.is_erased(page_id, data.contact_psid):
        return IngestResult(
            created=False, changed=False, new_messages=0, events_created=0, erased=True
        )
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
            if known is not None and data.contact_name != known.contact_name:
                # A rename shows everywhere: the messages the person sent before carry the
                # name too (in this conversation's transaction, with the contact's).
                Message.objects.filter(page_id=page_id, sender_id=data.contact_psid).exclude(
                    sender_name=data.contact_name
                ).update(sender_name=data.contact_name)

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
        None,  # synced_updated_time: `updated_time` is the sync's own again
        now,
        now,
    )

    # Oldest first, so rows of one thread are inserted in chronological order (ties keep
    # Graph's order: ordering by (created_time, id) then reads back the right sequence).
    chronological = list(reversed(new_messages))
    # Messages a webhook stored first make way for Graph's version, inserted in Graph's order
    # with the others (their events exist already, so they are not new).
    copies = {}
    if known is not None and chronological:
        copies = take_webhook_copies(page_id, [m.facebook_id for m in chronological])
    inserted = insert_messages(page_id, conversation_pk, chronological)
    if copies:
        keep_what_webhooks_added(page_id, conversation_pk, copies, chronological)
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
        new_messages=len(new_messages) - len(copies),
        events_created=len(events) - len(copies),
        new_message_times=tuple(
            m.created_time for m in chronological if m.facebook_id not in copies
        ),
        duplicates_prevented=getattr(new_messages, "seen_again", 0) + len(chronological) - inserted,
    )


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
    "synced_updated_time",
]
CONVERSATION_UPSERT = ReturningUpsert(
    Conversation,
    ["page", "facebook_id", *CONVERSATION_SYNCED_FIELDS, "created_at", "synced_at"],
    ["page", "facebook_id"],
    [*CONVERSATION_SYNCED_FIELDS, "synced_at"],
)
# A stored message's columns, as the sync writes them (webhooks.apply adds `webhook_copy`).
MESSAGE_FIELDS = [
    "page",
    "conversation",
    "facebook_id",
    "sender_id",
    "sender_name",
    "direction",
    "text",
    "attachments",
    "created_time",
]
MESSAGE_ROWS = ConflictIgnoringInsert(Message, MESSAGE_FIELDS)


def insert_messages(page_id: int, conversation_pk: int, messages: list[MessageData]) -> int:
    """Insert the messages (in this order) that are not stored yet; returns how many were."""
    return MESSAGE_ROWS.insert(
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
        for m in messages
    )


EVENT_ROWS = ConflictIgnoringInsert(
    InteractionEvent, ["page", "conversation", "contact", "kind", "source_id", "occurred_at"]
)


def take_webhook_copies(page_id: int, facebook_ids: list[str]) -> dict[str, dict]:
    """Delete the rows a webhook stored for these messages (its copy has no names, other
    attachment shapes, millisecond times): the sync inserts Graph's version in their place,
    in Graph's order, so what a webhook and then a sync store is what the sync alone stores,
    ties within a second included. Returns each copy's reactions (webhooks only), by id."""
    copies = Message.objects.filter(
        page_id=page_id, facebook_id__in=facebook_ids, webhook_copy=True
    )
    reactions = dict(copies.values_list("facebook_id", "reactions"))
    if reactions:
        copies.delete()
    return reactions


def keep_what_webhooks_added(
    page_id: int, conversation_pk: int, copies: dict[str, dict], messages: list[MessageData]
) -> None:
    """The replaced copies' reactions, and their events at Graph's time."""
    for m in messages:
        if m.facebook_id not in copies:
            continue
        if copies[m.facebook_id]:
            Message.objects.filter(page_id=page_id, facebook_id=m.facebook_id).update(
                reactions=copies[m.facebook_id]
            )
        InteractionEvent.objects.filter(page_id=page_id, source_id=m.facebook_id).exclude(
            kind=InteractionEvent.Kind.CONVERSATION_STARTED
        ).update(conversation_id=conversation_pk, occurred_at=m.created_time)


def mark_unchanged(known: KnownConversation, sync_pass: str) -> None:
    """Record that this pass covered an unchanged conversation (so a resume skips it)."""
    Conversation.objects.filter(pk=known.pk).update(sync_pass=sync_pass)
