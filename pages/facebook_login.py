"""Facebook Login for Pages, "Connect with Facebook" (graph-api.md §2, issue 9).

Meta's OAuth code flow, in three steps:

1. `begin` makes a random `state`, keeps it in the session for a few minutes with the exact
   redirect URI, and returns the dialog's URL (`{dialog}/{v}/dialog/oauth` with the scopes, or a
   Login for Business `config_id`).
2. `complete` takes Facebook's redirect back. It checks `state` first (once, in constant time),
   then the person's answer; it exchanges the code for a user token and that for a long-lived
   one, reads who the person is (`/me`: an app-scoped id), what they granted
   (`/me/permissions`) and their Pages (`/me/accounts` with `tasks`, every page of the list).
   The picker's Pages are kept in the session, each Page token encrypted; the user token is
   dropped at once.
3. `connect_chosen` (pages/login_connect.py) connects the Pages the person picked.

Every error is a `LoginError` whose message is safe to show: no token, code or secret in it.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from pages import crypto
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, scrub
from pages.graph.paging import next_position, position_params
from pages.graph.tokens import app_credentials_set

# What reading a Page's conversations needs, plus listing the Pages (graph-api.md §2.1, §13.8),
# and why, for the person who declined one.
SCOPES = {
    "pages_show_list": "to list the Pages you manage",
    "pages_messaging": "to read the Pages' Messenger conversations",
    "pages_read_engagement": "to read the Pages' names and content",
    "pages_manage_metadata": "to subscribe to the Pages' webhooks (new messages within a second)",
}
MESSAGING_TASK = "MESSAGING"
STATE_KEY = "facebook_login_state"
PICKER_KEY = "facebook_login_pages"
# The dialog takes a minute; a state older than this is refused (and each is used once).
STATE_LIFETIME_SECONDS = 10 * 60
# The picker's Pages (their tokens encrypted) stay in the session at most this long.
PICKER_LIFETIME_SECONDS = 30 * 60
ACCOUNT_FIELDS = "id,name,access_token,tasks,picture"
ACCOUNTS_PER_CALL = 100
MAX_ACCOUNT_CALLS = 50  # 5,000 Pages: a guard against a list that never ends
# A Login is interactive: wait out a short throttle, never a long one.
MAX_INLINE_PAUSE_SECONDS = 5.0

STALE_STATE = (
    "This Facebook Login could not be verified: it was started too long ago, already finished, "
    "or not started from this screen. Nothing was connected. Press Connect with Facebook to "
    "start again."
)
PICKER_GONE = (
    "The list of your Facebook Pages has expired or was already used. Press Connect with "
    "Facebook to list them again."
)
TRY_AGAIN = "Press Connect with Facebook to try again."


class LoginError(Exception):
    """Why Facebook Login did not go through; the message is safe to show."""


def login_configured() -> bool:
    """Facebook Login needs the app's id and secret (the code exchange and debug_token)."""
    return app_credentials_set()


@dataclass(frozen=True)
class PageChoice:
    """One Page of `/me/accounts`, as the picker shows it."""

    facebook_id: str
    name: str
    picture_url: str
    tasks: tuple[str, ...]
    sealed_token: str  # the Page token, encrypted (pages.crypto); never shown

    @property
    def can_read_messages(self) -> bool:
        return MESSAGING_TASK in self.tasks

    @property
    def unavailable_reason(self) -> str:
        """Why it cannot be connected ("" when it can)."""
        if not self.can_read_messages:
            return "Cannot read messages (you lack the Messaging task on this Page)"
        if not self.sealed_token:
            return "Facebook gave no access token for this Page"
        return ""


@dataclass(frozen=True)
class Picker:
    """What the person chooses from: their app-scoped id and their Pages."""

    user_id: str
    user_name: str
    pages: tuple[PageChoice, ...]

    def as_session(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "user_name": self.user_name,
            "pages": [asdict(page) for page in self.pages],
            "expires_at": time.time() + PICKER_LIFETIME_SECONDS,
        }

    @classmethod
    def from_session(cls, saved: Any) -> Picker | None:
        """The saved picker, or None when there is none, it expired or it is not one."""
        if not isinstance(saved, dict) or float(saved.get("expires_at") or 0) < time.time():
            return None
        try:
            pages = tuple(
                PageChoice(**{**page, "tasks": tuple(page["tasks"])}) for page in saved["pages"]
            )
            return cls(str(saved["user_id"]), str(saved.get("user_name") or ""), pages)
        except (KeyError, TypeError):
            return None


