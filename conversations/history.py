"""Storing a page of a thread's older messages (the history backfill, a verify's repair).

Runs inside the caller's transaction and makes no network calls. Every row is an insert that
ignores its natural key, so a page read twice (a resume after a kill, a repair after a sync)
stores nothing twice: what was already there is counted as a duplicate prevented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.ingest import insert_messages
from conversations.models import Conversation, ErasedContact, InteractionEvent, Message
from conversations.parsing import MessageData
from conversations.sql import ConflictIgnoringInsert

# The columns of ingest's EVENT_ROWS and one more: backfilled events are marked as such.
BACKFILL_EVENT_ROWS = ConflictIgnoringInsert(
    InteractionEvent,
    ["page", "conversation", "contact", "kind", "source_id", "occurred_at", "backfill"],
)


@dataclass(frozen=True)
class StoredPage:
    inserted: int  # messages stored now
    duplicates: int  # messages already stored (read again, not stored twice)
    events: int  # interaction events created
    skipped_old: int = 0  # older than the Page keeps (retention): not stored


def store_older_messages(
    conversation: Conversation,
    messages: list[MessageData],
    *,
    backfill: bool = True,
    keep_after: datetime | None = None,
) -> StoredPage:
    """Store the messages of `conversation` (a page of its older ones, any order) that are not
    stored yet, and their interaction events (marked `backfill` unless told otherwise).
    Messages sent before `keep_after` (the Page's retention) are left out."""
    page_id = conversation.page_id
    if (
        conversation.contact_id is not None
        and ErasedContact.objects.filter(page_id=page_id, psid=conversation.contact.psid).exists()
    ):
        return StoredPage(0, 0, 0)
    kept = [m for m in messages if keep_after is None or m.created_time >= keep_after]
    # Oldest first: rows of one page are inserted in chronological order (ties within a
    # second keep Graph's order, as ingest does).
    chronological = sorted(kept, key=lambda m: m.created_time)
    inserted = insert_messages(page_id, conversation.pk, chronological)
    # An event exists exactly when its message does: the messages already stored have
    # theirs, so inserting them again ignores those.
    events = BACKFILL_EVENT_ROWS.insert(
        (
            page_id,
            conversation.pk,
            conversation.contact_id,
            InteractionEvent.Kind.MESSAGE_SENT
            if m.direction == Message.Direction.OUTBOUND
            else InteractionEvent.Kind.MESSAGE_RECEIVED,
            m.facebook_id,
            m.created_time,
            backfill,
        )
        for m in chronological
    )
    return StoredPage(
        inserted=inserted,
        duplicates=len(chronological) - inserted,
        events=events,
        skipped_old=len(messages) - len(kept),
    )


def move_start_to_first_message(conversation: Conversation) -> None:
    """Once a thread's first message is stored, its `conversation_started` event (first set
    from the oldest message the first sync saw) moves to when it really began."""
    first = (
        Message.objects.filter(conversation=conversation)
        .order_by("created_time", "id")
        .values_list("created_time", flat=True)
        .first()
    )
    if first is None:
        return
    InteractionEvent.objects.filter(
        page_id=conversation.page_id,
        kind=InteractionEvent.Kind.CONVERSATION_STARTED,
        source_id=conversation.facebook_id,
        occurred_at__gt=first,
    ).update(occurred_at=first)
