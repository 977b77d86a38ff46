"""``/{page-id}/subscribed_apps``: the Page's webhook subscription to the app (graph-api.md §8.1).

``GET`` lists the app with its ``subscribed_fields`` (or ``{"data": []}``), ``POST
subscribed_fields=a,b`` (query, form, or a JSON array) sets the fields and answers
``{"success": true}``, ``DELETE`` removes the subscription. Like Graph: a Page token of that
Page is needed (a user token → #210), and its consent must include ``pages_manage_metadata``
(#200 otherwise); an unknown field → #100 naming the first one and the fields accepted.

State: ``Sandbox.subscriptions`` (page id → fields), read by the sandbox's webhook sender.
Control: ``subscriptions()`` and ``unsubscribe_app(page_id)`` (what Meta does after about an
hour of failed deliveries, §8.4). Not rate limited, no faults fire on it; ``stats()`` counts
it as ``subscribed_apps`` under the Page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import errors
from .debug_token import APPLICATION
from .errors import GraphError
from .oauth import check_proof
from .result import Result

if TYPE_CHECKING:
    from .api import Request
    from .dataset import Dataset, Page
    from .debug_token import TokenRegistry
    from .faults import FaultConfig
    from .oauth import LoginRegistry
    from .stats import RequestStats

WEBHOOK_FIELDS = (
    "messages", "message_echoes", "message_reads", "message_deliveries", "messaging_postbacks",
    "message_reactions", "message_edits", "messaging_optins", "messaging_referrals", "standby",
    "messaging_handovers", "messaging_policy_enforcement", "messaging_account_linking",
    "inbox_labels", "feed",
)  # fmt: skip
NEEDED_SCOPE = "pages_manage_metadata"


def requested_fields(raw: str | None) -> list[str]:
    """``subscribed_fields`` as Graph reads it: ``a,b`` or a JSON array; checked in order."""
    if raw is None or not raw.strip():
        raise errors.invalid_param("The parameter subscribed_fields is required")
    try:
        names = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
    except ValueError:
        raise errors.invalid_param("Param subscribed_fields must be an array") from None
    if not isinstance(names, list):
        raise errors.invalid_param("Param subscribed_fields must be an array")
    fields: list[str] = []
    for index, name in enumerate(names):
        name = name.strip() if isinstance(name, str) else name
        if name not in WEBHOOK_FIELDS:
            raise errors.invalid_param(
                f"Param subscribed_fields[{index}] must be one of {{{', '.join(WEBHOOK_FIELDS)}}}"
                f' - got "{name}"'
            )
        if name not in fields:
            fields.append(name)
    return fields


class SubscriptionControls:
    """The ``subscribed_apps`` edge and its control methods, mixed into
    :class:`graph_sandbox.Sandbox` (which provides these attributes)."""

    lock: threading.RLock
    config: FaultConfig
    dataset: Dataset
    expired: set[str]
    request_stats: RequestStats
    tokens: TokenRegistry
    login: LoginRegistry
    subscriptions: dict[str, list[str]]
    _page: Callable[[str | None], Page]

    def subscribed_apps_api(self, req: Request, in_batch: bool, check: bool) -> Result | None:
        """One call of ``/{page-id}/subscribed_apps``; None: the path is another one."""
        parts = [part for part in req.path.split("/") if part]
        if len(parts) != 2 or parts[1] != "subscribed_apps":
            return None
        result = Result()
        with self.lock:
            page = None
            try:
                page = self._subscribing_page(req, parts[0], check)
                result.body = self._subscribed_apps(req, page)
            except GraphError as exc:
                result.status = exc.status
                result.body = exc.body(result.trace_id)
            self.request_stats.record(req, "subscribed_apps", page, result, in_batch)
        return result

    def _subscribing_page(self, req: Request, object_id: str, check: bool) -> Page:
        if not req.token:
            raise errors.token_required()
        if req.token in self.login.user_tokens:
            raise GraphError(210, "A page access token is required to request this resource.")
        token_page = self.dataset.page_of_token(req.token)
        if token_page is None:
            raise errors.invalid_token()
        check_proof(self.config, req, check)
        if req.token in self.expired:
            raise errors.token_expired()
        page = token_page if object_id == "me" else self.dataset.pages.get(object_id)
        if page is None:
            raise errors.no_object(object_id)
        if page is not token_page:
            raise errors.wrong_page()
        if NEEDED_SCOPE not in self.tokens.info(page).scopes:
            raise GraphError(200, f"Requires {NEEDED_SCOPE} permission to manage the object")
        return page

    def _subscribed_apps(self, req: Request, page: Page) -> dict[str, Any]:
        if req.method == "GET":
            fields = self.subscriptions.get(page.id)
            if fields is None:
                return {"data": []}
            app = {"name": APPLICATION, "id": self.tokens.app_id, "subscribed_fields": list(fields)}
            return {"data": [app]}
        if req.method == "POST":
            self.subscriptions[page.id] = requested_fields(req.params.get("subscribed_fields"))
            return {"success": True}
        if req.method == "DELETE":
            self.subscriptions.pop(page.id, None)
            return {"success": True}
        raise errors.invalid_param(f"Unsupported {req.method.lower()} request")

    # -- control ----------------------------------------------------------------------------

    def subscriptions_info(self) -> dict[str, list[str]]:
        """Page id → the webhook fields it is subscribed to (subscribed Pages only)."""
        with self.lock:
            return {page_id: list(fields) for page_id, fields in self.subscriptions.items()}

    def unsubscribe_app(self, page_id: str | None = None) -> bool:
        """Drop the Page's subscription, as Meta does after an hour of failed deliveries;
        whether it was subscribed."""
        with self.lock:
            return self.subscriptions.pop(self._page(page_id).id, None) is not None
