"""Classifying Graph's errors by code and subcode, never by HTTP status or text
(graph-api.md §5.3, §6.2), and scrubbing secrets from every error text."""

from __future__ import annotations

import pytest

from pages.graph.errors import (
    DEFAULT_PAUSE_SECONDS,
    GraphConfigurationError,
    GraphError,
    ObjectError,
    PolicyBlockError,
    RateLimitError,
    TokenError,
    TransientGraphError,
    error_from_payload,
    scrub,
)
from tests.pages.graph.graph_codes import THROTTLE_DEFAULTS


def payload(code, subcode=None, message="(#0) Something", **extra) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Ab12"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


# -- error_from_payload: classification (graph-api.md §5.3, §6.2) ------------------------------

STATUSES = [None, 200, 400, 403, 429, 500, 503]
MESSAGES = [
    "(#2) Service temporarily unavailable",
    "Error validating access token",
    "Calls to this api have exceeded the rate limit.",
]

CLASSIFICATION = [
    (190, None, TokenError),
    (190, 458, TokenError),
    (190, 459, TokenError),
    (190, 460, TokenError),
    (190, 463, TokenError),
    (190, 464, TokenError),
    (190, 467, TokenError),
    (190, 492, TokenError),
    (102, None, TokenError),
    (10, None, TokenError),
    (200, None, TokenError),
    (230, None, TokenError),
    (299, None, TokenError),
    (3, None, GraphConfigurationError),
    (100, None, ObjectError),
    (100, 33, ObjectError),
    (1, None, TransientGraphError),
    (2, None, TransientGraphError),
    (368, 1390008, PolicyBlockError),
    (104, None, GraphConfigurationError),
    (2500, None, GraphConfigurationError),
]


@pytest.mark.parametrize(("code", "subcode", "expected"), CLASSIFICATION)
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("message", MESSAGES)
def test_error_from_payload_classifies_by_code_not_status_or_text(
    code, subcode, expected, status, message
):
    error = error_from_payload(payload(code, subcode, message), status)

    assert type(error) is expected
    assert (error.code, error.subcode, error.http_status) == (code, subcode, status)
    assert error.message == message
    assert error.fbtrace_id == "Ab12"


@pytest.mark.parametrize(("code", "default"), sorted(THROTTLE_DEFAULTS.items()))
@pytest.mark.parametrize("status", STATUSES)
def test_error_from_payload_throttle_codes_use_documented_default_pause(code, default, status):
    error = error_from_payload(payload(code, message="(#4) Application request limit"), status)

    assert type(error) is RateLimitError
    assert error.code == code
    assert error.wait_seconds == default


def test_error_from_payload_throttle_defaults_cover_every_throttle_code():
    assert {code: int(s) for code, s in THROTTLE_DEFAULTS.items()} == DEFAULT_PAUSE_SECONDS


@pytest.mark.parametrize("code", sorted(THROTTLE_DEFAULTS))
def test_error_from_payload_throttle_uses_regain_minutes_hint(code):
    error = error_from_payload(payload(code), 400, wait_hint_minutes=7)

    assert type(error) is RateLimitError
    assert error.wait_seconds == 420.0


def test_error_from_payload_throttle_wins_over_is_transient():
    # the sandbox (like Graph) marks throttling errors is_transient: they must pause, not retry
    error = error_from_payload(payload(80006, 2446079, is_transient=True), 400)

    assert type(error) is RateLimitError
    assert (error.code, error.subcode, error.wait_seconds) == (80006, 2446079, 900.0)


@pytest.mark.parametrize("status", STATUSES)
def test_error_from_payload_is_transient_true_is_retryable(status):
    error = error_from_payload(payload(9999, is_transient=True), status)

    assert type(error) is TransientGraphError
    assert error.code == 9999


def test_error_from_payload_is_transient_false_does_not_override_code():
    assert type(error_from_payload(payload(2, is_transient=False), 500)) is TransientGraphError
    assert type(error_from_payload(payload(190, is_transient=False), 400)) is TokenError


@pytest.mark.parametrize("code", [199, 300])
def test_error_from_payload_permission_range_is_200_to_299(code):
    assert type(error_from_payload(payload(code), 400)) is GraphError


def test_error_from_payload_unknown_code_is_transient_only_on_5xx():
    assert type(error_from_payload(payload(9999), 400)) is GraphError
    assert type(error_from_payload(payload(9999), 502)) is TransientGraphError


def test_error_from_payload_code_as_string_is_read():
    error = error_from_payload(payload("190", "463"), 400)

    assert type(error) is TokenError
    assert (error.code, error.subcode) == (190, 463)


def test_error_from_payload_keeps_envelope_fields():
    error = error_from_payload(
        payload(368, 1390008, "(#368) Deemed abusive", error_user_msg="You are blocked"), 403
    )

    assert error.user_message == "You are blocked"
    assert str(error) == "(#368) Deemed abusive (fbtrace_id Ab12)"


def test_error_from_payload_without_message_names_the_code():
    error = error_from_payload({"error": {"code": 190}}, 400)

    assert str(error) == "Graph error 190"
    assert error.fbtrace_id == ""


# -- scrub -------------------------------------------------------------------------------------


def test_scrub_removes_token_and_proof_parameters():
    text = (
        "GET https://graph.facebook.com/v26.0/me?fields=id&access_token=EAAB1x-_.%2F"
        "&appsecret_proof=9f86d081884c7d65 and input_token=EAAC99 'access_token=EAAD7'"
    )

    assert scrub(text) == (
        "GET https://graph.facebook.com/v26.0/me?fields=id&access_token=[redacted]"
        "&appsecret_proof=[redacted] and input_token=[redacted] 'access_token=[redacted]'"
    )


def test_scrub_removes_given_secrets_anywhere_and_ignores_empty_ones():
    assert scrub("Malformed access token EAABsecret!", "EAABsecret", "") == (
        "Malformed access token [redacted]!"
    )
    assert scrub("nothing to hide", "") == "nothing to hide"
