"""The callback: the verification handshake, signatures checked before anything is stored,
raw storage once per body, bad JSON kept and failed, size bound."""

import logging

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from tests.webhooks.bodies import PAGE_ID, PSID, SECRET, URL, body, message, post
from webhooks.models import DeliveryMention, WebhookDelivery
from webhooks.signatures import sign_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.FACEBOOK_APP_SECRET = SECRET
    settings.FACEBOOK_WEBHOOK_VERIFY_TOKEN = "verify-me"


def handshake(client, **params):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "verify-me",
        "hub.challenge": "1158201444",
    }
    return client.get(URL, {**query, **params})


def test_the_handshake_echoes_the_challenge_as_plain_text(client):
    response = handshake(client)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params", [{"hub.verify_token": "wrong"}, {"hub.mode": "unsubscribe"}, {"hub.verify_token": ""}]
)
def test_a_handshake_with_a_wrong_token_or_mode_is_refused(client, params):
    response = handshake(client, **params)
    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_an_unset_verify_token_verifies_nothing(client, settings):
    settings.FACEBOOK_WEBHOOK_VERIFY_TOKEN = ""
    assert handshake(client, **{"hub.verify_token": ""}).status_code == 403


def test_a_signed_delivery_is_stored_raw_answered_and_queued(django_capture_on_commit_callbacks):
    raw = body(message("m_1"))
    # Meta's servers send no CSRF token: the callback must not need one.
    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(enforce_csrf_checks=True), raw)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == raw  # the bytes exactly as received, "\/" and all
    assert delivery.status == WebhookDelivery.Status.RECEIVED
    assert list(DeliveryMention.objects.values_list("page_facebook_id", "psid")) == [
        (PAGE_ID, PSID)
    ]
    # Queued on commit, ahead of syncs.
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [delivery.pk]
    assert task.priority > 0


def test_a_retry_of_the_same_body_is_stored_once(client, django_capture_on_commit_callbacks):
    raw = body(message("m_1"))
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, raw).status_code == 200
        assert post(client, raw).status_code == 200
    assert WebhookDelivery.objects.count() == 1
    assert DBTaskResult.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no header at all
        "sha256=" + "0" * 64,
        "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256=not-hex",
    ],
)
def test_a_missing_or_wrong_signature_is_refused_and_stores_nothing(client, caplog, signature):
    raw = body(message("m_1", "A secret message"))
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    with caplog.at_level(logging.WARNING, logger="webhooks.views"):
        response = client.post(URL, data=raw, content_type="application/json", **headers)
    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert "Refused a webhook delivery" in caplog.text
    assert "A secret message" not in caplog.text


def test_a_body_altered_after_signing_is_refused(client):
    raw = body(message("m_1", "Pay 10 EUR"))
    signature = sign_body(raw, SECRET)
    altered = raw.replace(b"10 EUR", b"99 EUR")
    assert post(client, altered, signature=signature).status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_a_body_signed_with_another_secret_is_refused(client):
    assert post(client, body(message("m_1")), secret="someone-else").status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_without_an_app_secret_no_delivery_is_accepted(client, settings):
    raw = body(message("m_1"))
    signature = sign_body(raw, "")
    settings.FACEBOOK_APP_SECRET = ""
    assert post(client, raw, signature=signature).status_code == 403
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b""])
def test_a_signed_body_that_is_no_json_object_is_kept_and_marked_failed(client, raw):
    response = post(client, raw)
    assert response.status_code == 200  # sending it again would not make it JSON
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == raw
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "JSON" in delivery.error
    assert delivery.processed_at is not None
    assert DBTaskResult.objects.count() == 0


def test_a_body_over_the_limit_is_refused_unread(client, settings):
    settings.FACEBOOK_WEBHOOK_MAX_BODY_BYTES = 300
    raw = body(message("m_1", "x" * 300))
    assert post(client, raw).status_code == 413
    assert WebhookDelivery.objects.count() == 0
    small = body(message("m_1", "ok"))
    assert len(small) <= 300
    assert post(client, small).status_code == 200


def test_other_methods_are_not_allowed(client):
    assert client.put(URL, data=b"{}").status_code == 405
    assert client.delete(URL).status_code == 405


def test_the_people_a_delivery_mentions_are_listed_once_each(client):
    items = [
        message("m_1", psid="111"),
        message("m_2", psid="111"),
        message("m_3", psid="222"),
    ]
    post(client, body(*items))
    assert sorted(DeliveryMention.objects.values_list("psid", flat=True)) == ["111", "222"]
