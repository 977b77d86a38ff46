"""`inspect_token` against the sandbox over HTTP: debug_token with the app token says what a
token is, and each kind of token fbsync cannot use is refused with its reason, never with the
token in it; without app credentials only the old check runs, and says so."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from fbsync.redaction import RedactingFormatter
from pages.graph.tokens import (
    REQUIRED_SCOPES,
    UNVERIFIED_NOTE,
    TokenCheck,
    inspect_token,
    judge,
)
from tests.helpers import point_settings_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_logs(caplog):
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def two_pages(make_graph_sandbox, settings):
    """A two-Page sandbox the app is pointed at, with the sandbox app's credentials set."""
    server = make_graph_sandbox(conversations=3, seed=3, pages=2)
    point_settings_at(settings, server)
    app = server.sandbox.app_credentials()
    settings.FACEBOOK_APP_ID = app["app_id"]
    settings.FACEBOOK_APP_SECRET = app["app_secret"]
    return server


def assert_secret_free(check: TokenCheck, token: str, caplog) -> str:
    """No text of the check and no log line (as the app's log handler writes them: urllib3
    logs each request line at DEBUG) holds the token; returns the log output."""
    logged = "\n".join(RedactingFormatter().format(record) for record in caplog.records)
    texts = [check.refusal, check.summary, *check.notes, logged]
    assert all(token not in text for text in texts)
    return logged


def test_a_page_token_of_this_page_is_verified(two_pages, caplog):
    page_id, name, token = two_pages.pages[0]

    check = inspect_token(token, page_id)

    assert check.ok, check.refusal
    assert check.verified
    assert (check.type, check.page_id, check.page_name) == ("PAGE", page_id, name)
    assert check.app_id == two_pages.sandbox.app_credentials()["app_id"]
    assert check.expires_at is None
    assert check.expiry == "never expires"
    assert set(REQUIRED_SCOPES) <= set(check.scopes)
    assert check.missing_scopes == ()
    assert check.notes == []
    assert "Verified with Facebook: a Page token, never expires" in check.summary
    stats = two_pages.sandbox.stats()
    assert (stats["debug_token"], stats["page"]) == (1, 1)
    logged = assert_secret_free(check, token, caplog)
    assert "debug_token?input_token=[redacted]" in logged
    assert two_pages.sandbox.app_credentials()["app_secret"] not in logged


def test_a_user_token_is_refused(two_pages, caplog):
    page_id, _, token = two_pages.pages[0]
    two_pages.sandbox.set_token_info(page_id, type="USER")

    check = inspect_token(token, page_id)

    assert not check.ok
    assert check.type == "USER"
    assert "user access token, not a Page access token" in check.refusal
    assert two_pages.sandbox.stats()["page"] == 0  # refused before the token is used
    assert_secret_free(check, token, caplog)


def test_another_pages_token_is_refused(two_pages, caplog):
    page_id = two_pages.pages[0][0]
    other_id, _, other_token = two_pages.pages[1]

    check = inspect_token(other_token, page_id)

    assert not check.ok
    assert check.page_id == other_id
    assert check.refusal == (
        f"This Page access token belongs to another Page ({other_id}), not to page {page_id}."
    )
    assert_secret_free(check, other_token, caplog)


def test_a_token_debug_token_says_is_for_another_page_is_refused_though_the_page_reads(
    two_pages,
):
    """The old check passes for it (Graph lets any token read a Page's id and name)."""
    page_id, _, token = two_pages.pages[0]
    two_pages.sandbox.set_token_info(page_id, profile_id="1234567")

    check = inspect_token(token, page_id)

    assert "belongs to another Page (1234567)" in check.refusal


def test_an_expired_token_is_refused(two_pages, caplog):
    page_id, _, token = two_pages.pages[0]
    two_pages.sandbox.set_token_info(page_id, expired=True)

    check = inspect_token(token, page_id)

    assert not check.ok
    assert check.refusal.startswith("The token has expired on ")
    assert check.expires_at is not None
    assert check.expires_at < datetime.now(UTC)
    assert_secret_free(check, token, caplog)


