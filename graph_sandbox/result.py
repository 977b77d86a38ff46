"""What one sandbox call produces (a plain request or a batch item), and the proof check."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any


def trace_id() -> str:
    return secrets.token_urlsafe(8)


def appsecret_proof(app_secret: str, access_token: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


@dataclass
class Result:
    status: int = 200
    body: Any = None
    trace_id: str = field(default_factory=trace_id)
    usage: dict[str, Any] | None = None  # the X-Business-Use-Case-Usage value
    transport: str | None = None  # a transport fault the HTTP layer must apply
    null: bool = False  # batch item that "timed out"
