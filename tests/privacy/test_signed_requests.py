"""Both callbacks refuse anything Meta did not sign for this app, before reading or storing
anything: 403, and the database exactly as it was."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from pages.models import FacebookPage
from privacy.models import DeletionRequest
from tests.privacy.privacy_helpers import (
    DEAUTHORIZE_URL,
    DELETION_URL,
    hand_made_inbox,
    rows,
    signed,
)

USER_ID = "1234567890123456"
CALLBACKS = pytest.mark.parametrize(
    "url", [DEAUTHORIZE_URL, DELETION_URL], ids=["deauth", "deletion"]
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _swapped() -> str:
    """The signature of one genuine request on the payload of another (another user)."""
    signature, _ = signed("1111").split(".")
    _, payload = signed(USER_ID).split(".")
    return f"{signature}.{payload}"


FORGERIES = {
    "wrong-secret": lambda: signed(USER_ID, secret="not-the-app-secret"),
    "swapped-payload": _swapped,
    "empty": lambda: "",
    "no-dot": lambda: signed(USER_ID).replace(".", ""),
    "not-base64": lambda: "%%%not*base64.@@@",
    "signature-not-base64": lambda: "***." + signed(USER_ID).split(".")[1],
    "not-hmac-sha256": lambda: signed(USER_ID, algorithm="HMAC-SHA1"),
    "unsigned-json": lambda: _b64(
        json.dumps({"algorithm": "HMAC-SHA256", "user_id": USER_ID}).encode()
    ),
}


@pytest.fixture
def inbox(db):
    page, other = hand_made_inbox(user_id=USER_ID)
    return page, other, rows()


def assert_untouched(inbox) -> None:
    page, other, before = inbox
    assert rows() == before
    assert DeletionRequest.objects.count() == 0
    for stored in (page, other):
        fresh = FacebookPage.objects.get(pk=stored.pk)
        assert fresh.access_token == stored.access_token
        assert fresh.facebook_user_id == stored.facebook_user_id
        assert fresh.webhook_fields == stored.webhook_fields


@CALLBACKS
@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_signed_request_is_refused_and_changes_nothing(client, inbox, url, forgery):
    response = client.post(url, {"signed_request": forgery()})
    assert response.status_code == 403
    assert response.json() == {"error": "The signed_request is not valid."}
    assert_untouched(inbox)


@CALLBACKS
def test_a_request_without_signed_request_is_refused(client, inbox, url):
    response = client.post(url, {"user_id": USER_ID})
    assert response.status_code == 403
    assert_untouched(inbox)


@CALLBACKS
def test_without_an_app_secret_nothing_is_accepted(client, inbox, url, settings):
    settings.FACEBOOK_APP_SECRET = ""
    response = client.post(url, {"signed_request": signed(USER_ID, secret="")})
    assert response.status_code == 403
    assert_untouched(inbox)


@CALLBACKS
@pytest.mark.parametrize("user_id", [None, "", "12ab", 12.5, ["1"], "1" * 65], ids=repr)
def test_a_genuine_request_without_a_usable_user_id_is_a_clear_400(client, inbox, url, user_id):
    response = client.post(url, {"signed_request": signed(user_id)})
    assert response.status_code == 400
    assert response.json() == {"error": "The signed request names no Facebook user id."}
    assert_untouched(inbox)


@CALLBACKS
def test_only_post_is_allowed(client, inbox, url):
    assert client.get(url, {"signed_request": signed(USER_ID)}).status_code == 405
    assert client.put(url).status_code == 405
    assert_untouched(inbox)


@CALLBACKS
def test_the_callbacks_need_no_csrf_token_but_a_signature(inbox, url):
    """Meta's servers have no session nor CSRF cookie: the signature is what is checked."""
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url, {"signed_request": signed(USER_ID)}).status_code == 200
    assert strict.post(url, {"signed_request": signed(USER_ID, secret="x")}).status_code == 403


@CALLBACKS
def test_refusals_log_no_payload(client, inbox, url, caplog):
    client.post(url, {"signed_request": signed(USER_ID, secret="other")})
    client.post(url, {"signed_request": signed("12ab")})
    assert "refused" in caplog.text
    assert USER_ID not in caplog.text
    assert "12ab" not in caplog.text
