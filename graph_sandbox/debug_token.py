"""``GET /debug_token?input_token=…`` and what each Page's token is (graph-api.md §2.3; issue 8,
item 8).

Graph answers ``{"data": {"app_id", "type", "application", "is_valid", "expires_at",
"data_access_expires_at", "scopes", "granular_scopes", "profile_id", "user_id", "error"?}}``
for a token of its app, and only to a caller holding the app token ``{app-id}|{app-secret}``
(``access_token`` or ``Authorization: Bearer``). Like Graph, the sandbox refuses anything else:
no token → #104; a Page or user token → #100 "You must provide an app access token…"; a wrong
app token → #190. An ``input_token`` it does not know is answered (HTTP 200) with
``is_valid: false`` and ``error`` #190.

By default every Page's token is a valid Page token of the sandbox's app, for that Page, with
:data:`DEFAULT_SCOPES`, never expiring. :meth:`TokenControls.set_token_info` (control route
``set_token_info``) makes a Page's current token a user token, an expired one, one for another
Page or one missing scopes; a new token (``set_token``) is a default one again. The app's id
and secret come from the seed (the secret is ``app_secret`` when that option is set):
:meth:`TokenControls.app_credentials`.

User tokens from Facebook Login (graph_sandbox.oauth) are answered as ``type: USER`` with their
granted scopes; a Page token Login handed out reports the consenting user and that consent.

This is an app-level call: it is not counted against any Page's rate limit or usage, faults do
not fire on it, and ``stats()`` counts it as ``debug_token`` (under no page).
"""

from __future__ import annotations

import hmac
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import GraphError
from .result import Result, appsecret_proof

if TYPE_CHECKING:
    from .api import Request
    from .dataset import Dataset, Page
    from .faults import FaultConfig
    from .oauth import LoginRegistry
    from .stats import RequestStats

DEFAULT_SCOPES = (
    "pages_messaging",
    "pages_read_engagement",
    "pages_manage_metadata",
    "pages_show_list",
)
TOKEN_TYPES = ("PAGE", "USER", "APP")
APPLICATION = "fbsync sandbox"
DATA_ACCESS_DAYS = 90
NEEDS_APP_TOKEN = (
    "You must provide an app access token, or a user access token that is an owner or "
    "developer of the app"
)


@dataclass(frozen=True)
class TokenInfo:
    """What one Page's current token is. ``profile_id`` None: the Page itself."""

    token: str
    type: str = "PAGE"
    expires_at: int = 0  # epoch seconds; 0 = never
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    profile_id: str | None = None
    # set when Facebook Login handed the token out (graph_sandbox.oauth): who consented, and
    # the Pages of that consent (granular_scopes' target_ids); None: the defaults
    user_id: str | None = None
    target_ids: tuple[str, ...] | None = None


class TokenRegistry:
    """The sandbox's app (id, default secret, the person who made the tokens) and the token
    settings of each Page (by Page id, valid while the Page keeps that token)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}:app")
        self.app_id = str(rng.randrange(10**14, 10**15))
        self.default_secret = f"{rng.getrandbits(128):032x}"
        self.user_id = str(rng.randrange(10**16, 10**17))
        self.infos: dict[str, TokenInfo] = {}

    def app_secret(self, config: FaultConfig) -> str:
        return config.app_secret or self.default_secret

    def app_token(self, config: FaultConfig) -> str:
        return f"{self.app_id}|{self.app_secret(config)}"

    def info(self, page: Page) -> TokenInfo:
        info = self.infos.get(page.id)
        return info if info is not None and info.token == page.token else TokenInfo(page.token)

    # -- the endpoint ----------------------------------------------------------------------

    def authorise(
        self,
        req: Request,
        config: FaultConfig,
        is_known: Callable[[str], bool],
        check_proof: bool = True,
    ) -> None:
        """Only the app token may ask; its proof is checked like any call's (a batch item
        under the batch's own token was checked once, for the batch)."""
        if req.method != "GET":
            raise errors.invalid_param(
                f"Unsupported {req.method.lower()} request. Only GET is supported here"
            )
        if not req.token:
            raise errors.token_required()
        app_token = self.app_token(config)
        if not hmac.compare_digest(req.token.encode(), app_token.encode()):
            if is_known(req.token):  # a Page or user token
                raise errors.invalid_param(NEEDS_APP_TOKEN)
            if "|" in req.token:
                raise GraphError(190, "Invalid OAuth access token signature.")
            raise errors.invalid_token()
        if config.app_secret and check_proof:
            proof = req.params.get("appsecret_proof")
            if not proof:
                raise errors.invalid_proof(missing=True)
            if not hmac.compare_digest(proof, appsecret_proof(config.app_secret, req.token)):
                raise errors.invalid_proof(missing=False)

    def debug(
        self, input_token: str, config: FaultConfig, page: Page | None, expired: set[str]
    ) -> dict[str, Any]:
        """The ``data`` object Graph answers for ``input_token``."""
        now = int(time.time())
        if input_token == self.app_token(config):
            return {
                "app_id": self.app_id,
                "type": "APP",
                "application": APPLICATION,
                "is_valid": True,
                "scopes": [],
            }
        if page is None:
            return {
                "error": {"code": 190, "message": "Invalid OAuth access token."},
                "is_valid": False,
                "scopes": [],
            }
        info = self.info(page)
        data: dict[str, Any] = {
            "app_id": self.app_id,
            "type": info.type,
            "application": APPLICATION,
            "data_access_expires_at": now + DATA_ACCESS_DAYS * 86400,
            "expires_at": info.expires_at,
            "is_valid": True,
            "issued_at": now - 86400,
        }
        if info.type == "PAGE":
            data["profile_id"] = info.profile_id or page.id
        if info.type != "APP":
            data["user_id"] = info.user_id or self.user_id
        data["scopes"] = list(info.scopes)
        targets = list(info.target_ids or [data.get("profile_id") or page.id])
        data["granular_scopes"] = [
            {"scope": s, "target_ids": targets} if s.startswith("pages_") else {"scope": s}
            for s in info.scopes
        ]
        if input_token in expired or 0 < info.expires_at <= now:
            data["is_valid"] = False
            data["expires_at"] = info.expires_at or now
            data["error"] = {
                "code": 190,
                "message": "Error validating access token: Session has expired. The current "
                "time is later than the expiry of the session.",
                "subcode": 463,
            }
        return data