@pytest.mark.parametrize("scope", REQUIRED_SCOPES)
def test_a_token_missing_a_required_scope_is_refused_naming_it(two_pages, scope, caplog):
    page_id, _, token = two_pages.pages[0]
    two_pages.sandbox.set_token_info(page_id, missing_scopes=[scope])

    check = inspect_token(token, page_id)

    assert not check.ok
    assert check.missing_scopes == (scope,)
    assert check.refusal.startswith(f"The token lacks the permission(s) {scope} ")
    assert_secret_free(check, token, caplog)


def test_pages_show_list_is_not_needed_and_an_expiry_date_is_told(two_pages):
    page_id, _, token = two_pages.pages[0]
    expires = 4_102_444_800  # 2100-01-01
    two_pages.sandbox.set_token_info(page_id, missing_scopes="pages_show_list", expires_at=expires)

    check = inspect_token(token, page_id)

    assert check.ok, check.refusal
    assert check.expires_at == datetime.fromtimestamp(expires, UTC)
    assert check.notes == [
        "The token expires 2100-01-01 00:00 UTC; a Page token made from a long-lived user "
        "token never expires."
    ]


def test_a_token_graph_does_not_know_is_rejected(two_pages, caplog):
    page_id = two_pages.pages[0][0]

    check = inspect_token("EAAB-bogus", page_id)

    assert check.refusal == "Facebook rejected the access token: Invalid OAuth access token."
    assert_secret_free(check, "EAAB-bogus", caplog)


def test_wrong_app_credentials_are_a_clear_refusal(two_pages, settings, caplog):
    page_id, _, token = two_pages.pages[0]
    settings.FACEBOOK_APP_SECRET = "not-the-secret"

    check = inspect_token(token, page_id)

    assert not check.ok
    assert "Facebook refused the app credentials (FACEBOOK_APP_ID, FACEBOOK_APP_SECRET)" in (
        check.refusal
    )
    logged = assert_secret_free(check, token, caplog)
    assert "not-the-secret" not in check.refusal + logged


def test_when_graph_requires_the_app_secret_the_check_sends_its_proof(make_graph_sandbox, settings):
    server = make_graph_sandbox(conversations=3, seed=3, app_secret="app-s3cret")
    point_settings_at(settings, server)
    settings.FACEBOOK_APP_ID = server.sandbox.app_credentials()["app_id"]
    settings.FACEBOOK_APP_SECRET = "app-s3cret"

    check = inspect_token(server.access_token, server.page_id)

    assert check.ok, check.refusal
    assert check.verified


@pytest.mark.parametrize("missing", ["FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"])
def test_without_app_credentials_the_old_check_runs_and_says_it_could_not_verify(
    two_pages, settings, missing
):
    page_id, name, token = two_pages.pages[0]
    setattr(settings, missing, "")
    two_pages.sandbox.set_token_info(page_id, type="USER", missing_scopes=list(REQUIRED_SCOPES))

    check = inspect_token(token, page_id)

    assert check.ok  # the old check cannot tell
    assert not check.verified
    assert (check.page_id, check.page_name, check.type) == (page_id, name, "")
    assert check.notes == [UNVERIFIED_NOTE]
    assert "could not verify the token's permissions" in UNVERIFIED_NOTE
    assert check.expiry == "expiry unknown"
    stats = two_pages.sandbox.stats()
    assert (stats["debug_token"], stats["page"]) == (0, 1)


def test_without_app_credentials_the_old_check_still_refuses_what_graph_rejects(
    two_pages, settings
):
    page_id = two_pages.pages[0][0]
    other_token = two_pages.pages[1][2]
    settings.FACEBOOK_APP_ID = ""

    bogus = inspect_token("EAAB-bogus", page_id)
    other = inspect_token(other_token, page_id)

    assert bogus.refusal.startswith("Facebook rejected the access token:")
    assert other.refusal.startswith("Facebook rejected the access token:")
    assert not bogus.verified


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "Facebook rejected the access token: it is not valid"),
        ({"is_valid": True, "type": "APP"}, "This is an app token, not a Page access token."),
        ({"is_valid": True, "type": "PAGE"}, "belongs to another Page (unknown)"),
        (
            {"is_valid": False, "error": {"code": 190, "message": "bad EAABsecret"}},
            "Facebook rejected the access token: bad [redacted]",
        ),
        ({"is_valid": True, "type": "PAGE", "profile_id": "1", "scopes": "x"}, "lacks"),
    ],
)
def test_odd_debug_token_answers_are_refused_clearly(data, reason):
    check = judge(data, "1", token="EAABsecret")

    assert reason in check.refusal
