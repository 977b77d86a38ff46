"""How Graph says no: its error codes, the exception classes the client raises for them
(classified by `error.code` / `error_subcode`, never by HTTP status or text; graph-api.md §6),
and the scrubbing that keeps tokens out of every error text."""

from __future__ import annotations

from typing import Any

from fbsync.redaction import redact_secret_params

THROTTLE_CODES = {4, 17, 32, 341, 613, 80001, 80006}
RECONNECT_CODES = {190, 102, 10}
UNKNOWN_ERROR_CODE = 1  # also Graph's "please reduce the amount of data you're asking for"
TRANSIENT_CODES = {UNKNOWN_ERROR_CODE, 2}
REDUCE_DATA_TEXT = "reduce the amount of data"
CONFIGURATION_CODES = {3, 104, 2500}
POLICY_BLOCK_CODE = 368
INVALID_PARAMETER_CODE = 100

# Pause when Meta throttles us without saying for how long (graph-api.md §5.3).
DEFAULT_PAUSE_SECONDS = {
    80006: 15 * 60,
    80001: 15 * 60,
    32: 15 * 60,
    4: 5 * 60,
    17: 5 * 60,
    341: 5 * 60,
    613: 60,
}


class GraphError(Exception):
    """An error answer from Graph (or no usable answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str = "",
        http_status: int | None = None,
        user_message: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.user_message = user_message

    def __str__(self) -> str:
        parts = [self.message]
        if self.fbtrace_id:
            parts.append(f"(fbtrace_id {self.fbtrace_id})")
        return " ".join(parts)


class TransientGraphError(GraphError):
    """Worth retrying unchanged: codes 1 and 2, `is_transient`, 5xx, timeouts, garbage bodies."""


class CallBudgetExceeded(GraphError):
    """The run made as many calls as it may (SYNC_MAX_GRAPH_CALLS_PER_RUN): never retried."""


class TooMuchDataError(TransientGraphError):
    """Code 1 with "please reduce the amount of data": asking again for as much will fail
    again, so it is not retried unchanged; the caller asks for less (pages.sync.sizes)."""


class RateLimitError(GraphError):
    """Meta (or our own throttle) says: wait `wait_seconds`, then try again. `told` is False
    when Meta gave no estimate and the wait is our default (which doubles while it repeats)."""

    def __init__(
        self, message: str, *, wait_seconds: float, told: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.wait_seconds = wait_seconds
        self.told = told


class TokenError(GraphError):
    """The token is expired, revoked or lacks permissions: the Page must be reconnected."""


class ObjectError(GraphError):
    """Code 100: this object cannot be read. Skip it, or, for a stale cursor, restart the
    walk. (200–299 come as TokenError; on a single object the engine skips those too.)"""


class PolicyBlockError(GraphError):
    """Code 368: blocked for policy reasons. Stop and alert a human; never hammer."""


class GraphConfigurationError(GraphError):
    """A bug or a setup problem on our side (bad fields syntax, app capability, signature)."""


def scrub(text: str, *secrets: str) -> str:
    """Remove tokens from text that may end up in a log, an exception or a page."""
    text = redact_secret_params(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def error_from_payload(
    payload: dict[str, Any],
    http_status: int | None,
    wait_hint_minutes: int = 0,
    secrets: tuple[str, ...] = (),
) -> GraphError:
    """Turn Graph's error envelope into the exception class the caller branches on. Graph
    sometimes echoes the token in its messages: `secrets` are removed from every text."""
    error = payload.get("error") or {}
    code = as_int(error.get("code"))
    subcode = as_int(error.get("error_subcode"))
    message = scrub(str(error.get("message") or f"Graph error {code}"), *secrets)
    kwargs: dict[str, Any] = {
        "code": code,
        "subcode": subcode,
        "fbtrace_id": str(error.get("fbtrace_id") or ""),
        "http_status": http_status,
        "user_message": scrub(str(error.get("error_user_msg") or ""), *secrets),
    }
    if code in THROTTLE_CODES:
        told = wait_hint_minutes > 0
        wait = wait_hint_minutes * 60 if told else DEFAULT_PAUSE_SECONDS[code]
        return RateLimitError(message, wait_seconds=float(wait), told=told, **kwargs)
    if code == UNKNOWN_ERROR_CODE and REDUCE_DATA_TEXT in message.lower():
        return TooMuchDataError(message, **kwargs)
    if error.get("is_transient") is True or code in TRANSIENT_CODES:
        return TransientGraphError(message, **kwargs)
    if code in RECONNECT_CODES or (code is not None and 200 <= code <= 299):
        return TokenError(message, **kwargs)
    if code == INVALID_PARAMETER_CODE:
        return ObjectError(message, **kwargs)
    if code == POLICY_BLOCK_CODE:
        return PolicyBlockError(message, **kwargs)
    if code in CONFIGURATION_CODES:
        return GraphConfigurationError(message, **kwargs)
    if http_status is not None and http_status >= 500:
        return TransientGraphError(message, **kwargs)
    return GraphError(message, **kwargs)


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
