"""What a token is, asked of Graph before fbsync stores it (graph-api.md §2.1–§2.3, issue 8).

With `FACEBOOK_APP_ID` and `FACEBOOK_APP_SECRET` set, `inspect_token` asks
`GET /debug_token?input_token=…` with the app token (`{app-id}|{app-secret}`) and refuses a token
that is not a Page token, belongs to another Page, has expired or lacks a permission the sync
needs; then it reads the Page's name with the token itself. Without them it can only do the old
check (`GET /{page-id}?fields=id,name` with the token), which a user token or one without the
messaging permissions passes too: the check then says it could not verify the permissions.

No text made here ever holds the token: Graph's messages are scrubbed of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, TokenError, scrub
from pages.models import FacebookPage

# What reading a Page's conversations needs (graph-api.md §2.1, §13.8).
REQUIRED_SCOPES = ("pages_messaging", "pages_read_engagement", "pages_manage_metadata")
EXPIRED_SUBCODE = 463
ADVANCED_ACCESS_NOTE = (
    "Facebook silently returns only people with a role on the app when the app lacks Advanced "
    "Access for pages_messaging; no error will say so."
)
UNVERIFIED_NOTE = (
    "fbsync could not verify the token's permissions (set FACEBOOK_APP_ID and FACEBOOK_APP_SECRET)."
)
TYPE_NAMES = {"PAGE": "a Page token", "USER": "a user token", "APP": "an app token"}


@dataclass(frozen=True)
class TokenCheck:
    """What Graph said about a token. `verified`: debug_token answered (app credentials set);
    otherwise only the old check ran and type, expiry and scopes are unknown. `refusal` is ""
    when the token may be stored, else why not (safe to show: no token in it)."""

    verified: bool
    page_id: str = ""  # the Page the token is for ("" when unknown)
    page_name: str = ""
    type: str = ""  # PAGE, USER, APP ("" when unknown)
    app_id: str = ""
    expires_at: datetime | None = None  # None: never (verified) or unknown (not verified)
    scopes: tuple[str, ...] = ()
    missing_scopes: tuple[str, ...] = ()
    refusal: str = ""

    @property
    def ok(self) -> bool:
        return not self.refusal

    @property
    def expiry(self) -> str:
        if not self.verified:
            return "expiry unknown"
        if self.expires_at is None:
            return "never expires"
        return f"expires {self.expires_at:%Y-%m-%d %H:%M} UTC"

    @property
    def summary(self) -> str:
        """One line on what the token is."""
        if not self.verified:
            return "Checked with Facebook: the token can read the Page."
        kind = TYPE_NAMES.get(self.type, f"a {self.type or 'unknown'} token")
        scopes = ", ".join(self.scopes) or "no permissions"
        return f"Verified with Facebook: {kind}, {self.expiry}, with {scopes}."

    @property
    def notes(self) -> list[str]:
        """What the person connecting should know even though the token was accepted."""
        notes = []
        if not self.verified:
            notes.append(UNVERIFIED_NOTE)
        elif self.expires_at is not None:
            notes.append(
                f"The token {self.expiry}; a Page token made from a long-lived user token "
                "never expires."
            )
        return notes


def app_credentials_set() -> bool:
    return bool(settings.FACEBOOK_APP_ID and settings.FACEBOOK_APP_SECRET)


@sensitive_variables("token", "app_token")
def inspect_token(token: str, page_id: str) -> TokenCheck:
    """Ask Graph what `token` is and whether fbsync may use it for Page `page_id`."""
    if not app_credentials_set():
        return _read_page(token, page_id, TokenCheck(verified=False))
    app_token = f"{settings.FACEBOOK_APP_ID}|{settings.FACEBOOK_APP_SECRET}"
    client = GraphClient.for_page(FacebookPage(facebook_id=page_id), token=app_token)
    try:
        body = client.get("debug_token", {"input_token": token})
    except TokenError as exc:
        return TokenCheck(
            verified=False,
            refusal="Facebook refused the app credentials (FACEBOOK_APP_ID, "
            f"FACEBOOK_APP_SECRET) when asked what the token is: {scrub(str(exc), token)}",
        )
    except GraphError as exc:
        return TokenCheck(
            verified=False,
            refusal=f"Could not check the token with Facebook: {scrub(str(exc), token)}",
        )
    finally:
        client.session.close()
    data = body.get("data")
    check = judge(data if isinstance(data, dict) else {}, page_id, token)
    return _read_page(token, page_id, check) if check.ok else check


@sensitive_variables("token")
def judge(data: dict[str, Any], page_id: str, token: str = "") -> TokenCheck:
    """The check of debug_token's `data` for Page `page_id`: the first reason to refuse, in
    the order a person would fix them (validity, kind, Page, permissions)."""
    kind = str(data.get("type") or "").upper()
    scopes = tuple(str(s) for s in data.get("scopes") or () if isinstance(s, str))
    expires_at = _time(data.get("expires_at"))
    check = TokenCheck(
        verified=True,
        page_id=str(data.get("profile_id") or ""),
        type=kind,
        app_id=str(data.get("app_id") or ""),
        expires_at=expires_at,
        scopes=scopes,
        missing_scopes=tuple(s for s in REQUIRED_SCOPES if s not in scopes),
    )
    return _with_refusal(check, data, page_id, token)


@sensitive_variables("token")
def _with_refusal(check: TokenCheck, data: dict[str, Any], page_id: str, token: str) -> TokenCheck:
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    expired = (check.expires_at is not None and check.expires_at <= datetime.now(UTC)) or (
        _int(error.get("subcode")) == EXPIRED_SUBCODE
    )
    if expired:
        when = f" on {check.expires_at:%Y-%m-%d %H:%M} UTC" if check.expires_at else ""
        reason = f"The token has expired{when}. Generate a new Page access token and connect again."
    elif data.get("is_valid") is not True:
        message = scrub(str(error.get("message") or "it is not valid"), token)
        reason = f"Facebook rejected the access token: {message}"
    elif check.type == "USER":
        reason = (
            "This is a user access token, not a Page access token. Use the Page's own token "
            "(GET /me/accounts with this user token lists it)."
        )
    elif check.type != "PAGE":
        unknown = f"a {check.type} token" if check.type else "a token of unknown type"
        kind = TYPE_NAMES.get(check.type, unknown)
        reason = f"This is {kind}, not a Page access token."
    elif check.page_id != page_id:
        reason = (
            f"This Page access token belongs to another Page ({check.page_id or 'unknown'}), "
            f"not to page {page_id}."
        )
    elif check.missing_scopes:
        reason = (
            f"The token lacks the permission(s) {', '.join(check.missing_scopes)} that fbsync "
            "needs to read the Page's conversations. Grant them when you generate the Page "
            "token, then connect again."
        )
    else:
        return check
    return replace(check, refusal=reason)


@sensitive_variables("token")
def _read_page(token: str, page_id: str, check: TokenCheck) -> TokenCheck:
    """The old check, and the Page's name: `GET /{page-id}?fields=id,name` with the token."""
    client = GraphClient.for_page(FacebookPage(facebook_id=page_id), token=token)
    try:
        info = client.get_page(page_id)
    except TokenError as exc:
        return replace(
            check, refusal=f"Facebook rejected the access token: {scrub(str(exc), token)}"
        )
    except GraphError as exc:
        refusal = f"Could not check the token with Facebook: {scrub(str(exc), token)}"
        return replace(check, refusal=refusal)
    finally:
        client.session.close()
    if str(info.get("id")) != page_id:
        return replace(check, refusal="The token does not belong to this page.")
    name = str(info.get("name") or "")[:255]
    return replace(check, page_name=name, page_id=check.page_id or page_id)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    """debug_token's epoch seconds; 0 (or nothing) is "never"."""
    seconds = _int(value)
    if not seconds or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
