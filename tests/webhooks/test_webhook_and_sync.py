"""A webhook and a sync delivering the same messages, in either order, against the sandbox
over real HTTP: every message is stored once, the sync still fetches what the webhooks missed,
and the end state is exactly what the sync alone stores."""

import pytest
from django.db import transaction

from conversations.models import Conversation, Message
from tests.helpers import sync
from tests.truth import assert_matches_truth, truth_of
from tests.webhooks.bodies import deliver
from tests.webhooks.sandbox_events import inbox_state, message_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(page):
    assert sync(page).status == "complete"
    return page


def new_messages(sandbox, page, count: int, *, same_second: bool = False) -> str:
    """`count` new inbound messages in one stored thread, a second apart (or all in the same
    second); its id."""
    thread = truth_of(sandbox, page)["conversations"][30]["id"]
    add = sandbox.sandbox.add_messages
    if same_second:
        add(page.facebook_id, conversation_ids=[thread], per_conversation=count)
    for _ in range(0 if same_second else count):
        add(page.facebook_id, conversation_ids=[thread])
    return thread


def state_after_sync_alone(page) -> dict:
    """What an incremental sync alone stores from here (rolled back afterwards)."""
    with transaction.atomic():
        assert sync(page).status == "complete"
        state = inbox_state(page)
        transaction.set_rollback(True)
    return state


def test_a_webhook_then_a_sync_end_as_the_sync_alone(sandbox, synced):
    thread = new_messages(sandbox, synced, 3)
    expected = state_after_sync_alone(synced)
    # The webhooks delivered only the newest message: the two before it were missed.
    [newest] = message_items(sandbox, synced, thread, newest=1)
    delivery = deliver(newest, page_id=synced.facebook_id)
    assert delivery.messages_stored == 1
    stored = Conversation.objects.get(facebook_id=thread)
    assert stored.updated_time > expected["conversations"][thread]["updated_time"]  # ms

    assert sync(synced).status == "complete"
    assert inbox_state(synced) == expected
    assert not Message.objects.filter(webhook_copy=True).exists()
    assert_matches_truth(synced, truth_of(sandbox, synced), more={thread: 3})


def test_webhooks_for_every_new_message_then_a_sync_end_as_the_sync_alone(sandbox, synced):
    thread = new_messages(sandbox, synced, 2)
    expected = state_after_sync_alone(synced)
    # Delivered newest first (Meta promises no order), twice (Meta retries).
    items = message_items(sandbox, synced, thread, newest=2)
    assert deliver(*reversed(items), page_id=synced.facebook_id).messages_stored == 2
    assert deliver(items[1], page_id=synced.facebook_id).messages_stored == 0

    run = sync(synced)
    assert run.status == "complete"
    assert inbox_state(synced) == expected
    # The sync counts no event twice: the webhook's are the same rows.
    assert run.events == 0


def test_messages_of_one_second_delivered_out_of_order_end_in_graphs_order(sandbox, synced):
    thread = new_messages(sandbox, synced, 3, same_second=True)
    expected = state_after_sync_alone(synced)
    items = message_items(sandbox, synced, thread, newest=3)
    for item in reversed(items):  # newest first, one delivery each
        deliver(item, page_id=synced.facebook_id)
    assert sync(synced).status == "complete"
    assert inbox_state(synced) == expected


def test_a_reaction_on_a_webhooks_copy_outlives_the_syncs_replacement(sandbox, synced):
    thread = new_messages(sandbox, synced, 1)
    [item] = message_items(sandbox, synced, thread, newest=1)
    mid, psid = item["message"]["mid"], item["sender"]["id"]
    reaction = {"mid": mid, "action": "react", "reaction": "love", "emoji": "❤"}
    later = {**item, "timestamp": item["timestamp"] + 1}
    del later["message"]
    deliver(item, {**later, "reaction": reaction}, page_id=synced.facebook_id)
    assert sync(synced).status == "complete"
    replaced = Message.objects.get(facebook_id=mid)
    assert not replaced.webhook_copy
    assert replaced.reactions[psid]["reaction"] == "love"


def test_a_sync_then_the_late_webhook_end_as_the_sync_alone(sandbox, synced):
    thread = new_messages(sandbox, synced, 2)
    assert sync(synced).status == "complete"
    expected = inbox_state(synced)
    items = message_items(sandbox, synced, thread, newest=2)
    delivery = deliver(*items, page_id=synced.facebook_id)
    assert delivery.messages_stored == 0
    assert inbox_state(synced) == expected


def test_a_webhook_between_two_syncs_with_nothing_new_on_graph_leaves_the_sync_in_charge(
    sandbox, synced
):
    """The webhook names a message Graph already listed at the last sync: storing it again
    changes nothing, and the next sync finds nothing to do."""
    thread = truth_of(sandbox, synced)["conversations"][5]["id"]
    expected = inbox_state(synced)
    [item] = message_items(sandbox, synced, thread, newest=1)
    assert deliver(item, page_id=synced.facebook_id).messages_stored == 0
    run = sync(synced)
    assert (run.status, run.inserted, run.events) == ("complete", 0, 0)
    assert inbox_state(synced) == expected
