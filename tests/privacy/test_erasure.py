"""privacy.erasure: a person's rows go, exactly those, all or nothing."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.db.models import QuerySet

from conversations.models import Contact, Conversation, InteractionEvent, Message
from privacy.erasure import ErasureCounts, count_contact_data, erase_contact_data
from tests.privacy.privacy_helpers import person_in_truth, rows, store_delivery, without_person
from webhooks.models import DeliveryMention, WebhookDelivery


def test_erasing_a_person_deletes_exactly_their_rows(inboxes, inbox_server):
    page = inboxes[0]
    person = person_in_truth(inbox_server, page.facebook_id)
    before = rows()
    assert person["messages"]
    assert person["messages"] <= before["messages"]

    contact = Contact.objects.filter(page=page, psid=person["psid"])
    counts = erase_contact_data(contact)

    assert rows() == without_person(before, person)
    assert counts == ErasureCounts(
        contacts=1,
        conversations=1,
        messages=len(person["messages"]),
        events=len(before["events"]) - len(rows()["events"]),
    )
    assert counts.events >= 1  # at least the conversation_started event


def test_the_count_shown_before_equals_what_is_deleted(inboxes):
    contacts = Contact.objects.filter(page=inboxes[1])[:2]
    chosen = Contact.objects.filter(pk__in=[contact.pk for contact in contacts])
    expected = count_contact_data(chosen)
    assert expected.contacts == 2
    assert expected.messages >= 2
    assert erase_contact_data(chosen) == expected
    assert count_contact_data(chosen) == ErasureCounts()


def test_events_and_conversations_of_the_same_psid_on_another_page_go_too(inboxes, inbox_server):
    """One PSID on two Pages (hand-made: PSIDs are page-scoped, but the erasure is by contact
    and the deletion callback selects contacts by id on every Page)."""
    first, second = inboxes
    psid = person_in_truth(inbox_server, first.facebook_id)["psid"]
    twin = Contact.objects.create(page=second, psid=psid, name="Twin")
    stray_event = InteractionEvent.objects.create(
        page=second,
        conversation=Conversation.objects.filter(page=second).first(),
        contact=twin,
        kind=InteractionEvent.Kind.MESSAGE_RECEIVED,
        source_id="m_twin",
        occurred_at="2026-01-01T00:00:00Z",
    )
    others = Contact.objects.exclude(psid=psid).count()

    counts = erase_contact_data(Contact.objects.filter(psid=psid))

    assert counts.contacts == 2
    assert not Contact.objects.filter(psid=psid).exists()
    assert not InteractionEvent.objects.filter(pk=stray_event.pk).exists()
    assert Contact.objects.count() == others


def test_a_failure_midway_deletes_nothing(inboxes, inbox_server, monkeypatch):
    person = person_in_truth(inbox_server, inboxes[0].facebook_id)
    delivery = store_delivery(inboxes[0].facebook_id, person["psid"])
    before = rows()
    real_delete = QuerySet.delete

    def delete_failing_on_contacts(queryset):
        # By now the events, conversations and messages are deleted (in the transaction).
        if queryset.model is Contact:
            assert not Message.objects.filter(facebook_id__in=[m for _, m in person["messages"]])
            raise DatabaseError("simulated failure")
        return real_delete(queryset)

    monkeypatch.setattr(QuerySet, "delete", delete_failing_on_contacts)
    with pytest.raises(DatabaseError):
        erase_contact_data(Contact.objects.filter(psid=person["psid"]))

    assert rows() == before
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()


def test_the_admin_history_naming_them_goes_too(inboxes):
    contact = Contact.objects.filter(page=inboxes[0]).first()
    conversation = Conversation.objects.get(contact=contact)
    someone_else = Contact.objects.exclude(pk=contact.pk).first()
    admin_user = User.objects.create_user("admin", is_staff=True)
    for obj in (contact, conversation, someone_else):
        LogEntry.objects.log_actions(admin_user.pk, [obj], CHANGE, change_message="edited")

    erase_contact_data(Contact.objects.filter(pk=contact.pk))

    assert list(LogEntry.objects.values_list("object_id", flat=True)) == [str(someone_else.pk)]


def test_erasing_nobody_is_nothing(inboxes):
    before = rows()
    assert erase_contact_data(Contact.objects.none()) == ErasureCounts()
    assert rows() == before


def test_raw_webhook_deliveries_mentioning_them_go_and_others_stay(inboxes, inbox_server):
    first, second = inboxes
    psid = person_in_truth(inbox_server, first.facebook_id)["psid"]
    someone_else = person_in_truth(inbox_server, first.facebook_id, index=1)["psid"]
    theirs = store_delivery(first.facebook_id, psid)
    shared = store_delivery(first.facebook_id, someone_else, psid)
    others = store_delivery(first.facebook_id, someone_else)
    # The same id on another Page is another person (PSIDs are page-scoped).
    other_page = store_delivery(second.facebook_id, psid)
    contact = Contact.objects.filter(page=first, psid=psid)

    assert count_contact_data(contact).webhook_deliveries == 2
    assert erase_contact_data(contact).webhook_deliveries == 2

    remaining = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert remaining == {others.pk, other_page.pk}
    assert not WebhookDelivery.objects.filter(pk__in=[theirs.pk, shared.pk]).exists()
    assert not DeliveryMention.objects.filter(page_facebook_id=first.facebook_id, psid=psid)