def dialog_url(redirect_uri: str, state: str) -> str:
    params = {
        "client_id": settings.FACEBOOK_APP_ID,
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
    }
    if settings.FACEBOOK_LOGIN_CONFIG_ID:
        # Login for Business: the configuration names the permissions and the token type.
        params["config_id"] = settings.FACEBOOK_LOGIN_CONFIG_ID
    else:
        params["scope"] = ",".join(SCOPES)
        # Without it the dialog never asks again for a permission once declined (Meta's docs).
        params["auth_type"] = "rerequest"
    version = settings.FACEBOOK_GRAPH_VERSION
    return f"{settings.FACEBOOK_DIALOG_URL}/{version}/dialog/oauth?{urlencode(params)}"


def begin(session: MutableMapping[str, Any], redirect_uri: str) -> str:
    """Start a Login: a fresh state in the session (replacing any earlier one); the dialog URL."""
    if not login_configured():
        raise LoginError(
            "Connect with Facebook needs FACEBOOK_APP_ID and FACEBOOK_APP_SECRET (the Facebook "
            "app's id and secret) in the server's settings."
        )
    state = secrets.token_urlsafe(32)
    session[STATE_KEY] = {
        "state": state,
        "redirect_uri": redirect_uri,
        "expires_at": time.time() + STATE_LIFETIME_SECONDS,
    }
    return dialog_url(redirect_uri, state)


def take_state(session: MutableMapping[str, Any], returned: str) -> str:
    """Check (and use up) the state Facebook sent back; the redirect URI it was made for."""
    saved = session.pop(STATE_KEY, None)
    if not isinstance(saved, dict) or float(saved.get("expires_at") or 0) < time.time():
        raise LoginError(STALE_STATE)
    expected = str(saved.get("state") or "")
    if not expected or not hmac.compare_digest(expected.encode(), returned.encode()):
        raise LoginError(STALE_STATE)
    return str(saved["redirect_uri"])


@sensitive_variables("code", "user_token", "long_lived")
def complete(session: MutableMapping[str, Any], query: Mapping[str, str]) -> Picker:
    """Finish a Login from Facebook's redirect (its query string) and keep the picker in the
    session. Raises LoginError, having stored nothing, for a stale or forged state, a denial,
    an expired code or a declined permission."""
    redirect_uri = take_state(session, query.get("state", ""))
    session.pop(PICKER_KEY, None)
    if query.get("error") or query.get("error_reason"):
        raise LoginError(denial_message(query))
    code = query.get("code", "")
    if not code:
        raise LoginError(f"Facebook sent no login code back. {TRY_AGAIN}")
    user_token = exchange_code(code, redirect_uri)
    long_lived = extend(user_token)
    client = _client(long_lived)
    try:
        me = client.get("me", {"fields": "id,name"})
        require_permissions(client.get("me/permissions", {}))
        pages = list_pages(client)
    except GraphError as exc:
        message = _scrubbed(exc, user_token, long_lived)
        raise LoginError(f"Facebook refused to list your Pages: {message} {TRY_AGAIN}") from None
    finally:
        client.session.close()
    user_id = str(me.get("id") or "")
    if not user_id.isdigit():
        raise LoginError(f"Facebook did not say who logged in. {TRY_AGAIN}")
    picker = Picker(user_id, str(me.get("name") or "")[:255], pages)
    session[PICKER_KEY] = picker.as_session()
    return picker


def saved_picker(session: Mapping[str, Any]) -> Picker | None:
    return Picker.from_session(session.get(PICKER_KEY))


def drop_picker(session: MutableMapping[str, Any]) -> None:
    session.pop(PICKER_KEY, None)


def denial_message(query: Mapping[str, str]) -> str:
    """What Facebook's `error` redirect means (`error=access_denied&error_reason=user_denied`
    when the person pressed Cancel)."""
    if query.get("error_reason") == "user_denied" or query.get("error") == "access_denied":
        return (
            "You cancelled Facebook Login, so nothing was connected. Press Connect with Facebook "
            "to try again."
        )
    said = query.get("error_description") or query.get("error") or query.get("error_reason")
    return f"Facebook Login did not finish: {str(said)[:200]}. {TRY_AGAIN}"


@sensitive_variables("code")
def exchange_code(code: str, redirect_uri: str) -> str:
    """The short-lived user token for the code (`GET /oauth/access_token`). The redirect URI
    must be the very one the dialog was given. One attempt: a code works once."""
    params = {
        "client_id": settings.FACEBOOK_APP_ID,
        "client_secret": settings.FACEBOOK_APP_SECRET,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    try:
        return _token_from(params, attempts=1)
    except GraphError as exc:
        raise LoginError(
            f"Facebook did not accept the login code ({_scrubbed(exc, code)}). A code works "
            f"once and for a few minutes only. {TRY_AGAIN}"
        ) from None


@sensitive_variables("user_token")
def extend(user_token: str) -> str:
    """The long-lived user token (about 60 days) for a short-lived one: Page tokens read with
    it never expire (graph-api.md §2.2)."""
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": settings.FACEBOOK_APP_ID,
        "client_secret": settings.FACEBOOK_APP_SECRET,
        "fb_exchange_token": user_token,
    }
    try:
        return _token_from(params, attempts=settings.FACEBOOK_MAX_RETRIES)
    except GraphError as exc:
        message = _scrubbed(exc, user_token)
        raise LoginError(f"Facebook refused a long-lived token: {message} {TRY_AGAIN}") from None


