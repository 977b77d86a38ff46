"""The in-process sandbox: data, tokens, faults, usage accounting, stats and control methods.

:meth:`Sandbox.execute` runs one API call (a plain request or a batch item) through the same
pipeline every time: route → authenticate → appsecret_proof → rate limit → one-shot fault →
random transient error → handler. Rate-limit accounting (documented decision):

* the per-second limit (``rate_limit_per_second``, per page) counts only *accepted* calls: a
  call rejected with 613 by the limiter itself does not extend the window, so a client that
  waits 1/R between calls always gets through;
* the hourly BUC usage (``X-Business-Use-Case-Usage``) counts every authenticated call,
  rejected ones included ("continuing to call while throttled adds to the count", §5.3).
"""

from __future__ import annotations

import hmac
import random
import threading
from collections.abc import Callable
from typing import Any

from . import errors, message_node
from .api import Renderer, Request
from .content import _name
from .dataset import FOLDERS, Conversation, Dataset, Page
from .debug_token import TokenControls, TokenRegistry
from .errors import GraphError
from .faults import FaultConfig, FaultQueue, PageMeter
from .faults import now as monotonic
from .horizon import History, reachable_truth
from .media import Media, MediaControls
from .oauth import LoginControls, LoginRegistry
from .odd_values import OddValues
from .real_graph import visible_truth
from .result import Result, appsecret_proof
from .stats import RequestStats
from .subscriptions import SubscriptionControls
from .webhook_controls import WebhookControls


