"""Processing stored deliveries against hand-made inbox rows: each kind of event, duplicates
and retries, unknown kinds, failures that store nothing half-way, live notices."""

from datetime import UTC, datetime, timedelta

import pytest

from conversations.models import Contact, Conversation, InteractionEvent, Message
from pages.models import FacebookPage
from tests.webhooks.bodies import (
    PAGE_ID,
    PSID,
    T0,
    deliver,
    echo,
    item,
    make_thread,
    message,
)
from webhooks import processing
from webhooks.events import time_of
from webhooks.models import WebhookDelivery
from webhooks.processing import process_delivery

pytestmark = pytest.mark.django_db
BEFORE = datetime(2026, 7, 29, 7, 0, tzinfo=UTC)  # the thread's last sync, before T0


@pytest.fixture
def shop() -> FacebookPage:
    return FacebookPage.objects.create(facebook_id=PAGE_ID, name="Bike Shop")


@pytest.fixture
def thread(shop) -> Conversation:
    return make_thread(shop, updated=BEFORE)


def test_a_message_is_stored_with_its_event_and_moves_its_conversation(thread, published):
    delivery = deliver(message("m_1", "Do you ship to Lisbon?"))
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert (delivery.events, delivery.messages_stored, delivery.attempts) == (1, 1, 1)
    stored = Message.objects.get(facebook_id="m_1")
    assert stored.conversation == thread
    assert stored.created_time == time_of(T0)
    assert (stored.direction, stored.sender_id, stored.sender_name) == ("in", PSID, "Ana Lima")
    assert stored.webhook_copy
    event = InteractionEvent.objects.get(source_id="m_1")
    assert (event.kind, event.conversation, event.contact) == (
        "message_received",
        thread,
        thread.contact,
    )
    assert event.occurred_at == time_of(T0)
    thread.refresh_from_db()
    assert thread.updated_time == thread.last_message_at == time_of(T0)
    assert thread.snippet == "Do you ship to Lisbon?"
    assert thread.synced_updated_time == BEFORE  # what the sync compares with Graph's
    assert thread.message_count == 3  # Graph's count, which only a sync knows
    shop = thread.page
    shop.refresh_from_db()
    assert shop.last_webhook_at == delivery.received_at
    assert published == [(shop.pk, thread.pk)]


def test_a_retry_and_a_duplicate_store_the_message_once(thread, published):
    first = deliver(message("m_1"))
    again = deliver(message("m_1"), item("read", {"watermark": T0 - 1}))
    assert (first.messages_stored, again.messages_stored) == (1, 0)
    assert process_delivery(first.pk) is None  # processed already: nothing to do
    assert Message.objects.filter(facebook_id="m_1").count() == 1
    assert InteractionEvent.objects.filter(source_id="m_1").count() == 1


def test_a_message_the_sync_stored_first_changes_nothing(thread, published):
    synced_time = datetime(2026, 7, 29, 8, 0, 4, tzinfo=UTC)
    Message.objects.create(
        page=thread.page,
        conversation=thread,
        facebook_id="m_1",
        sender_id=PSID,
        sender_name="Ana Lima",
        direction="in",
        text="Graph's text",
        created_time=synced_time,
    )
    delivery = deliver(message("m_1", "Webhook text"))
    assert delivery.messages_stored == 0
    stored = Message.objects.get(facebook_id="m_1")
    assert (stored.text, stored.created_time, stored.webhook_copy) == (
        "Graph's text",
        synced_time,
        False,
    )
    assert published == []


def test_an_echo_is_the_pages_own_message(thread, published):
    deliver(echo("m_2", "Yes, we do."))
    stored = Message.objects.get(facebook_id="m_2")
    assert (stored.direction, stored.sender_id, stored.sender_name) == ("out", PAGE_ID, "Bike Shop")
    assert InteractionEvent.objects.get(source_id="m_2").kind == "message_sent"


def test_items_under_standby_are_processed(thread, published):
    delivery = deliver(echo("m_2", "Sent from Business Suite"), standby=True)
    assert delivery.messages_stored == 1
    assert Message.objects.get(facebook_id="m_2").text == "Sent from Business Suite"


def test_attachments_are_stored_in_the_sync_shape(thread, published):
    url = "https://scontent.xx.fbcdn.net/v/t1/1_n.jpg?oe=6a1"
    extra = {"attachments": [{"type": "image", "payload": {"url": url}}]}
    deliver(message("m_1", "", extra=extra))
    stored = Message.objects.get(facebook_id="m_1")
    assert stored.attachments == [{"type": "image", "name": "", "mime_type": "", "url": url}]
    thread.refresh_from_db()
    assert thread.snippet == ""  # the list then says "📷 Photo" (conversations.snippets)


def test_a_postback_is_stored_as_an_inbound_message(thread, published):
    deliver(item("postback", {"mid": "m_3", "title": "Get Started", "payload": "GET_STARTED"}))
    stored = Message.objects.get(facebook_id="m_3")
    assert (stored.text, stored.direction) == ("Get Started", "in")
    assert stored.attachments == [{"type": "postback", "payload": "GET_STARTED"}]


