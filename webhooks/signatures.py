"""Telling Meta's callbacks from forgeries, before anything in them is parsed or stored.

Both schemes are HMAC-SHA256 keyed with the app secret (graph-api.md §8.3, §9):
- a webhook delivery carries `X-Hub-Signature-256: sha256=<hex>` over the raw body bytes;
- deauthorize and data-deletion callbacks post `signed_request=<sig>.<payload>`, both parts
  base64url without padding, the signature over the payload part *as transmitted*.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

SIGNATURE_PREFIX = "sha256="


class BadSignature(Exception):
    """The callback is not Meta's (or not for this app): refuse it, store nothing. The
    message is safe to log: it never holds the secret or the payload."""


def _digest(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def check_hub_signature(body: bytes, header: str | None, secret: str) -> None:
    """Raise BadSignature unless `header` is the app's signature of exactly `body`."""
    if not secret:
        raise BadSignature("FACEBOOK_APP_SECRET is not set: no delivery can be verified")
    if not header or not header.startswith(SIGNATURE_PREFIX):
        raise BadSignature("no X-Hub-Signature-256 header")
    try:
        given = bytes.fromhex(header[len(SIGNATURE_PREFIX) :])
    except ValueError:
        raise BadSignature("the signature is not hexadecimal") from None
    if not hmac.compare_digest(given, _digest(secret, body)):
        raise BadSignature("the signature does not match the body")


def sign_body(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta sends with `body` (for tests and the sandbox's
    counterpart, which computes it on its own)."""
    return SIGNATURE_PREFIX + _digest(secret, body).hex()


def _b64url_decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise BadSignature("the signed request is not base64url") from None


def parse_signed_request(signed_request: str | None, secret: str) -> dict:
    """The payload of a verified `signed_request`; BadSignature for anything else."""
    if not secret:
        raise BadSignature("FACEBOOK_APP_SECRET is not set: no signed request can be verified")
    if not signed_request or signed_request.count(".") != 1:
        raise BadSignature("not a signed request")
    signature_part, payload_part = signed_request.split(".")
    signature = _b64url_decode(signature_part)
    if not hmac.compare_digest(signature, _digest(secret, payload_part.encode("ascii", "replace"))):
        raise BadSignature("the signed request's signature does not match")
    try:
        payload = json.loads(_b64url_decode(payload_part))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadSignature("the signed request's payload is not JSON") from None
    if not isinstance(payload, dict) or str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise BadSignature("the signed request does not say HMAC-SHA256")
    return payload


def make_signed_request(payload: dict, secret: str) -> str:
    """A `signed_request` as Meta builds it (for tests and the sandbox's counterpart)."""

    def encode(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload_part = encode(json.dumps({"algorithm": "HMAC-SHA256", **payload}).encode())
    return encode(_digest(secret, payload_part.encode())) + "." + payload_part
