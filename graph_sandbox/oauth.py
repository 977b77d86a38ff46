"""Facebook Login (graph-api.md §2.1–2.2): the code exchange, user tokens, and the user-token
calls ``/me``, ``/me/permissions`` and ``/me/accounts`` (the dialog is graph_sandbox.consent).

The flow, as Meta documents it for a server-side web app:

1. the browser opens ``/dialog/oauth?client_id&redirect_uri&state&scope`` (the HTML is
   :mod:`graph_sandbox.consent`; its ``oauth_consent`` control does the same without it);
   the person ticks the permissions and Pages they grant, and is sent back to ``redirect_uri``
   with ``?code=…&state=…`` (or Meta's ``error=access_denied`` parameters on Cancel);
2. the server exchanges the code: ``GET /oauth/access_token?client_id&client_secret&
   redirect_uri&code`` → a user token (codes are single use, expire, and are bound to the
   exact ``redirect_uri`` of the dialog), then optionally ``grant_type=fb_exchange_token`` →
   a long-lived one;
3. ``GET /me/accounts`` with the user token lists the granted Pages with their Page tokens.

Decisions the sandbox makes (documented in README.md): a Page's token in ``me/accounts`` is the
Page's own sandbox token, so syncs work with it; if that token was expired (``expire_token``,
``set_token_info(expired=True)``) the Page gets a new token, as a new Login gives a working one.
``debug_token`` of a Page token handed out here reports the consenting user, the granted scopes
and, for a token from a short-lived user token, the user token's expiry (§2.2).
"""

from __future__ import annotations

import hmac
import math
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import errors
from .api import parse_limit
from .consent import Code, DialogControls, Grant, name_list
from .cursors import decode_cursor, encode_cursor
from .debug_token import APPLICATION, DATA_ACCESS_DAYS, TokenInfo
from .errors import GraphError
from .fields import FieldSpec, parse_fields, select
from .result import Result, appsecret_proof

if TYPE_CHECKING:
    from .api import Request
    from .dataset import Dataset, Page
    from .debug_token import TokenRegistry
    from .faults import FaultConfig
    from .stats import RequestStats

SHORT_LIVED_SECONDS = 5183944  # what Meta answers for a token from the code exchange
LONG_LIVED_SECONDS = 60 * 86400
ALL_TASKS = ("ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE")
PAGE_CATEGORY = "Bicycle Shop"  # as the Page node of graph_sandbox.api says
ACCOUNT_FIELDS = ("id", "name", "access_token", "category", "tasks", "picture")
DEFAULT_ACCOUNT_FIELDS = ("access_token", "category", "name", "id", "tasks")
TOKEN_ALPHABET = string.ascii_letters + string.digits


class OAuthError(GraphError):
    """An error of ``/oauth/access_token``: Graph's envelope, its message without "(#code)"."""

    def body(self, trace_id: str) -> dict[str, Any]:
        body = super().body(trace_id)
        body["error"]["message"] = self.message
        return body


@dataclass(frozen=True)
class UserToken:
    grant: Grant
    issued_at: int  # epoch seconds
    expires_at: int
    long_lived: bool

    def debug(self, app_id: str, now: int) -> dict[str, Any]:
        """``debug_token``'s data for this token (graph-api.md §2.3)."""
        data: dict[str, Any] = {
            "app_id": app_id,
            "type": "USER",
            "application": APPLICATION,
            "data_access_expires_at": self.issued_at + DATA_ACCESS_DAYS * 86400,
            "expires_at": self.expires_at,
            "is_valid": now < self.expires_at,
            "issued_at": self.issued_at,
            "scopes": list(self.grant.granted),
            "granular_scopes": granular_scopes(self.grant.granted, self.grant.page_ids),
            "user_id": self.grant.user_id,
        }
        if not data["is_valid"]:
            expired = errors.token_expired()
            data["error"] = {"code": 190, "message": expired.message, "subcode": 463}
        return data


def granular_scopes(scopes: tuple[str, ...], page_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    """Page permissions name the Pages they were granted for; the others apply to the user."""
    return [
        {"scope": s, "target_ids": list(page_ids)} if s.startswith("pages_") else {"scope": s}
        for s in scopes
    ]


def new_token() -> str:
    return "EAAB" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(180))


def check_proof(config: FaultConfig, req: Request, check: bool = True) -> None:
    """``appsecret_proof`` of the call's token, when the app requires it (§2.4)."""
    if not (config.app_secret and check and req.token):
        return
    proof = req.params.get("appsecret_proof")
    if not proof:
        raise errors.invalid_proof(missing=True)
    if not hmac.compare_digest(proof, appsecret_proof(config.app_secret, req.token)):
        raise errors.invalid_proof(missing=False)