def require_permissions(answer: dict[str, Any]) -> None:
    """Refuse a Login that lacks a permission fbsync needs (`/me/permissions`: each with
    `status` granted, declined or expired), naming it and what it is for."""
    statuses = {
        str(item.get("permission")): str(item.get("status"))
        for item in answer.get("data") or ()
        if isinstance(item, dict)
    }
    missing = [name for name in SCOPES if statuses.get(name) != "granted"]
    if not missing:
        return
    declined = [name for name in missing if statuses.get(name) == "declined"]
    what = "; ".join(f"{name} ({SCOPES[name]})" for name in missing)
    verb = "You declined" if declined == missing else "Facebook did not grant"
    raise LoginError(
        f"{verb} the permission fbsync needs: {what}. Nothing was connected. Press Connect "
        "with Facebook again and keep every permission ticked."
    )


def list_pages(client: GraphClient) -> tuple[PageChoice, ...]:
    """Every Page of `/me/accounts`, following the paging to its end."""
    pages: dict[str, PageChoice] = {}
    position = None
    for _ in range(MAX_ACCOUNT_CALLS):
        params = {"fields": ACCOUNT_FIELDS, "limit": ACCOUNTS_PER_CALL, **position_params(position)}
        body = client.get("me/accounts", params)
        for item in body.get("data") or ():
            choice = page_choice(item)
            if choice is not None:
                pages.setdefault(choice.facebook_id, choice)
        position = next_position(body.get("paging"))
        if position is None:
            break
    return tuple(pages.values())


@sensitive_variables("token")
def page_choice(item: Any) -> PageChoice | None:
    """One entry of `/me/accounts`; None when it is not a Page."""
    if not isinstance(item, dict) or not str(item.get("id") or "").isdigit():
        return None
    token = item.get("access_token")
    tasks = item.get("tasks") if isinstance(item.get("tasks"), list) else []
    return PageChoice(
        facebook_id=str(item["id"]),
        name=str(item.get("name") or item["id"])[:255],
        picture_url=_picture_url(item.get("picture")),
        tasks=tuple(str(task).upper() for task in tasks if isinstance(task, str)),
        sealed_token=crypto.encrypt(token) if isinstance(token, str) and token else "",
    )


def _picture_url(picture: Any) -> str:
    """`picture` is `{"data": {"url", "width", "height", "is_silhouette"}}`; only a web URL."""
    data = picture.get("data") if isinstance(picture, dict) else None
    url = data.get("url") if isinstance(data, dict) else None
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return ""


@sensitive_variables("secrets")
def _scrubbed(error: GraphError, *secrets: str) -> str:
    """Graph's message without the secrets of the call (the client removes its own token)."""
    return scrub(str(error), *secrets, settings.FACEBOOK_APP_SECRET)


@sensitive_variables("token")
def _client(token: str, attempts: int | None = None) -> GraphClient:
    """A client for the person's calls (no Page: no per-Page spacing)."""
    return GraphClient(
        token,
        base_url=settings.FACEBOOK_GRAPH_URL,
        version=settings.FACEBOOK_GRAPH_VERSION,
        app_secret=settings.FACEBOOK_APP_SECRET,
        calls_per_second=0,
        timeout=settings.FACEBOOK_TIMEOUT_SECONDS,
        deadline=settings.FACEBOOK_CALL_DEADLINE_SECONDS,
        max_attempts=attempts or settings.FACEBOOK_MAX_RETRIES,
        max_inline_pause=MAX_INLINE_PAUSE_SECONDS,
    )


@sensitive_variables("params", "app_token", "token")
def _token_from(params: dict[str, str], attempts: int) -> str:
    """`GET /oauth/access_token` with the app token, as Meta's SDKs send it; the new token."""
    app_token = f"{settings.FACEBOOK_APP_ID}|{settings.FACEBOOK_APP_SECRET}"
    client = _client(app_token, attempts)
    try:
        body = client.get("oauth/access_token", params)
    finally:
        client.session.close()
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise GraphError("Facebook answered without an access token.")
    return token
