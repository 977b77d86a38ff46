"""The only code that talks to the Facebook Graph API (design.md §5, graph-api.md §5–7).

Contract:
- Every call carries an explicit API version, a timeout, the token in the Authorization header
  (so no URL we build, log or raise ever holds it) and `appsecret_proof` when an app secret is
  configured.
- Errors are classified by `error.code` / `error_subcode` into the exception classes of
  pages.graph.errors. Transient ones are retried with jittered exponential backoff; throttling
  pauses for `estimated_time_to_regain_access` and retries; the rest are raised.
- Calls are spaced to the per-Page rate (about 2/s for Conversations) and slowed down as the
  usage headers climb, before Meta starts refusing.
- A body that is not a JSON object (truncated JSON, an HTML error page) is a transient error,
  never data.
- `sleep` and `clock` are injectable so that tests of retries and pauses take no real time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from pages.graph.errors import (
    CallBudgetExceeded,
    GraphError,
    ObjectError,
    RateLimitError,
    TooMuchDataError,
    TransientGraphError,
    error_from_payload,
    scrub,
)
from pages.graph.payload import parse_json
from pages.graph.rate_limit import call_spacing_for
from pages.graph.usage import Usage, parse_usage

if TYPE_CHECKING:
    from pages.models import FacebookPage

logger = logging.getLogger(__name__)

MAX_DEFAULT_PAUSE = 60 * 60
BODY_CHUNK_BYTES = 64 * 1024
# Usage (percent of the window) → delay before the next call (graph-api.md §5.4).
USAGE_DELAYS = ((90, 300.0), (75, 5.0), (50, 1.0))
# How loud a Graph error is: what callers handle as a matter of course (ask for less, drop a
# field or folder, pause) INFO, retried ones DEBUG (the retry logs), the rest WARNING.
ROUTINE_ERRORS = (TooMuchDataError, ObjectError, RateLimitError)


def level_of(error: GraphError) -> int:
    if isinstance(error, ROUTINE_ERRORS):
        return logging.INFO
    return logging.DEBUG if isinstance(error, TransientGraphError) else logging.WARNING


@dataclass
class BatchRequest:
    path: str
    params: dict[str, Any] = field(default_factory=dict)


class GraphClient:
    """One client per sync run (one `requests.Session`, one token, one Page's rate)."""

    # `max_inline_pause` that waits out every pause Graph asks for, however long.
    WAIT_INLINE = float("inf")

    # Error reports (Django's debug page, AdminEmailHandler) never show the token.
    @sensitive_variables("access_token")
    def __init__(
        self,
        access_token: str,
        *,
        base_url: str,
        version: str,
        app_secret: str = "",
        page_id: str | None = None,
        calls_per_second: float = 2.0,
        timeout: float = 30.0,
        deadline: float | None = None,
        max_calls: int | None = None,
        max_attempts: int = 5,
        max_inline_pause: float = WAIT_INLINE,
        max_pauses: int = 20,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        call_spacing: Any = None,
    ) -> None:
        self._token = access_token
        self._proof = (
            hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
            if app_secret
            else ""
        )
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.page_id = page_id
        self.timeout = timeout
        # The longest one call may take in all (connect, wait and every read of the body).
        self.deadline = deadline if deadline is not None else 4 * timeout
        self.max_calls = max_calls
        self.max_attempts = max_attempts
        self.max_inline_pause = max_inline_pause
        self.max_pauses = max_pauses
        self.sleep = sleep
        self.clock = clock
        # Spacing shared with other processes (pages.graph.rate_limit) replaces the in-memory one.
        self.call_spacing = call_spacing
        self._min_interval = 0.0
        if call_spacing is None and calls_per_second > 0:
            self._min_interval = 1.0 / calls_per_second
        self._next_call_at = 0.0
        self._secrets = (access_token, self._proof)
        self._lock = threading.RLock()
        self._default_pause_streak = 0
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"
        self.calls = 0
        self.last_usage: Usage | None = None
        self.api_version_served = ""

    @classmethod
    @sensitive_variables("token")
    def for_page(
        cls,
        page: FacebookPage,
        *,
        token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_inline_pause: float = WAIT_INLINE,
        max_calls: int | None = None,
    ) -> GraphClient:
        """A client for one Page, configured from settings, its call spacing shared with every
        process that calls Graph for that Page. `token` overrides the stored one (connect)."""
        return cls(
            page.access_token if token is None else token,
            base_url=settings.FACEBOOK_GRAPH_URL,
            version=settings.FACEBOOK_GRAPH_VERSION,
            app_secret=settings.FACEBOOK_APP_SECRET,
            page_id=page.facebook_id,
            calls_per_second=settings.FACEBOOK_CALLS_PER_SECOND,
            timeout=settings.FACEBOOK_TIMEOUT_SECONDS,
            deadline=settings.FACEBOOK_CALL_DEADLINE_SECONDS,
            max_calls=max_calls,
            max_attempts=settings.FACEBOOK_MAX_RETRIES,
            max_inline_pause=max_inline_pause,
            sleep=sleep,
            clock=clock,
            call_spacing=call_spacing_for(page.pk),
        )

    # -- public API -----------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a Graph path (no version, no leading slash needed) with retries and pauses.
        Thread-safe: calls from several threads go one at a time."""
        with self._lock:
            return self._with_pauses(
                lambda: self._with_retries(lambda: self._object_once("GET", path, params))
            )

    def post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST form fields to a Graph path, with the retries and pauses of `get`: only for
        writes that are safe to repeat (a retry may land twice), such as a subscription."""
        with self._lock:
            return self._with_pauses(
                lambda: self._with_retries(lambda: self._object_once("POST", path, data))
            )

    def get_page(self, page_id: str) -> dict[str, Any]:
        return self.get(page_id, {"fields": "id,name"})

    def batch(self, requests_: list[BatchRequest]) -> list[dict[str, Any] | GraphError]:
        """Send up to 50 GETs in one HTTP round trip. Meta still counts each one against the
        quota. Each item comes back as its parsed body or the GraphError it amounts to; a
        `null` item (timed out inside the batch) comes back as a TransientGraphError."""
        if not 0 < len(requests_) <= 50:
            raise ValueError("A batch holds 1 to 50 requests.")
        spec = [
            {"method": "GET", "relative_url": self._relative_url(r.path, r.params)}
            for r in requests_
        ]

        def send() -> list[Any]:
            body = self._request("POST", "", data={"batch": json.dumps(spec)}, units=len(spec))
            if not isinstance(body, list) or len(body) != len(spec):
                raise TransientGraphError("Graph returned a malformed batch response.")
            return body

        with self._lock:
            raw = self._with_pauses(lambda: self._with_retries(send))
        return [self._batch_item(item) for item in raw]

    # -- internals ------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def _relative_url(self, path: str, params: dict[str, Any]) -> str:
        query = dict(params)
        if self._proof:
            query["appsecret_proof"] = self._proof
        encoded = urlencode(query)
        return f"{self.version}/{path.lstrip('/')}" + (f"?{encoded}" if encoded else "")

    def _object_once(self, method: str, path: str, fields: dict[str, Any] | None) -> dict:
        key = "params" if method == "GET" else "data"
        body = self._request(method, path, **{key: dict(fields or {})})
        if not isinstance(body, dict):
            raise TransientGraphError("Graph returned JSON that is not an object.")
        return body

    def _request(self, method: str, path: str, *, units: int = 1, **kwargs: Any) -> Any:
        self._throttle(units)
        if self._proof:
            target = kwargs.setdefault("params" if method == "GET" else "data", {})
            target["appsecret_proof"] = self._proof
        if self.max_calls is not None and self.calls + units > self.max_calls:
            # A last guard against any loop that keeps calling Graph (a list that never ends).
            raise CallBudgetExceeded(f"This run used its budget of {self.max_calls} Graph calls")
        self.calls += units
        try:
            response = self.session.request(
                method, self._url(path), timeout=self.timeout, stream=True, **kwargs
            )
            content = self._read_body(response)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise TransientGraphError(
                f"Could not reach Graph: {scrub(type(exc).__name__, self._token)}"
            ) from None
        except requests.RequestException as exc:
            # Only the exception's name: its text can quote the request (headers included).
            raise GraphError(f"Request to Graph failed ({type(exc).__name__}).") from None
        self.api_version_served = response.headers.get("facebook-api-version", "")
        usage = parse_usage(response.headers.items(), self.page_id)
        self._note_usage(usage)
        try:
            body = parse_json(content)
        except ValueError:
            is_html = "html" in response.headers.get("content-type", "")
            kind = "an HTML page" if is_html else "a body that is not JSON"
            raise TransientGraphError(
                f"Graph answered HTTP {response.status_code} with {kind}.",
                http_status=response.status_code,
            ) from None
        if isinstance(body, dict) and "error" in body:
            error = error_from_payload(
                body, response.status_code, usage.regain_minutes if usage else 0, self._secrets
            )
            logger.log(
                level_of(error),
                "Graph error code=%s subcode=%s fbtrace_id=%s on %s",
                error.code,
                error.subcode,
                error.fbtrace_id,
                path or "batch",
            )
            raise error
        if response.status_code >= 500:
            raise TransientGraphError(
                f"Graph answered HTTP {response.status_code}.", http_status=response.status_code
            )
        return body

    def _read_body(self, response: requests.Response) -> bytes:
        """The whole body, within `deadline` seconds: the read timeout alone would let a
        response that trickles a byte at a time hold the run forever. `read1` returns what
        has arrived, so the deadline is checked between small reads."""
        deadline = time.monotonic() + self.deadline
        chunks = []
        try:
            while chunk := response.raw.read1(BODY_CHUNK_BYTES, decode_content=True):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise TransientGraphError(
                        f"Graph took more than {self.deadline:.0f} s to answer.",
                        http_status=response.status_code,
                    )
        except urllib3.exceptions.HTTPError as exc:  # a read timeout, a broken connection
            raise requests.ConnectionError(type(exc).__name__) from None
        finally:
            response.close()
        return b"".join(chunks)

    def _batch_item(self, item: Any) -> dict[str, Any] | GraphError:
        if item is None:
            return TransientGraphError("A batched request did not finish in time.")
        headers = [(h.get("name", ""), h.get("value", "")) for h in item.get("headers") or []]
        usage = parse_usage(headers, self.page_id)
        try:
            body = parse_json(item.get("body") or "")
        except (TypeError, ValueError):
            self._note_usage(usage)
            return TransientGraphError("A batched request returned a body that is not JSON.")
        if isinstance(body, dict) and "error" in body:
            error = error_from_payload(
                body, item.get("code"), usage.regain_minutes if usage else 0, self._secrets
            )
            # Each item counts against the Page's rate on its own: one item over the
            # per-second limit says nothing about the window, so it must not pause the run.
            per_second = isinstance(error, RateLimitError) and not (usage and usage.regain_minutes)
            if not per_second:
                self._note_usage(usage)
            return error
        self._note_usage(usage)
        if not isinstance(body, dict):
            return TransientGraphError("A batched request returned JSON that is not an object.")
        return body

    def _note_usage(self, usage: Usage | None) -> None:
        if usage is None:
            return
        self.last_usage = usage
        delay = 0.0
        if usage.regain_minutes > 0:
            delay = usage.regain_minutes * 60.0
        else:
            for threshold, seconds in USAGE_DELAYS:
                if usage.percent >= threshold:
                    delay = seconds
                    break
        if delay:
            self._next_call_at = max(self._next_call_at, self.clock() + delay)

    def _throttle(self, units: int) -> None:
        """Space calls to the per-Page rate and honour usage-based slow-downs."""
        now = self.clock()
        wait = self._next_call_at - now
        if wait > self.max_inline_pause:
            raise RateLimitError(
                f"Graph usage is high; pausing for {wait:.0f} s.", wait_seconds=wait
            )
        if wait > 0:
            self.sleep(wait)
            now = self.clock()
        self._next_call_at = max(self._next_call_at, now) + self._min_interval * units
        if self.call_spacing is not None:
            shared_wait = self.call_spacing.reserve(units)
            if shared_wait > 0:
                self.sleep(shared_wait)

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.info("Retrying Graph call after: %s", exc)

        retrying = Retrying(
            retry=retry_if_exception_type(TransientGraphError)
            & retry_if_not_exception_type(TooMuchDataError),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_random_exponential(multiplier=1, max=300),
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(call)

    def _with_pauses(self, call: Callable[[], Any]) -> Any:
        """Wait out throttling as Meta tells us, up to `max_inline_pause` at a time; a longer
        pause is raised so the caller can park the run instead of holding a worker."""
        for _ in range(self.max_pauses):
            try:
                result = call()
            except RateLimitError as exc:
                if not exc.told:
                    # No estimate from Meta: our default pause doubles while throttling
                    # repeats, up to an hour (graph-api.md §5.3).
                    exc.wait_seconds = min(
                        exc.wait_seconds * 2**self._default_pause_streak, MAX_DEFAULT_PAUSE
                    )
                    self._default_pause_streak += 1
                if exc.wait_seconds > self.max_inline_pause:
                    raise
                logger.warning(
                    "Graph throttled (code %s); pausing %.0f s", exc.code, exc.wait_seconds
                )
                self._next_call_at = 0.0
                self.sleep(exc.wait_seconds)
            else:
                self._default_pause_streak = 0
                return result
        return call()