class TokenControls:
    """The ``debug_token`` endpoint and its control methods, mixed into
    :class:`graph_sandbox.Sandbox` (which provides these attributes)."""

    lock: threading.RLock
    config: FaultConfig
    dataset: Dataset
    expired: set[str]
    request_stats: RequestStats
    tokens: TokenRegistry
    login: LoginRegistry
    _page: Callable[[str | None], Page]

    def _is_known_token(self, token: str) -> bool:
        return token in self.login.user_tokens or self.dataset.page_of_token(token) is not None

    def debug_token(self, req: Request, check_proof: bool = True) -> Result:
        """One ``GET /debug_token`` call (a plain request or a batch item)."""
        result = Result()
        with self.lock:
            try:
                registry = self.tokens
                registry.authorise(req, self.config, self._is_known_token, check_proof)
                input_token = req.params.get("input_token", "")
                if not input_token:
                    raise errors.invalid_param("The parameter input_token is required")
                user = self.login.user_tokens.get(input_token)
                if user is not None:  # a user token from Facebook Login
                    data = user.debug(registry.app_id, int(time.time()))
                else:
                    page = self.dataset.page_of_token(input_token)
                    data = registry.debug(input_token, self.config, page, self.expired)
                result.body = {"data": data}
            except GraphError as exc:
                result.status = exc.status
                result.body = exc.body(result.trace_id)
            self.request_stats.record(req, "debug_token", None, result, False)
        return result

    def app_credentials(self) -> dict[str, str]:
        """The sandbox's app: ``{"app_id", "app_secret", "app_token"}`` (FACEBOOK_APP_ID and
        FACEBOOK_APP_SECRET of a client that calls ``debug_token``)."""
        with self.lock:
            registry = self.tokens
            return {
                "app_id": registry.app_id,
                "app_secret": registry.app_secret(self.config),
                "app_token": registry.app_token(self.config),
            }

    def set_token_info(
        self,
        page_id: str | None = None,
        type: str = "PAGE",  # Graph's name for it
        expires_at: int | None = None,
        expired: bool = False,
        scopes: list[str] | str | None = None,
        missing_scopes: list[str] | str | None = None,
        profile_id: str | None = None,
    ) -> dict[str, Any]:
        """Say what the Page's current token is; no arguments: a default Page token again.
        ``type`` PAGE/USER/APP; ``expires_at`` epoch seconds (0 = never); ``expired=True``:
        expired an hour ago, and the API answers 190/463 for it (as ``expire_token``);
        ``scopes`` replaces :data:`DEFAULT_SCOPES`, ``missing_scopes`` removes some;
        ``profile_id``: the Page the token is for (another Page's id). Returns ``debug_token``'s
        data for it."""
        if type not in TOKEN_TYPES:
            raise ValueError(f"type must be one of {TOKEN_TYPES}")
        chosen = DEFAULT_SCOPES if scopes is None else _names(scopes)
        missing = set(_names(missing_scopes))
        with self.lock:
            page = self._page(page_id)
            if expired and not expires_at:
                expires_at = int(time.time()) - 3600
            info = TokenInfo(
                page.token,
                type=type,
                expires_at=int(expires_at or 0),
                scopes=tuple(s for s in chosen if s not in missing),
                profile_id=None if profile_id is None else str(profile_id),
            )
            self.tokens.infos[page.id] = info
            if expired:
                self.expired.add(page.token)
            else:
                self.expired.discard(page.token)
            return self.tokens.debug(page.token, self.config, page, self.expired)


def _names(value: list[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    names = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"expected scope names, got {value!r}")
    return tuple(name.strip() for name in names if name.strip())
