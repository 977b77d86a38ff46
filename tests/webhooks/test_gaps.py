"""Gaps: messages a sync stores that were sent while the Page was subscribed to webhooks and
that no webhook had brought by then are counted on the Page (webhook_gap_messages)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pages.models import FacebookPage
from tests.helpers import sync
from tests.truth import truth_of
from tests.webhooks.bodies import deliver
from tests.webhooks.sandbox_events import message_items

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=3650)


@pytest.fixture
def synced(page, settings):
    # No grace: a message counts as soon as it was sent. The sandbox stamps the messages it
    # adds a second apart from now on, some a little ahead of this clock: -60 counts those too.
    settings.WEBHOOK_GAP_GRACE_SECONDS = -60
    assert sync(page).status == "complete"
    return page


def subscribe(page: FacebookPage, since=LONG_AGO) -> None:
    page.record_webhook_fields(["messages", "message_echoes"])
    FacebookPage.objects.filter(pk=page.pk).update(webhook_subscribed_at=since)


def add_messages(sandbox, page, count: int) -> str:
    thread = truth_of(sandbox, page)["conversations"][10]["id"]
    for _ in range(count):
        sandbox.sandbox.add_messages(page.facebook_id, conversation_ids=[thread])
    return thread


def gaps(page: FacebookPage) -> int:
    return FacebookPage.objects.get(pk=page.pk).webhook_gap_messages


def test_messages_a_webhook_missed_are_counted_and_those_it_brought_are_not(sandbox, synced):
    subscribe(synced)
    thread = add_messages(sandbox, synced, 3)
    [newest] = message_items(sandbox, synced, thread, newest=1)
    assert deliver(newest, page_id=synced.facebook_id).messages_stored == 1

    assert sync(synced).status == "complete"
    assert gaps(synced) == 2  # the two before the newest never came by webhook

    add_messages(sandbox, synced, 1)
    assert sync(synced).status == "complete"
    assert gaps(synced) == 3  # counted over syncs


def test_without_a_subscription_nothing_is_a_gap(sandbox, synced):
    add_messages(sandbox, synced, 2)
    assert sync(synced).status == "complete"
    assert gaps(synced) == 0


def test_messages_sent_before_the_subscription_are_not_gaps(sandbox, synced):
    subscribe(synced, since=timezone.now() + timedelta(days=1))
    add_messages(sandbox, synced, 2)
    assert sync(synced).status == "complete"
    assert gaps(synced) == 0


def test_a_message_too_recent_for_its_webhook_to_have_come_is_not_a_gap(sandbox, synced, settings):
    settings.WEBHOOK_GAP_GRACE_SECONDS = 10 * 365 * 86400
    subscribe(synced)
    add_messages(sandbox, synced, 2)
    assert sync(synced).status == "complete"
    assert gaps(synced) == 0


def test_a_subscription_read_back_starts_and_ends_the_window(synced):
    synced.record_webhook_fields(["messages"])
    started = FacebookPage.objects.get(pk=synced.pk).webhook_subscribed_at
    assert started is not None
    synced.record_webhook_fields(["messages", "message_reads"])  # still subscribed: kept
    assert FacebookPage.objects.get(pk=synced.pk).webhook_subscribed_at == started
    synced.record_webhook_fields(["message_reads"])  # Meta dropped messages
    assert FacebookPage.objects.get(pk=synced.pk).webhook_subscribed_at is None
