"""The database refuses Graph times outside 1970–2100 (a CHECK on every such column), and the
migration that adds the check first removes the conversations that hold such times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from conversations.models import Contact, Conversation, InteractionEvent, Message
from pages.models import FacebookPage

GOOD = datetime(2026, 8, 1, 10, 22, 31, tzinfo=UTC)
OUT_OF_RANGE = [
    datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2101, 1, 1, tzinfo=UTC),
    datetime(2100, 12, 31, 23, 30, tzinfo=UTC) + timedelta(hours=1),
]
EDGES = [datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]


def create_rows(when: dict[str, datetime] | None = None):
    """A page, a conversation, a message and its event (times from `when`, else GOOD)."""
    times = {"updated_time": GOOD, "last_message_at": GOOD, "created_time": GOOD}
    times.update(when or {})
    page, _ = FacebookPage.objects.get_or_create(facebook_id="1", defaults={"name": "Shop"})
    contact = Contact.objects.create(page=page, psid=f"p{Contact.objects.count()}")
    conversation = Conversation.objects.create(
        page=page,
        facebook_id=f"t_{Conversation.objects.count()}",
        contact=contact,
        updated_time=times["updated_time"],
        last_message_at=times["last_message_at"],
    )
    message = Message.objects.create(
        page=page,
        conversation=conversation,
        facebook_id=f"m_{conversation.facebook_id}",
        sender_id=contact.psid,
        direction=Message.Direction.INBOUND,
        created_time=times["created_time"],
    )
    InteractionEvent.objects.create(
        page=page,
        conversation=conversation,
        kind=InteractionEvent.Kind.MESSAGE_RECEIVED,
        source_id=message.facebook_id,
        occurred_at=times.get("occurred_at", times["created_time"]),
    )
    return conversation


@pytest.mark.django_db
@pytest.mark.parametrize("when", OUT_OF_RANGE, ids=str)
@pytest.mark.parametrize(
    "column", ["updated_time", "last_message_at", "created_time", "occurred_at"]
)
def test_an_insert_with_a_time_out_of_range_is_refused(column, when):
    with pytest.raises(IntegrityError, match="in_range"), transaction.atomic():
        create_rows({column: when})


@pytest.mark.django_db
@pytest.mark.parametrize("when", EDGES, ids=str)
def test_times_at_the_edges_of_the_range_are_stored(when):
    times = dict.fromkeys(("updated_time", "last_message_at", "created_time", "occurred_at"), when)

    conversation = create_rows(times)

    conversation.refresh_from_db()
    assert conversation.updated_time == when
    assert InteractionEvent.objects.get().occurred_at == when


@pytest.mark.django_db
def test_a_conversation_without_messages_has_no_last_message_time():
    create_rows({"last_message_at": None})

    assert Conversation.objects.get().last_message_at is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_removes_conversations_with_times_out_of_range_first():
    executor = MigrationExecutor(connection)
    before = [("conversations", "0001_initial")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        page = FacebookPage.objects.create(facebook_id="1", name="Shop")
        kept = {old_conversation(old, page, "t_kept", GOOD)}
        old_conversation(old, page, "t_future", GOOD, updated_time=datetime(2150, 1, 1, tzinfo=UTC))
        old_conversation(old, page, "t_old_message", datetime(1960, 1, 1, tzinfo=UTC))
        unreadable = old_conversation(old, page, "t_unreadable", GOOD)
        if connection.vendor != "postgresql":
            kept.add(unreadable)
        else:
            # What the unfixed parser wrote: a time PostgreSQL cannot give back to Python.
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE conversations_message SET created_time = %s WHERE conversation_id = %s",
                    ["9999-12-31T23:59:59-01:00", unreadable],
                )

        executor = MigrationExecutor(connection)
        executor.migrate([("conversations", "0002_graph_time_range")])

        assert set(Conversation.objects.values_list("pk", flat=True)) == kept
        assert sorted(Message.objects.values_list("conversation_id", flat=True)) == sorted(kept)
        events = InteractionEvent.objects.values_list("conversation_id", flat=True)
        assert sorted(events) == sorted(kept)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def old_conversation(apps, page, facebook_id: str, message_time: datetime, **fields) -> int:
    """Rows as the models before the check could hold them; returns the conversation's pk."""
    conversation = apps.get_model("conversations", "Conversation").objects.create(
        page_id=page.pk,
        facebook_id=facebook_id,
        updated_time=fields.get("updated_time", GOOD),
        last_message_at=message_time,
    )
    apps.get_model("conversations", "Message").objects.create(
        page_id=page.pk,
        conversation_id=conversation.pk,
        facebook_id=f"m_{facebook_id}",
        sender_id="p",
        direction="in",
        created_time=message_time,
    )
    apps.get_model("conversations", "InteractionEvent").objects.create(
        page_id=page.pk,
        conversation_id=conversation.pk,
        kind="message_received",
        source_id=f"m_{facebook_id}",
        occurred_at=message_time,
    )
    return conversation.pk