def test_reads_and_deliveries_move_watermarks_forward_only(thread, published):
    deliver(item("read", {"watermark": T0}), item("delivery", {"watermark": T0, "mids": ["x"]}))
    deliver(item("read", {"watermark": T0 - 60_000}, at=T0 + 1))  # an older read, late
    thread.refresh_from_db()
    assert thread.read_watermark == thread.delivered_watermark == time_of(T0)
    deliver(item("read", {"watermark": T0 + 5_000}, at=T0 + 6_000))
    thread.refresh_from_db()
    assert thread.read_watermark == time_of(T0 + 5_000)
    assert thread.updated_time == BEFORE  # a read is no new message
    assert published == [(thread.page_id, thread.pk)] * 2


def test_reactions_keep_each_persons_latest_action_in_any_order(thread, published):
    deliver(message("m_1"))
    react = {"mid": "m_1", "action": "react", "reaction": "love", "emoji": "❤"}
    unreact = {**react, "action": "unreact"}
    # The unreact (later) arrives first; the react (earlier) must not undo it.
    deliver(item("reaction", unreact, at=T0 + 2_000), item("reaction", react, at=T0 + 1_000))
    assert Message.objects.get(facebook_id="m_1").reactions == {
        PSID: {"action": "unreact", "reaction": "love", "emoji": "❤", "at": T0 + 2_000}
    }
    deliver(item("reaction", {**react, "reaction": "wow", "emoji": "😮"}, at=T0 + 3_000))
    deliver(item("reaction", react, psid="999", at=T0 + 3_000))  # someone else: kept apart
    reactions = Message.objects.get(facebook_id="m_1").reactions
    assert reactions[PSID]["reaction"] == "wow"
    assert reactions[PSID]["action"] == "react"
    assert reactions["999"]["reaction"] == "love"


def test_a_reaction_to_a_message_we_do_not_hold_changes_nothing(thread, published):
    delivery = deliver(item("reaction", {"mid": "m_old", "action": "react", "reaction": "love"}))
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert published == []


def test_unknown_kinds_are_kept_and_counted_never_an_error(thread, published):
    delivery = deliver(
        item("referral", {"ref": "ad"}),
        item("sandbox_unknown_event", {"detail": "?"}),
        item("sandbox_unknown_event", {"detail": "?"}, at=T0 + 1),
        message("m_1"),
    )
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert delivery.error == ""
    assert delivery.unknown_kinds == {"referral": 1, "sandbox_unknown_event": 2}
    assert (delivery.events, delivery.messages_stored) == (4, 1)


def test_the_conversation_never_moves_back_for_an_older_message(thread, published):
    deliver(message("m_2", "newer", at=T0 + 10_000))
    deliver(message("m_1", "older, delivered late", at=T0))
    thread.refresh_from_db()
    assert thread.updated_time == time_of(T0 + 10_000)
    assert thread.snippet == "newer"
    assert thread.synced_updated_time == BEFORE
    assert Message.objects.filter(conversation=thread).count() == 2


def test_events_of_one_delivery_apply_in_time_order(thread, published):
    deliver(message("m_2", "second", at=T0 + 1), message("m_1", "first", at=T0))
    thread.refresh_from_db()
    assert thread.snippet == "second"


def test_events_for_a_page_not_connected_here_are_kept_raw(thread, published):
    delivery = deliver(message("m_9", page_id="999"), page_id="999")
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert "not connected here" in delivery.error
    assert not Message.objects.filter(facebook_id="m_9").exists()


def test_unreadable_events_are_noted_and_the_rest_stored(thread, published):
    delivery = deliver(message("", "no mid"), message("m_1"))
    assert delivery.messages_stored == 1
    assert "1 events could not be read" in delivery.error


def test_a_failure_stores_nothing_half_way_and_is_retried(thread, published, monkeypatch):
    def broken(conversation_pk, data):
        raise RuntimeError("database said no to 'Do you ship to Lisbon?'")

    monkeypatch.setattr("webhooks.apply.move_forward", broken)
    delivery = deliver(message("m_1"), item("read", {"watermark": T0}))
    assert delivery.status == WebhookDelivery.Status.RECEIVED  # housekeeping tries again
    assert delivery.error == "Processing failed (RuntimeError); attempt 1."
    assert not Message.objects.exists()  # the message's insert was rolled back
    assert not InteractionEvent.objects.exists()
    thread.refresh_from_db()
    assert thread.read_watermark is None
    monkeypatch.undo()
    assert process_delivery(delivery.pk) == WebhookDelivery.Status.PROCESSED
    assert Message.objects.filter(facebook_id="m_1").count() == 1


def test_a_delivery_failing_every_time_is_marked_failed(thread, published, monkeypatch):
    monkeypatch.setattr("webhooks.apply.move_forward", lambda *args: 1 / 0)
    delivery = deliver(message("m_1"))
    for _ in range(processing.MAX_ATTEMPTS - 1):
        process_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == processing.MAX_ATTEMPTS
    assert process_delivery(delivery.pk) is None


def test_stalled_deliveries_are_processed_by_housekeeping(thread, published, settings):
    settings.FACEBOOK_WEBHOOK_RETRY_AFTER_SECONDS = 60
    raw = b'{"object":"page","entry":[]}'
    old = WebhookDelivery.objects.create(
        body=raw, sha256="a" * 64, received_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    fresh = WebhookDelivery.objects.create(body=raw, sha256="b" * 64)  # its task may still run
    assert processing.retry_stalled() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == WebhookDelivery.Status.PROCESSED
    assert fresh.status == WebhookDelivery.Status.RECEIVED


def test_contacts_of_unknown_people_are_created_without_names(shop, published):
    deliver(message("m_1", psid="4242"))
    contact = Contact.objects.get(page=shop, psid="4242")
    assert contact.name is None
