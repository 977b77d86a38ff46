"""Paging positions: keyset cursors (``after``/``before``) and the ``__paging_token`` of the
cursor-less paging style (graph_sandbox.real_graph), both opaque to clients.

A position is a key: ``(updated_ts, conversation id)`` for conversation lists ("c"), a message
index for a thread ("m", bound to its conversation). Every cursor carries the time it was issued
so ``cursor_ttl_seconds`` can expire it.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:
    from .faults import FaultConfig

CURSOR_PREFIX = "QVFI"
TOKEN_PREFIX = "enc_"
TOP = 2**62  # cursor sentinel: "before everything" (used by the empty_page fault)


def encode_cursor(kind: str, key: Any, conv_id: str | None = None) -> str:
    payload = {"t": kind, "k": key, "i": round(time.time(), 3)}
    if conv_id is not None:
        payload["c"] = conv_id
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, kind: str, which: str, config: FaultConfig, conv_id: str | None = None
) -> Any:
    try:
        if not cursor.startswith(CURSOR_PREFIX):
            raise ValueError
        raw = cursor[len(CURSOR_PREFIX) :]
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(payload, dict) or payload.get("t") != kind:
            raise ValueError
        if conv_id is not None and payload.get("c") != conv_id:
            raise ValueError
        key, issued = payload["k"], float(payload["i"])
        if kind == "c":
            if not (isinstance(key, list) and len(key) == 2):
                raise ValueError
            key = (int(key[0]), str(key[1]))
        else:
            key = int(key)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise errors.invalid_cursor(which) from None
    ttl = config.cursor_ttl_seconds
    if ttl is not None and time.time() - issued > ttl:
        raise errors.invalid_cursor(which)
    return key


def encode_paging_token(kind: str, key: Any, conv_id: str | None = None) -> str:
    """The ``__paging_token`` of a cursor-less ``next`` link (``enc_…`` as Graph writes it)."""
    return TOKEN_PREFIX + encode_cursor(kind, key, conv_id)[len(CURSOR_PREFIX) :]


def decode_paging_token(
    token: str, kind: str, config: FaultConfig, conv_id: str | None = None
) -> Any:
    if not token.startswith(TOKEN_PREFIX):
        raise errors.invalid_param("The paging token specified is invalid or has expired")
    cursor = CURSOR_PREFIX + token[len(TOKEN_PREFIX) :]
    try:
        return decode_cursor(cursor, kind, "after", config, conv_id)
    except errors.GraphError:
        raise errors.invalid_param("The paging token specified is invalid or has expired") from None
