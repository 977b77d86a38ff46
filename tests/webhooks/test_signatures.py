import base64
import hashlib
import hmac
import json

import pytest

from webhooks.signatures import (
    BadSignature,
    check_hub_signature,
    make_signed_request,
    parse_signed_request,
    sign_body,
)

SECRET = "app-secret"
BODY = b'{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\\u00e9"}}]}]}'


def test_a_body_signed_with_the_app_secret_passes():
    check_hub_signature(BODY, sign_body(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=abc",
        "sha256=",
        "sha256=zz",
        sign_body(BODY, "another-secret"),
        sign_body(BODY + b" ", SECRET),
    ],
    ids=["missing", "empty", "sha1", "no-digest", "not-hex", "other-secret", "other-body"],
)
def test_anything_else_is_refused(header):
    with pytest.raises(BadSignature):
        check_hub_signature(BODY, header, SECRET)


def test_a_body_altered_after_signing_is_refused():
    header = sign_body(BODY, SECRET)
    with pytest.raises(BadSignature):
        check_hub_signature(BODY.replace(b"\\u00e9", b"e"), header, SECRET)


def test_without_an_app_secret_nothing_verifies():
    with pytest.raises(BadSignature, match="FACEBOOK_APP_SECRET"):
        check_hub_signature(BODY, sign_body(BODY, ""), "")


def test_a_signed_request_round_trips():
    signed = make_signed_request({"user_id": "4242", "issued_at": 1}, SECRET)
    assert parse_signed_request(signed, SECRET)["user_id"] == "4242"


def test_a_signed_request_as_meta_documents_it():
    # Built by hand, the way Meta's PHP sample does: the HMAC is over the payload part as sent.
    payload = base64.urlsafe_b64encode(
        json.dumps({"algorithm": "HMAC-SHA256", "user_id": "7"}).encode()
    ).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), payload, hashlib.sha256).digest())
    signed = sig.rstrip(b"=").decode() + "." + payload.decode()
    assert parse_signed_request(signed, SECRET)["user_id"] == "7"


@pytest.mark.parametrize(
    "signed",
    [
        None,
        "",
        "nodot",
        "a.b.c",
        make_signed_request({"user_id": "1"}, "another-secret"),
        "!!!." + make_signed_request({"user_id": "1"}, SECRET).split(".")[1],
    ],
    ids=["missing", "empty", "no-dot", "two-dots", "other-secret", "not-base64"],
)
def test_a_forged_signed_request_is_refused(signed):
    with pytest.raises(BadSignature):
        parse_signed_request(signed, SECRET)


def test_a_signed_request_whose_payload_was_swapped_is_refused():
    good = make_signed_request({"user_id": "1"}, SECRET)
    other = make_signed_request({"user_id": "2"}, SECRET)
    forged = good.split(".")[0] + "." + other.split(".")[1]
    with pytest.raises(BadSignature):
        parse_signed_request(forged, SECRET)


def test_a_signed_request_with_another_algorithm_is_refused():
    payload = base64.urlsafe_b64encode(json.dumps({"algorithm": "none"}).encode()).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), payload, hashlib.sha256).digest())
    with pytest.raises(BadSignature, match="HMAC-SHA256"):
        parse_signed_request(sig.rstrip(b"=").decode() + "." + payload.decode(), SECRET)
