"""The admin's "Delete all data of this person" (on the Contact list and page) and the
read-only record of deletions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.db import DatabaseError
from django.db.models import QuerySet
from django.urls import reverse

from conversations.models import Contact
from privacy.models import DeletionRequest
from tests.privacy.privacy_helpers import person_in_truth, rows, store_delivery, without_person

CHANGELIST = reverse("admin:conversations_contact_changelist")
ACTION = "delete_all_data_of_person"


def ask(client, *contacts: Contact, confirmed: bool = False, follow: bool = False):
    data = {"action": ACTION, "_selected_action": [contact.pk for contact in contacts]}
    if confirmed:
        data["confirmed"] = "yes"
    return client.post(CHANGELIST, data, follow=follow)


def staff_with(*codenames: str) -> User:
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def person(inboxes, inbox_server) -> dict:
    found = person_in_truth(inbox_server, inboxes[0].facebook_id, index=1)
    found["contact"] = Contact.objects.get(page=inboxes[0], psid=found["psid"])
    return found


def test_the_confirmation_page_shows_what_will_go_and_deletes_nothing(admin_client, person):
    store_delivery(person["contact"].page.facebook_id, person["psid"])
    before = rows()
    response = ask(admin_client, person["contact"])

    assert response.status_code == 200
    html = response.content.decode()
    assert "Delete all data of this person" in html
    assert f"<bdi>{person['contact'].display_name}</bdi>" in html
    assert "1 conversation</li>" in html
    assert (
        f"{len(person['messages'])} message{'s' if len(person['messages']) > 1 else ''}</li>"
        in (html)
    )
    assert "1 stored webhook delivery</li>" in html
    assert 'name="confirmed" value="yes"' in html
    assert rows() == before
    assert DeletionRequest.objects.count() == 0


def test_confirming_erases_exactly_that_person_and_records_it(admin_client, person):
    before = rows()
    response = ask(admin_client, person["contact"], confirmed=True, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert rows() == without_person(before, person)
    deletion = DeletionRequest.objects.get()
    assert deletion.source == DeletionRequest.Source.ADMIN
    assert deletion.status == DeletionRequest.Status.COMPLETED
    assert (deletion.contacts, deletion.conversations) == (1, 1)
    assert deletion.messages == len(person["messages"])
    html = response.content.decode()
    assert f"Deleted 1 contact(s) with 1 conversation(s), {deletion.messages} message(s)" in html
    assert reverse("admin:privacy_deletionrequest_change", args=[deletion.pk]) in html


def test_several_people_at_once(admin_client, inboxes):
    chosen = list(Contact.objects.filter(page=inboxes[1])[:3])
    others = Contact.objects.count() - 3
    ask(admin_client, *chosen, confirmed=True)
    assert Contact.objects.count() == others
    assert DeletionRequest.objects.get().contacts == 3


def test_a_failure_deletes_nothing_and_says_so(admin_client, person, monkeypatch):
    before = rows()
    real_delete = QuerySet.delete

    def delete_failing_on_contacts(queryset):
        if queryset.model is Contact:
            raise DatabaseError("simulated failure")
        return real_delete(queryset)

    monkeypatch.setattr(QuerySet, "delete", delete_failing_on_contacts)
    response = ask(admin_client, person["contact"], confirmed=True, follow=True)

    assert response.status_code == 200
    assert "The deletion failed; nothing was deleted." in response.content.decode()
    assert rows() == before
    assert DeletionRequest.objects.count() == 0


def test_the_contact_page_offers_it(admin_client, person):
    contact = person["contact"]
    html = admin_client.get(
        reverse("admin:conversations_contact_change", args=[contact.pk])
    ).content.decode()
    assert f'action="{CHANGELIST}"' in html
    assert f'name="action" value="{ACTION}"' in html
    assert f'name="_selected_action" value="{contact.pk}"' in html
    # Its button leads to the confirmation page, as from the list.
    assert "What will be deleted" in ask(admin_client, contact).content.decode()


def test_staff_with_delete_permission_may_use_it(client, person):
    client.force_login(staff_with("view_contact", "change_contact", "delete_contact"))
    ask(client, person["contact"], confirmed=True)
    assert not Contact.objects.filter(pk=person["contact"].pk).exists()


def test_staff_without_delete_permission_get_neither_the_action_nor_the_button(client, person):
    client.force_login(staff_with("view_contact", "change_contact"))
    contact = person["contact"]
    page = client.get(reverse("admin:conversations_contact_change", args=[contact.pk]))
    assert ACTION not in page.content.decode()
    before = rows()
    # Without any action they may use, the list has no action form and ignores the request.
    response = ask(client, contact, confirmed=True, follow=True)
    assert response.status_code == 200
    assert ACTION not in response.content.decode()
    assert rows() == before
    assert DeletionRequest.objects.count() == 0


def test_a_user_who_is_not_staff_cannot_use_the_admin(client, person):
    client.force_login(User.objects.create_user("visitor", password="pw"))
    before = rows()
    response = ask(client, person["contact"], confirmed=True)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert rows() == before
    assert DeletionRequest.objects.count() == 0


def test_anonymous_visitors_cannot_either(client, person):
    before = rows()
    assert ask(client, person["contact"], confirmed=True).status_code == 302
    assert rows() == before


# -- the record of deletions -----------------------------------------------------------------


def test_deletion_records_are_read_only(admin_client, db):
    deletion = DeletionRequest.objects.create(
        source=DeletionRequest.Source.FACEBOOK, contacts=1, messages=4
    )
    listing = admin_client.get(reverse("admin:privacy_deletionrequest_changelist"))
    assert listing.status_code == 200
    change_url = reverse("admin:privacy_deletionrequest_change", args=[deletion.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert 'name="messages"' not in page.content.decode()  # shown, not a form field
    assert admin_client.get(reverse("admin:privacy_deletionrequest_add")).status_code == 403
    delete_url = reverse("admin:privacy_deletionrequest_delete", args=[deletion.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    admin_client.post(change_url, {"messages": 0})
    deletion.refresh_from_db()
    assert deletion.messages == 4
    assert DeletionRequest.objects.count() == 1