class Sandbox(
    TokenControls, LoginControls, SubscriptionControls, WebhookControls, MediaControls, History
):
    """A fake Graph API: call :meth:`execute` (through the WSGI app) or the control methods."""

    def __init__(
        self,
        conversations: int = 60,
        seed: int = 1,
        pages: int = 1,
        *,
        anchor: int | None = None,
        default_version: str = "v26.0",
        clock: Callable[[], float] | None = None,
        **fault_options: Any,
    ) -> None:
        self.lock = threading.RLock()
        # monotonic seconds for the rate/usage windows; injectable so tests need not sleep
        self.clock = clock or monotonic
        self.seed = seed
        self.default_version = default_version
        self.dataset = Dataset(conversations, seed, pages, anchor)
        self.odd_values = OddValues(self.dataset)
        self.config = FaultConfig()
        self.config.update(**fault_options)
        self.faults = FaultQueue()
        self.meters = {pid: PageMeter() for pid in self.dataset.pages}
        self.expired: set[str] = set()
        self.fault_rng = random.Random(f"{seed}:faults")
        self._mutations = 0
        self.request_stats = RequestStats()
        self.tokens = TokenRegistry(seed)  # debug_token: the app and what each token is
        self.subscriptions: dict[str, list[str]] = {}  # page id -> subscribed webhook fields
        self.login = LoginRegistry()  # Facebook Login: the user, codes, user tokens (oauth.py)
        self.media = Media(seed, self.clock)  # attachment bytes at signed URLs (media.py)

    # -- convenience ------------------------------------------------------------------------

    @property
    def pages(self) -> list[tuple[str, str, str]]:
        """(page id, name, current token) for every page."""
        return [(p.id, p.name, p.token) for p in self.dataset.pages.values()]

    @property
    def page_id(self) -> str:
        return self.pages[0][0]

    @property
    def access_token(self) -> str:
        return self.pages[0][2]

    def _page(self, page_id: str | None) -> Page:
        if page_id is None:
            return next(iter(self.dataset.pages.values()))
        try:
            return self.dataset.pages[str(page_id)]
        except KeyError:
            raise ValueError(f"unknown page {page_id!r}") from None

    def _conv(self, page: Page, conv_id: str) -> Conversation:
        try:
            return page.conversations[conv_id]
        except KeyError:
            raise ValueError(f"unknown conversation {conv_id!r} on page {page.id}") from None

    # -- API pipeline -----------------------------------------------------------------------

    def _route(self, path: str) -> tuple[str, Page | None, Conversation | None, GraphError | None]:
        parts = [p for p in path.split("/") if p]
        if not parts or len(parts) > 2:
            return "unknown", None, None, errors.invalid_param("Unsupported request path")
        obj_id = parts[0]
        page = self.dataset.pages.get(obj_id)
        conv = self.dataset.conversations.get(obj_id)
        if obj_id == "me":  # resolved to the token's page after authentication
            if len(parts) == 1:
                return "page", None, None, None
            if parts[1] == "conversations":
                return "conversations", None, None, None
            return "unknown", None, None, errors.nonexisting_field(parts[1], "Page")
        if page is None and conv is None:  # a message (message_node.py), or nothing
            return message_node.route(self.dataset, parts, errors.no_object(obj_id))
        if len(parts) == 1:
            return ("page", page, None, None) if page else ("conversation", conv.page, conv, None)
        if page is not None and parts[1] == "conversations":
            return "conversations", page, None, None
        if conv is not None and parts[1] == "messages":
            return "messages", conv.page, conv, None
        node = "Page" if page else "UnifiedThread"
        return "unknown", page or conv.page, conv, errors.nonexisting_field(parts[1], node)

    def _authenticate(self, req: Request, check_proof: bool) -> Page:
        if not req.token:
            raise errors.token_required()
        page = self.dataset.page_of_token(req.token)
        if page is None:
            raise errors.invalid_token()
        secret = self.config.app_secret
        if secret and check_proof:
            proof = req.params.get("appsecret_proof")
            if not proof:
                raise errors.invalid_proof(missing=True)
            if not hmac.compare_digest(proof, appsecret_proof(secret, req.token)):
                raise errors.invalid_proof(missing=False)
        if req.token in self.expired:
            raise errors.token_expired()
        return page

    def _apply_fault(self, kind: str, params: dict[str, Any], page: Page, req: Request) -> Any:
        if kind == "transient":
            raise errors.GraphError(
                2,
                "Service temporarily unavailable",
                status=int(params.get("status", 500)),
                is_transient=True,
            )
        if kind == "rate_limit":
            code = int(params.get("code", 613))
            raise errors.rate_limited(code, int(params.get("estimated_minutes", 0)))
        if kind == "token_expired":
            self.expired.add(page.token)
            raise errors.token_expired()
        if kind == "policy_block":
            raise errors.policy_block()
        if kind == "permission":
            raise errors.permission(int(params.get("code", 10)))
        if kind == "object_error":
            raise errors.no_object(params.get("object_id") or req.path.split("/")[1])
        if kind == "heavy":
            raise errors.reduce_data()
        if kind in ("empty_page", "short_page"):
            req.fault = kind
            return None
        return kind  # transport faults and batch_timeout: applied by the caller

    def execute(self, req: Request, in_batch: bool = False, check_proof: bool = True) -> Result:
        """Run one API call; never raises for API-level errors."""
        if req.path.strip("/") == "debug_token":  # app-level: graph_sandbox/debug_token.py
            return self.debug_token(req, check_proof)
        # Facebook Login (oauth.py) and the webhook subscription edge (subscriptions.py)
        answer = self.login_api(req, in_batch, check_proof)
        if answer or (answer := self.subscribed_apps_api(req, in_batch, check_proof)):
            return answer
        result = Result()
        t = self.clock()
        with self.lock:
            kind, obj_page, conv, route_error = self._route(req.path)
            token_page: Page | None = None
            accepted, cpu = True, 0.5
            override = None
            try:
                if req.method != "GET":
                    raise errors.invalid_param(
                        f"Unsupported {req.method.lower()} request. Only GET is supported here"
                    )
                token_page = self._authenticate(req, check_proof)
                if req.path.strip("/").split("/")[0] == "me":
                    obj_page = token_page
                    req.path = "/" + "/".join([token_page.id, *req.path.strip("/").split("/")[1:]])
                if route_error is not None:
                    raise route_error
                if obj_page is not None and obj_page is not token_page:
                    raise errors.wrong_page()
                meter = self.meters[token_page.id]
                batch_limit = self.config.batch_item_rate_limit if in_batch else None
                if meter.over_rate(self.config.rate_limit_per_second, t) or meter.over_rate(
                    batch_limit, t
                ):
                    accepted = False
                    raise errors.rate_limited(613)
                if self.config.enforce_hourly_budget:
                    usage = meter.usage(self.config.hourly_call_budget, t)
                    if usage["call_count"] >= 100:
                        raise errors.rate_limited(80006, usage["estimated_time_to_regain_access"])
                object_id = conv.id if conv else (obj_page.id if obj_page else None)
                fault = self.faults.take(kind, object_id, in_batch)
                if fault is not None:
                    applied = self._apply_fault(fault.kind, fault.params, token_page, req)
                    if applied == "batch_timeout":
                        result.null = True
                    elif applied:
                        result.transport = applied
                rate = self.config.transient_error_rate
                if rate and result.transport is None and self.fault_rng.random() < rate:
                    r = self.fault_rng.random()
                    if r < 0.5 or (r >= 0.75 and in_batch):
                        raise errors.transient()
                    if r < 0.75:
                        raise errors.unknown_error()
                    result.transport = "server_error_html_503"
                renderer = Renderer(self.dataset, self.config, req, self.odd_values)
                body = renderer.render(kind, token_page, conv)
                result.body = self.media.sign(body, req.base_url, self.config.media_url_ttl_seconds)
                cpu += 0.02 * renderer.items
            except GraphError as exc:
                result.status = exc.status
                result.body = exc.body(result.trace_id)
                override = exc.usage_override
            usage_page = token_page or obj_page
            if token_page is not None:
                self.meters[token_page.id].record(t, cpu, accepted)
            if usage_page is not None:
                # a throttling error shows usage 100 % even when set_usage() forces values
                usage = override or self.meters[usage_page.id].usage(
                    self.config.hourly_call_budget, t
                )
                result.usage = {usage_page.id: [{"type": "messenger", **usage}]}
            self.request_stats.record(req, kind, usage_page, result, in_batch)
        return result

    def batch_usage(self, token: str | None) -> dict[str, Any]:
        with self.lock:
            page = self.dataset.page_of_token(token) if token else None
            if page is None:
                return {}
            usage = self.meters[page.id].usage(self.config.hourly_call_budget, self.clock())
            return {page.id: [{"type": "messenger", **usage}]}

    # -- stats ------------------------------------------------------------------------------

    def record_batch(self, token: str | None) -> None:
        with self.lock:
            page = self.dataset.page_of_token(token) if token else None
            self.request_stats.record_batch(page.id if page else None)

    def reset_stats(self) -> None:
        with self.lock:
            self.request_stats = RequestStats()

    def stats(self, page_id: str | None = None) -> dict[str, Any]:
        """Counts of API calls by kind (batch items included under their own kind too)."""
        with self.lock:
            return self.request_stats.summary(page_id)

    # -- control ----------------------------------------------------------------------------

    def pages_info(self) -> list[dict[str, str]]:
        return [{"id": i, "name": n, "access_token": t} for i, n, t in self.pages]

    def configure(self, **fault_options: Any) -> dict[str, Any]:
        with self.lock:
            self.config.update(**fault_options)
            return self.config.as_dict()

    def clear_faults(self) -> None:
        """Drop queued one-shot faults and reset the runtime fault options to their defaults."""
        with self.lock:
            self.faults.clear()
            secret = self.config.app_secret
            self.config = FaultConfig(app_secret=secret)

    def inject(
        self,
        kind: str,
        count: int | None = 1,
        after_calls: int = 0,
        endpoint: str = "any",
        **params: Any,
    ) -> dict[str, Any]:
        with self.lock:
            fault = self.faults.add(kind, count, after_calls, endpoint, **params)
            return {"kind": fault.kind, "count": fault.count, "endpoint": fault.endpoint}

    def pending_faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return self.faults.pending()

    def expire_token(self, page_id: str | None = None) -> None:
        with self.lock:
            self.expired.add(self._page(page_id).token)

    def set_token(self, page_id: str, token: str) -> None:
        with self.lock:
            page = self._page(page_id)
            if self.dataset.page_of_token(token) not in (None, page):
                raise ValueError("token already belongs to another page")
            page.token = token
            self.expired.discard(token)

    def set_usage(
        self,
        page_id: str | None = None,
        call_count: int | None = None,
        total_cputime: int | None = None,
        total_time: int | None = None,
        estimated_minutes: int | None = None,
    ) -> None:
        """Force the usage header values of a page; all ``None`` goes back to computed values."""
        with self.lock:
            meter = self.meters[self._page(page_id).id]
            meter.force(call_count, total_cputime, total_time, estimated_minutes)

    def add_conversations(
        self, page_id: str | None, n: int, folder: str = "inbox", messages: int | None = None
    ) -> list[str]:
        """Create ``n`` new conversations at the top of ``folder``, with ``messages`` inbound
        messages each (None: 1–3; 0: a thread with no messages left)."""
        if folder not in FOLDERS:
            raise ValueError(f"unknown folder {folder!r}")
        with self.lock:
            page = self._page(page_id)
            ids = self.dataset.add_conversations(page, int(n), folder, messages)
            self._notify_new_messages(page, [page.conversations[i] for i in ids], None)  # webhooks
            return ids

    def _pick(self, page: Page, n: int) -> list[Conversation]:
        """Deterministic picks from the older half of the inbox (all folders if it is tiny)."""
        keys = page.folders["inbox"]
        if len(keys) < 2 * n:
            keys = sorted(k for ks in page.folders.values() for k in ks)
        older = keys[: max(n, len(keys) // 2)]
        self._mutations += 1
        rng = random.Random(f"{self.seed}:pick:{page.id}:{self._mutations}")
        chosen = rng.sample(older, min(n, len(older)))
        return [page.conversations[cid] for _, cid in chosen]

    def add_messages(
        self,
        page_id: str | None = None,
        conversation_ids: list[str] | None = None,
        n_conversations: int | None = None,
        per_conversation: int = 1,
    ) -> list[str]:
        """Append inbound messages "now" (strictly newer than every existing updated_time)."""
        with self.lock:
            page = self._page(page_id)
            if conversation_ids is not None:
                convs = [self._conv(page, cid) for cid in conversation_ids]
            else:
                convs = self._pick(page, int(n_conversations or 1))
            ts = self.dataset.activity_ts(page)
            for conv in convs:
                self.dataset.append_messages(conv, int(per_conversation), ts)
            self._notify_new_messages(page, convs, int(per_conversation))  # webhooks
            return [c.id for c in convs]

    def rename_participant(
        self,
        page_id: str | None = None,
        conversation_ids: list[str] | None = None,
        n: int | None = None,
        name: str | None = None,
    ) -> list[tuple[str, str]]:
        """Rename the person of some conversations; ``updated_time`` does not change."""
        with self.lock:
            page = self._page(page_id)
            if conversation_ids is not None:
                convs = [self._conv(page, cid) for cid in conversation_ids]
            else:
                convs = self._pick(page, int(n or 1))
            rng = random.Random(f"{self.seed}:rename:{page.id}:{self._mutations}")
            out = []
            for conv in convs:
                new = name
                while new is None or new == conv.name:
                    new = f"{_name(rng)} {rng.randint(2, 99)}"
                conv.name = new
                out.append((conv.id, new))
            return out

    def move_folder(self, page_id: str | None, conversation_id: str, folder: str) -> None:
        if folder not in FOLDERS:
            raise ValueError(f"unknown folder {folder!r}")
        with self.lock:
            page = self._page(page_id)
            self.dataset.move_folder(self._conv(page, conversation_id), folder)

    def truth(self, page_id: str | None = None) -> dict[str, Any]:
        """Everything the API exposes for a page, for comparing a database against; `odd`
        lists the conversations served with odd values (graph_sandbox.odd_values);
        `hidden_folders` the folders no list shows (graph_sandbox.real_graph), left out."""
        with self.lock:
            page = self._page(page_id)
            truth = self.dataset.truth(page)
            truth["odd"] = self.odd_values.report(page.id, self.config.odd_values)
            return reachable_truth(self.dataset, visible_truth(truth, self.config), self.config)