@dataclass
class LoginRegistry:
    """The sandbox's Facebook user (its id lives in TokenRegistry.user_id, the person behind
    every Page token), the per-Page tasks, outstanding codes and the user tokens."""

    user_name: str = "Dana Sandbox"
    tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # page id -> when not all
    codes: dict[str, Code] = field(default_factory=dict)
    user_tokens: dict[str, UserToken] = field(default_factory=dict)

    def issue(self, grant: Grant, long_lived: bool, now: int) -> tuple[str, int]:
        token = new_token()
        lifetime = LONG_LIVED_SECONDS if long_lived else SHORT_LIVED_SECONDS
        self.user_tokens[token] = UserToken(grant, now, now + lifetime, long_lived)
        return token, lifetime


class LoginControls(DialogControls):
    """Facebook Login's endpoints and control methods, mixed into :class:`graph_sandbox.Sandbox`
    (which provides these attributes)."""

    lock: threading.RLock
    clock: Callable[[], float]
    config: FaultConfig
    dataset: Dataset
    expired: set[str]
    request_stats: RequestStats
    tokens: TokenRegistry
    login: LoginRegistry
    _page: Callable[[str | None], Page]

    def oauth_user(
        self,
        user_id: str | None = None,
        name: str | None = None,
        tasks: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Configure the sandbox's Facebook user: app-scoped id, name, and the tasks it has on
        some Pages (``{page_id: ["ANALYZE"]}``; the others: all tasks). No arguments: read."""
        with self.lock:
            if tasks is not None:
                if not isinstance(tasks, dict):
                    raise ValueError("tasks must be an object {page_id: [task, ...]}")
                self.login.tasks = {self._page(pid).id: name_list(t) for pid, t in tasks.items()}
            if user_id is not None:
                if not str(user_id).strip():
                    raise ValueError("user_id must not be empty")
                self.tokens.user_id = str(user_id).strip()
            if name is not None:
                self.login.user_name = str(name)
            return {
                "id": self.tokens.user_id,
                "name": self.login.user_name,
                "tasks": {pid: list(self._tasks(pid)) for pid in self.dataset.pages},
            }

    def expire_oauth_codes(self) -> int:
        """Every code not yet exchanged expires now (36007 when exchanged); how many."""
        with self.lock:
            outstanding = [c for c in self.login.codes.values() if not c.used]
            for code in outstanding:
                code.issued = -math.inf
            return len(outstanding)

    def _tasks(self, page_id: str) -> tuple[str, ...]:
        return self.login.tasks.get(page_id, ALL_TASKS)

    # -- the API ----------------------------------------------------------------------------

    def login_api(self, req: Request, in_batch: bool, check: bool) -> Result | None:
        """``/oauth/access_token`` and calls made with a user token; None: not one of them."""
        parts = req.path.strip("/").split("/")
        if parts == ["oauth", "access_token"]:
            kind, handler = "oauth", self._access_token
        else:
            user = self.login.user_tokens.get(req.token or "")
            if user is None or parts[0] not in ("me", user.grant.user_id) or len(parts) > 2:
                return None
            kind, handler = "user", lambda r: self._user_call(r, user, check)
        result = Result()
        with self.lock:
            try:
                result.body = handler(req)
            except GraphError as exc:
                result.status = exc.status
                result.body = exc.body(result.trace_id)
            self.request_stats.record(req, kind, None, result, in_batch)
        return result

    def _access_token(self, req: Request) -> dict[str, Any]:
        params = req.params
        if params.get("client_id") != self.tokens.app_id:
            raise OAuthError(101, "Error validating application. Invalid application ID.")
        secret = self.tokens.app_secret(self.config)
        if not hmac.compare_digest(params.get("client_secret", "").encode(), secret.encode()):
            raise OAuthError(1, "Error validating client secret.")
        grant_type = params.get("grant_type") or "authorization_code"
        if grant_type == "client_credentials":
            return {"access_token": self.tokens.app_token(self.config), "token_type": "bearer"}
        now = int(time.time())
        if grant_type == "fb_exchange_token":
            user = self.login.user_tokens.get(params.get("fb_exchange_token", ""))
            if user is None:
                raise OAuthError(190, "Invalid OAuth access token.")
            if now >= user.expires_at:
                raise OAuthError(190, errors.token_expired().message, subcode=463)
            token, lifetime = self.login.issue(user.grant, long_lived=True, now=now)
            return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}
        if grant_type != "authorization_code":
            raise OAuthError(
                100,
                f"Invalid grant_type: '{grant_type}'. Supported types: authorization_code, "
                "client_credentials, fb_exchange_token",
            )
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise OAuthError(191, "Missing redirect_uri parameter.")
        if not params.get("code"):
            raise OAuthError(100, "Missing authorization code")
        code = self.login.codes.get(params["code"])
        if code is None:
            raise OAuthError(100, "Invalid verification code format.")
        if code.used:
            raise OAuthError(100, "This authorization code has been used.", subcode=36009)
        if self.clock() - code.issued > self.config.oauth_code_ttl_seconds:
            raise OAuthError(100, "This authorization code has expired.", subcode=36007)
        if redirect_uri != code.redirect_uri:
            raise OAuthError(
                100,
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                subcode=36008,
            )
        code.used = True
        token, lifetime = self.login.issue(code.grant, long_lived=False, now=now)
        return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}

    def _user_call(self, req: Request, user: UserToken, check: bool) -> dict[str, Any]:
        if req.method != "GET":
            raise errors.invalid_param(
                f"Unsupported {req.method.lower()} request. Only GET is supported here"
            )
        check_proof(self.config, req, check)
        if int(time.time()) >= user.expires_at:
            raise errors.token_expired()
        parts = req.path.strip("/").split("/")
        edge = parts[1] if len(parts) == 2 else None
        if edge == "permissions":
            return {"data": user.grant.permissions()}
        if edge == "accounts":
            return self._accounts(req, user)
        if edge is not None:
            raise errors.nonexisting_field(edge, "User")
        specs = parse_fields(req.params.get("fields")) or [FieldSpec("id"), FieldSpec("name")]
        values = {"id": user.grant.user_id, "name": self.login.user_name}
        for spec in specs:
            if spec.name not in values:
                raise errors.nonexisting_field(spec.name, "User")
        return {spec.name: values[spec.name] for spec in specs}

    def _accounts(self, req: Request, user: UserToken) -> dict[str, Any]:
        """The granted Pages, with cursors like the other lists. Without pages_show_list the
        list is empty ([obs]: Meta lists no Page without it)."""
        specs = parse_fields(req.params.get("fields")) or [
            FieldSpec(name) for name in DEFAULT_ACCOUNT_FIELDS
        ]
        for spec in specs:
            if spec.name not in ACCOUNT_FIELDS:
                raise errors.nonexisting_field(spec.name, "Page")
        grant = user.grant
        pages = [self.dataset.pages[pid] for pid in grant.page_ids if pid in self.dataset.pages]
        if "pages_show_list" not in grant.granted:
            pages = []
        limit = parse_limit(req.params.get("limit"))
        start, end = 0, len(pages)
        if req.params.get("after"):
            start = decode_cursor(req.params["after"], "a", "after", self.config) + 1
        elif req.params.get("before"):
            end = decode_cursor(req.params["before"], "a", "before", self.config)
            start = max(0, end - limit)
        window = list(enumerate(pages))[start : min(end, start + limit)]
        if not window:
            return {"data": []}
        with_token = any(spec.name == "access_token" for spec in specs)
        data = [select(self._account(req, page, user, with_token), specs) for _, page in window]
        first, last = encode_cursor("a", window[0][0]), encode_cursor("a", window[-1][0])
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        base = {k: v for k, v in req.params.items() if k not in ("after", "before")}
        base["access_token"] = req.token or ""
        link = f"{req.base_url}{'/' + req.version if req.version else ''}{req.path}?"
        if window[-1][0] + 1 < len(pages):
            paging["next"] = link + urlencode({**base, "after": last})
        if window[0][0] > 0:
            paging["previous"] = link + urlencode({**base, "before": first})
        return {"data": data, "paging": paging}

    def _account(
        self, req: Request, page: Page, user: UserToken, with_token: bool
    ) -> dict[str, Any]:
        return {
            "id": page.id,
            "name": page.name,
            "access_token": self._page_token(page, user) if with_token else None,
            "category": PAGE_CATEGORY,
            "tasks": list(self._tasks(page.id)),
            "picture": {
                "data": {
                    "height": 50,
                    "is_silhouette": False,
                    "url": f"{req.base_url}/_sandbox/picture/{page.id}.png",
                    "width": 50,
                }
            },
        }

    def _page_token(self, page: Page, user: UserToken) -> str:
        """The Page's token for this user token; a new one when the current one was expired
        (as a new Login gives a working token). Remembered for debug_token: the consenting
        user, the granted scopes, and no expiry only when derived from a long-lived token."""
        if page.token in self.expired:
            page.token = new_token()
        grant = user.grant
        self.tokens.infos[page.id] = TokenInfo(
            page.token,
            expires_at=0 if user.long_lived else user.expires_at,
            scopes=grant.granted,
            user_id=grant.user_id,
            target_ids=grant.page_ids,
        )
        return page.token
