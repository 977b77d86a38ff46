"""An erased person stays erased: their conversation is still on Facebook, yet neither a full
re-sync nor a webhook stores anything of theirs again, until staff delete their ErasedContact
entry; then the next sync brings it back."""

import pytest

from conversations.models import Contact, Conversation, ErasedContact, Message
from pages.models import SyncRun
from privacy.erasure import erase_contact_data
from tests.helpers import sync
from tests.privacy.privacy_helpers import person_in_truth, rows
from tests.webhooks.bodies import deliver, message

pytestmark = pytest.mark.django_db


def erase(page, psid: str) -> None:
    erase_contact_data(Contact.objects.filter(page=page, psid=psid))


def test_a_full_resync_stores_nothing_of_an_erased_person(inboxes, inbox_server):
    page = inboxes[0]
    person = person_in_truth(inbox_server, page.facebook_id, index=2)
    erase(page, person["psid"])
    after_erasure = rows()
    assert ErasedContact.objects.filter(page=page, psid=person["psid"]).exists()

    run = sync(page, full=True)
    assert run.status == SyncRun.Status.COMPLETE
    assert rows() == after_erasure
    # Counted, as a conversation the sync passed over, not as a new one.
    assert run.inserted == 0
    assert run.current == len(inbox_server.sandbox.truth(page.facebook_id)["conversations"])


def test_a_webhook_from_an_erased_person_stores_nothing_and_queues_no_sync(inboxes, inbox_server):
    page = inboxes[0]
    person = person_in_truth(inbox_server, page.facebook_id, index=1)
    erase(page, person["psid"])
    before = rows()
    runs_before = SyncRun.objects.count()

    delivery = deliver(
        message("m_after_erasure", psid=person["psid"], page_id=page.facebook_id),
        page_id=page.facebook_id,
    )
    assert delivery.status == "processed"
    assert rows() == before
    assert not Message.objects.filter(facebook_id="m_after_erasure").exists()
    assert SyncRun.objects.count() == runs_before  # no sync to learn their conversation


def test_deleting_the_entry_lets_the_person_in_again(inboxes, inbox_server):
    page = inboxes[0]
    person = person_in_truth(inbox_server, page.facebook_id, index=3)
    erase(page, person["psid"])
    ErasedContact.objects.filter(page=page, psid=person["psid"]).delete()

    assert sync(page, full=True).status == SyncRun.Status.COMPLETE
    assert person["conversations"] <= rows()["conversations"]
    assert Conversation.objects.filter(page=page, contact__psid=person["psid"]).exists()


def test_an_erasure_on_one_page_leaves_the_same_id_on_another_page_alone(inboxes):
    erased = Contact.objects.filter(page=inboxes[0]).first()
    erase(inboxes[0], erased.psid)
    assert not ErasedContact.objects.filter(page=inboxes[1]).exists()
