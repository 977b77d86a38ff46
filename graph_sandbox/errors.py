"""Graph API error envelope (graph-api.md §6.1) and the errors the sandbox produces."""

from __future__ import annotations

from typing import Any

RATE_LIMIT_MESSAGES = {
    4: "Application request limit reached",
    17: "User request limit reached",
    32: "Page request limit reached",
    341: "Application limit reached",
    613: "Calls to this api have exceeded the rate limit.",
    80001: (
        "There have been too many calls to this Page account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    ),
    80006: (
        "There have been too many messenger api calls to this Page account. Wait a bit and "
        "try again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    ),
}
RATE_LIMIT_SUBCODES = {80006: 2446079}
REDUCE_DATA = "Please reduce the amount of data you're asking for, then retry your request"


class GraphError(Exception):
    """An error answered with the Graph envelope ``{"error": {...}}``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        status: int = 400,
        is_transient: bool | None = None,
        type_: str = "OAuthException",
        usage_override: dict[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.status = status
        self.is_transient = is_transient
        self.type = type_
        # forces the usage header of this response (rate limits: usage 100 %)
        self.usage_override = usage_override

    def body(self, trace_id: str) -> dict[str, Any]:
        err: dict[str, Any] = {"message": f"(#{self.code}) {self.message}", "type": self.type}
        err["code"] = self.code
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.is_transient is not None:
            err["is_transient"] = self.is_transient
        err["fbtrace_id"] = trace_id
        return {"error": err}


def token_required() -> GraphError:
    return GraphError(104, "An access token is required to request this resource.")


def invalid_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token")


def token_expired() -> GraphError:
    return GraphError(
        190,
        "Error validating access token: Session has expired. The current time is later "
        "than the expiry of the session.",
        subcode=463,
    )


def wrong_page() -> GraphError:
    return GraphError(200, "Permissions error: the access token does not belong to this Page")


def invalid_proof(missing: bool) -> GraphError:
    if missing:
        return GraphError(100, "API calls from the server require an appsecret_proof argument")
    return GraphError(100, "Invalid appsecret_proof provided in the API argument")


def no_object(object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
    )


def invalid_param(message: str) -> GraphError:
    return GraphError(100, message)


def nonexisting_field(name: str, node_type: str) -> GraphError:
    return GraphError(100, f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def invalid_cursor(which: str = "after") -> GraphError:
    return GraphError(100, f"The {which} cursor specified is invalid or has expired")


def reduce_data() -> GraphError:
    return GraphError(1, REDUCE_DATA, status=500)


def transient() -> GraphError:
    return GraphError(2, "Service temporarily unavailable", status=500, is_transient=True)


def unknown_error() -> GraphError:
    return GraphError(1, "An unknown error has occurred.", status=500)


def rate_limited(code: int, estimated_minutes: int = 0) -> GraphError:
    if code not in RATE_LIMIT_MESSAGES:
        raise ValueError(f"not a rate-limit code: {code}")
    return GraphError(
        code,
        RATE_LIMIT_MESSAGES[code],
        subcode=RATE_LIMIT_SUBCODES.get(code),
        is_transient=True,
        usage_override={
            "call_count": 100,
            "total_cputime": 100,
            "total_time": 100,
            "estimated_time_to_regain_access": estimated_minutes,
        },
    )


def policy_block() -> GraphError:
    return GraphError(
        368,
        "The action attempted has been deemed abusive or is otherwise disallowed",
        subcode=1390008,
    )


def permission(code: int = 10) -> GraphError:
    if code == 10:
        return GraphError(10, "Application does not have permission for this action")
    return GraphError(code, "Permissions error")
