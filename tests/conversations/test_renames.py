"""A person renamed on Facebook is shown with the new name everywhere: the conversations list,
the thread's header and every message they sent, old ones too."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from conversations.models import Conversation, Message
from tests.helpers import sync

pytestmark = pytest.mark.django_db

NEW_NAME = "Zoë Novo-Nome"


def a_conversation_with_received_messages(page) -> Conversation:
    return Conversation.objects.filter(
        page=page, contact__isnull=False, messages__direction=Message.Direction.INBOUND
    ).first()


def test_a_rename_reaches_every_stored_message_of_that_person(page, sandbox, staff_client):
    sync(page)
    conversation = a_conversation_with_received_messages(page)
    psid, old_name = conversation.contact.psid, conversation.contact.name
    assert Message.objects.filter(page=page, sender_id=psid, sender_name=old_name).exists()
    sandbox.sandbox.rename_participant(
        page.facebook_id, conversation_ids=[conversation.facebook_id], name=NEW_NAME
    )

    run = sync(page, full=True)

    assert run.updated >= 1
    conversation.contact.refresh_from_db()
    assert conversation.contact.name == NEW_NAME
    sent_by_them = Message.objects.filter(page=page, sender_id=psid)
    assert set(sent_by_them.values_list("sender_name", flat=True)) == {NEW_NAME}
    thread = staff_client.get(reverse("conversations:detail", args=[conversation.pk]))
    listing = staff_client.get(reverse("conversations:list"))
    assert old_name not in thread.content.decode()
    assert NEW_NAME in thread.content.decode()
    assert (
        f'/conversations/{conversation.pk}/"><bdi>{NEW_NAME}</bdi></a>' in listing.content.decode()
    )


def test_the_thread_shows_the_current_name_on_messages_stored_before_it(
    page, sandbox, staff_client
):
    sync(page)
    conversation = a_conversation_with_received_messages(page)
    conversation.messages.filter(direction=Message.Direction.INBOUND).update(
        sender_name="An Old Name"
    )

    html = staff_client.get(
        reverse("conversations:detail", args=[conversation.pk])
    ).content.decode()

    assert "An Old Name" not in html
    assert f'<bdi class="sender">{escape(conversation.contact.name)}</bdi>' in html
