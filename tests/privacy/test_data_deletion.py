"""Meta's data-deletion callback: everything about the user goes, in one transaction, and the
answer points to a public status page that names no one."""

from __future__ import annotations

import re

import pytest
from django.db import DatabaseError
from django.db.models import QuerySet

from conversations.models import Contact
from pages.models import FacebookPage
from privacy.models import DeletionRequest
from tests.privacy.privacy_helpers import (
    DELETION_URL,
    hand_made_inbox,
    person_in_truth,
    rows,
    signed,
    store_delivery,
    without_person,
)
from webhooks.models import WebhookDelivery

USER_ID = "1234567890123456"


def request_deletion(client, user_id: str) -> dict:
    response = client.post(DELETION_URL, {"signed_request": signed(user_id)})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_the_answer_is_a_status_url_and_a_confirmation_code(client, db):
    answer = request_deletion(client, USER_ID)
    assert set(answer) == {"url", "confirmation_code"}
    code = answer["confirmation_code"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", code)
    assert answer["url"] == f"http://testserver/privacy/deletion/{code}/"
    deletion = DeletionRequest.objects.get(confirmation_code=code)
    assert deletion.status == DeletionRequest.Status.COMPLETED
    assert deletion.source == DeletionRequest.Source.FACEBOOK
    assert deletion.completed_at is not None


def test_each_request_gets_its_own_unguessable_code(client, db):
    codes = {request_deletion(client, USER_ID)["confirmation_code"] for _ in range(5)}
    assert len(codes) == 5
    assert DeletionRequest.objects.count() == 5


def test_the_pages_the_user_connected_lose_token_and_user_id_and_keep_data(client, inboxes):
    first, second = inboxes
    FacebookPage.objects.filter(pk=second.pk).update(facebook_user_id="777")
    before = rows()

    answer = request_deletion(client, first.facebook_user_id)

    first.refresh_from_db()
    second.refresh_from_db()
    assert not first.is_connected
    assert first.facebook_user_id == ""
    assert second.is_connected
    assert second.facebook_user_id == "777"
    # The Page's conversations are the Page's data, not the admin's: kept.
    assert rows() == before
    deletion = DeletionRequest.objects.get(confirmation_code=answer["confirmation_code"])
    assert deletion.pages_disconnected == 1
    assert (deletion.contacts, deletion.conversations, deletion.messages) == (0, 0, 0)


def test_a_contact_whose_psid_is_the_user_id_is_erased_with_all_their_rows(
    client, inboxes, inbox_server
):
    """In the sandbox's single id space a PSID can be the user id Meta sends."""
    person = person_in_truth(inbox_server, inboxes[1].facebook_id, index=2)
    before = rows()

    answer = request_deletion(client, person["psid"])

    assert rows() == without_person(before, person)
    deletion = DeletionRequest.objects.get(confirmation_code=answer["confirmation_code"])
    assert deletion.contacts == 1
    assert deletion.conversations == 1
    assert deletion.messages == len(person["messages"])
    assert deletion.events == len(before["events"]) - len(rows()["events"])
    assert deletion.pages_disconnected == 0
    # Both Pages stay connected: the user connected neither.
    assert FacebookPage.objects.exclude(encrypted_access_token="").count() == 2


def test_raw_deliveries_naming_the_id_go_even_without_a_contact(client, inboxes, inbox_server):
    person = person_in_truth(inbox_server, inboxes[0].facebook_id)
    with_contact = store_delivery(inboxes[0].facebook_id, person["psid"])
    # A Page not connected here, where no contact was ever stored.
    stray = store_delivery("30000000000000003", person["psid"])
    kept = store_delivery(inboxes[0].facebook_id, "5555")

    answer = request_deletion(client, person["psid"])

    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not WebhookDelivery.objects.filter(pk__in=[with_contact.pk, stray.pk]).exists()
    deletion = DeletionRequest.objects.get(confirmation_code=answer["confirmation_code"])
    assert deletion.webhook_deliveries == 2
    assert "2 stored webhook deliveries deleted" in client.get(answer["url"]).content.decode()


def test_a_repeated_request_finds_nothing_more(client, inboxes, inbox_server):
    person = person_in_truth(inbox_server, inboxes[0].facebook_id)
    request_deletion(client, person["psid"])
    after_first = rows()
    answer = request_deletion(client, person["psid"])
    assert rows() == after_first
    deletion = DeletionRequest.objects.get(confirmation_code=answer["confirmation_code"])
    assert (deletion.contacts, deletion.messages) == (0, 0)


def test_a_failure_midway_changes_nothing_and_records_nothing(client, db, monkeypatch, caplog):
    page, _ = hand_made_inbox(user_id=USER_ID)
    delivery = store_delivery(page.facebook_id, USER_ID)
    before = rows()
    real_delete = QuerySet.delete

    def delete_failing_on_contacts(queryset):
        if queryset.model is Contact:
            raise DatabaseError("simulated failure")
        return real_delete(queryset)

    monkeypatch.setattr(QuerySet, "delete", delete_failing_on_contacts)
    response = client.post(DELETION_URL, {"signed_request": signed(USER_ID)})
    assert "Data-deletion callback failed (DatabaseError)" in caplog.text
    assert USER_ID not in caplog.text

    assert response.status_code == 500
    assert response.json() == {
        "error": "The request could not be carried out; nothing was changed."
    }
    assert rows() == before
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    assert DeletionRequest.objects.count() == 0
    page.refresh_from_db()
    # The Page's disconnection was rolled back with the rest.
    assert page.is_connected
    assert page.facebook_user_id == USER_ID


def test_the_hand_made_person_and_page_admin_go_together(client, db):
    page, other = hand_made_inbox(user_id=USER_ID)
    before = rows()
    answer = request_deletion(client, USER_ID)
    after = rows()
    assert before["contacts"] - after["contacts"] == {(page.facebook_id, USER_ID)}
    assert before["messages"] - after["messages"] == {(page.facebook_id, f"m_{USER_ID}")}
    assert len(after["contacts"]) == 2
    deletion = DeletionRequest.objects.get(confirmation_code=answer["confirmation_code"])
    assert (deletion.pages_disconnected, deletion.contacts, deletion.events) == (1, 1, 1)


def test_the_log_names_no_user(client, db, caplog):
    caplog.set_level("INFO", logger="privacy")
    hand_made_inbox(user_id=USER_ID)
    answer = request_deletion(client, USER_ID)
    assert "completed" in caplog.text
    assert USER_ID not in caplog.text
    assert answer["confirmation_code"] not in caplog.text


# -- the status page -------------------------------------------------------------------------


def test_the_status_page_needs_no_login_and_names_no_one(client, db):
    hand_made_inbox(user_id=USER_ID)
    answer = request_deletion(client, USER_ID)

    response = client.get(answer["url"])

    assert response.status_code == 200
    text = response.content.decode()
    assert "Completed" in text
    assert "1 conversation, 1 message deleted" in text
    assert "1 Facebook Page disconnected" in text
    assert USER_ID not in text
    assert "Person" not in text
    assert "Bike Shop" not in text
    assert 'name="robots" content="noindex"' in text


def test_a_received_request_says_so(client, db):
    deletion = DeletionRequest.objects.create(source=DeletionRequest.Source.FACEBOOK)
    text = client.get(f"/privacy/deletion/{deletion.confirmation_code}/").content.decode()
    assert "Received" in text
    assert "not completed yet" in text


@pytest.mark.parametrize("code", ["nope", "A" * 32, "x" * 200])
def test_an_unknown_code_is_the_404_page(client, db, code):
    DeletionRequest.objects.create(source=DeletionRequest.Source.FACEBOOK)
    response = client.get(f"/privacy/deletion/{code}/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_the_status_page_is_read_only(client, db):
    deletion = DeletionRequest.objects.create(source=DeletionRequest.Source.FACEBOOK)
    response = client.post(f"/privacy/deletion/{deletion.confirmation_code}/")
    assert response.status_code == 405
