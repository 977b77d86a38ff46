"""A message from a person with no stored conversation: the Contact is created, a small sync
learns the conversation (webhooks carry PSIDs, not thread ids), and the delivery is processed
again after it, also when a sync was already active. Against the sandbox over real HTTP."""

import pytest

from conversations.models import Contact, Conversation, Message
from pages.models import SyncRun
from pages.sync import runs
from pages.tasks import sync_page_task
from tests.helpers import sync
from tests.webhooks.bodies import deliver, message
from tests.webhooks.sandbox_events import message_items
from webhooks.models import WebhookDelivery
from webhooks.processing import retry_stalled

pytestmark = pytest.mark.django_db
WAITING, PROCESSED = WebhookDelivery.Status.WAITING, WebhookDelivery.Status.PROCESSED


@pytest.fixture
def synced(page):
    assert sync(page).status == "complete"
    return page


def new_person_writes(sandbox, page) -> tuple[str, dict]:
    """A person the app has never seen writes to the Page: (conversation id, webhook item)."""
    [conversation_id] = sandbox.sandbox.add_conversations(page.facebook_id, 1, messages=1)
    [item] = message_items(sandbox, page, conversation_id, newest=1)
    return conversation_id, item


def test_a_new_person_waits_for_a_sync_which_learns_the_conversation(sandbox, synced):
    conversation_id, item = new_person_writes(sandbox, synced)
    psid = item["sender"]["id"]
    delivery = deliver(item, page_id=synced.facebook_id)
    assert delivery.status == WAITING
    assert delivery.messages_stored == 0
    assert Contact.objects.filter(page=synced, psid=psid).exists()
    run = SyncRun.objects.get(page=synced, status=SyncRun.Status.QUEUED)
    assert (run.trigger, run.mode) == (SyncRun.Trigger.WEBHOOK, SyncRun.Mode.INCREMENTAL)

    assert retry_stalled() == 0  # not while its sync is queued
    assert sync_page_task.call(run.pk) == "complete"
    assert Conversation.objects.get(facebook_id=conversation_id).contact.psid == psid
    assert retry_stalled() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == (PROCESSED, "")
    assert Message.objects.filter(facebook_id=item["message"]["mid"]).count() == 1
    assert SyncRun.objects.filter(page=synced).count() == 2  # no further sync


def test_a_sync_already_active_is_not_doubled_and_the_message_is_stored_after(sandbox, synced):
    active = runs.create_run(synced, trigger=SyncRun.Trigger.WEB)
    conversation_id, item = new_person_writes(sandbox, synced)
    delivery = deliver(item, page_id=synced.facebook_id)
    assert delivery.status == WAITING
    assert SyncRun.objects.filter(page=synced).count() == 2  # the active one only
    # That run ends without having looked (cancelled): the delivery asks for another.
    runs.request_cancel(synced)
    assert retry_stalled() == 1
    delivery.refresh_from_db()
    assert delivery.status == WAITING
    webhook_run = SyncRun.objects.get(page=synced, status=SyncRun.Status.QUEUED)
    assert webhook_run.pk != active.pk
    assert webhook_run.trigger == SyncRun.Trigger.WEBHOOK

    assert sync_page_task.call(webhook_run.pk) == "complete"
    retry_stalled()
    delivery.refresh_from_db()
    assert delivery.status == PROCESSED
    assert Message.objects.get(facebook_id=item["message"]["mid"]).conversation.facebook_id == (
        conversation_id
    )


def test_it_gives_up_when_a_sync_since_found_no_conversation(sandbox, synced):
    delivery = deliver(message("m_ghost", psid="9999999"), page_id=synced.facebook_id)
    run = SyncRun.objects.get(page=synced, status=SyncRun.Status.QUEUED)
    assert sync_page_task.call(run.pk) == "complete"
    retry_stalled()
    delivery.refresh_from_db()
    assert delivery.status == PROCESSED
    assert "a sync since found no conversation with that person" in delivery.error
    assert not Message.objects.filter(facebook_id="m_ghost").exists()
    assert retry_stalled() == 0
    assert SyncRun.objects.filter(page=synced).count() == 2


def test_a_page_that_cannot_sync_gives_up_at_once(sandbox, synced):
    synced.token_status = synced.TokenStatus.NEEDS_RECONNECT
    synced.save()
    _conversation_id, item = new_person_writes(sandbox, synced)
    delivery = deliver(item, page_id=synced.facebook_id)
    assert delivery.status == PROCESSED
    assert "connected again" in delivery.error
    assert SyncRun.objects.filter(page=synced).count() == 1
