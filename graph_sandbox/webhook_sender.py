"""Posting webhook deliveries to a callback URL the way Meta does (graph-api.md §8.2–§8.4).

A background thread pool posts each delivery (``concurrency`` in flight at once); a delivery
answered non-2xx, timing out or refused is tried again at once, then after growing delays
(``retry_delay_seconds``, doubled each time), ``retries`` times in all. Meta sends some
deliveries twice (``duplicate_rate``), in no promised order (``shuffle``), and batches events
(``max_events_per_delivery``, up to 1000). Everything sent is kept in a log
(:meth:`WebhookSender.log`); :meth:`WebhookSender.wait` blocks until nothing is in flight and
:meth:`WebhookSender.stop` ends every thread (the server calls it when it stops).
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .webhook_events import Event, envelopes, epoch_ms, meta_json, signature_headers

MAX_EVENTS_PER_DELIVERY = 1000  # "batched (up to 1000 updates)" (§8.4)
MAX_CONCURRENCY = 64
USER_AGENT = "facebookexternalua"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Where and how deliveries are posted; ``url`` None: webhooks are off."""

    url: str | None = None
    duplicate_rate: float = 0.0
    shuffle: bool = False
    max_events_per_delivery: int = 1
    items_per_entry: int = 1
    standby: bool = False
    retries: int = 3
    retry_delay_seconds: float = 0.5
    concurrency: int = 8
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.url is not None:
            parts = urlsplit(str(self.url))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"webhook url must be http(s)://host/...: {self.url!r}")
        if not 0.0 <= float(self.duplicate_rate) <= 1.0:
            raise ValueError("duplicate_rate must be between 0 and 1")
        if not 1 <= int(self.max_events_per_delivery) <= MAX_EVENTS_PER_DELIVERY:
            raise ValueError(f"max_events_per_delivery must be 1..{MAX_EVENTS_PER_DELIVERY}")
        if int(self.items_per_entry) < 1:
            raise ValueError("items_per_entry must be >= 1")
        if int(self.retries) < 0 or float(self.retry_delay_seconds) < 0:
            raise ValueError("retries and retry_delay_seconds must be >= 0")
        if not 1 <= int(self.concurrency) <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}")
        if float(self.timeout_seconds) <= 0:
            raise ValueError("timeout_seconds must be > 0")


@dataclass(slots=True)
class Delivery:
    """One POST body (a duplicate is a delivery of its own, with the same bytes)."""

    id: int
    url: str
    body: bytes  # emptied once the delivery ends, so a long-running sandbox stays small
    headers: dict[str, str]
    kinds: list[str]
    mids: list[str]
    pages: list[str]
    config: WebhookConfig
    duplicate_of: int | None = None
    size: int = 0
    raw: bool = False
    attempts: int = 0
    status: int | None = None  # the last answer's status code; None: no answer
    error: str | None = None  # why the last attempt got no answer (timeout, refused...)
    state: str = "queued"  # queued, sending, retrying, delivered, failed, stopped
    attempt_statuses: list[int | None] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "delivered": self.state == "delivered",
            "attempts": self.attempts,
            "status": self.status,
            "statuses": list(self.attempt_statuses),
            "error": self.error,
            "duplicated": self.duplicate_of is not None,
            "duplicate_of": self.duplicate_of,
            "raw": self.raw,
            "events": len(self.kinds),
            "kinds": list(self.kinds),
            "mids": list(self.mids),
            "pages": list(self.pages),
            "bytes": self.size,
        }


class WebhookSender:
    """Builds, signs and posts deliveries in the background; see the module docstring."""

    def __init__(self, seed: int = 1) -> None:
        self.config = WebhookConfig()
        self.edits: dict[str, int] = {}  # mid -> how many times the sandbox edited it
        self._rng = random.Random(f"{seed}:webhooks")  # duplicates and shuffles, reproducible
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._stopping = threading.Event()
        self._log: list[Delivery] = []
        self._in_flight = 0
        self._connections: set[http.client.HTTPConnection] = set()

    @property
    def enabled(self) -> bool:
        return self.config.url is not None

    def configure(self, **options: Any) -> dict[str, Any]:
        """Set the whole configuration (what is not given takes its default)."""
        config = WebhookConfig(**options)
        with self._lock:
            self.config = config
            old = None
            if self._pool is not None and self._pool_size != config.concurrency:
                old, self._pool = self._pool, None  # the next delivery starts one of the new size
        if old is not None:
            old.shutdown(wait=True)  # what it holds is still posted, then its threads end
        return asdict(config)

    # -- sending ----------------------------------------------------------------------------

    def send_events(
        self, events: list[Event], secret: str, standby: bool | None = None
    ) -> list[int]:
        """Post ``events`` (batched, maybe shuffled and duplicated); returns delivery ids."""
        config = self.config
        if config.url is None:
            raise ValueError("no webhook URL: call configure_webhooks(url=...) first")
        with self._lock:
            events = list(events)
            if config.shuffle:
                self._rng.shuffle(events)
            bodies = envelopes(
                events,
                int(config.max_events_per_delivery),
                int(config.items_per_entry),
                config.standby if standby is None else bool(standby),
                epoch_ms(time.time()),
            )
            deliveries: list[Delivery] = []
            for body, chunk in bodies:
                raw = meta_json(body)
                headers = signature_headers(raw, secret)
                original = self._new(config, raw, headers, chunk)
                deliveries.append(original)
                if config.duplicate_rate and self._rng.random() < config.duplicate_rate:
                    deliveries.append(self._new(config, raw, headers, chunk, original.id))
            if config.shuffle:
                self._rng.shuffle(deliveries)
            self._submit(deliveries)
        return [d.id for d in deliveries]

    def send_raw(self, body: bytes, headers: dict[str, str]) -> int:
        """Post ``body`` as it is with these signature headers (no batching, no duplicate)."""
        config = self.config
        if config.url is None:
            raise ValueError("no webhook URL: call configure_webhooks(url=...) first")
        with self._lock:
            delivery = self._new(config, body, headers, [])
            delivery.raw = True
            self._submit([delivery])
        return delivery.id

    def _new(
        self,
        config: WebhookConfig,
        body: bytes,
        headers: dict[str, str],
        events: list[Event],
        duplicate_of: int | None = None,
    ) -> Delivery:
        delivery = Delivery(
            id=len(self._log) + 1,
            url=str(config.url),
            body=body,
            headers=headers,
            kinds=[e.kind for e in events],
            mids=[e.about["mid"] for e in events if e.about.get("mid")],
            pages=sorted({e.page_id for e in events}),
            config=config,
            duplicate_of=duplicate_of,
            size=len(body),
        )
        self._log.append(delivery)
        return delivery

    def _submit(self, deliveries: list[Delivery]) -> None:
        """Queue deliveries on the pool (called with the lock held)."""
        if self._pool is None:
            self._stopping.clear()
            self._pool_size = int(self.config.concurrency)
            self._pool = ThreadPoolExecutor(self._pool_size, thread_name_prefix="sandbox-webhook")
        for delivery in deliveries:
            self._in_flight += 1
            self._pool.submit(self._deliver, delivery)

    def _deliver(self, delivery: Delivery) -> None:
        config = delivery.config
        try:
            for attempt in range(int(config.retries) + 1):
                # Meta retries at once, then less and less often (§8.4)
                delay = (
                    float(config.retry_delay_seconds) * 2 ** (attempt - 2) if attempt >= 2 else 0
                )
                if self._stopping.wait(delay):  # True once stop() was called
                    break
                self._set(delivery, state="sending")
                status, error = self._post(delivery)
                with self._lock:
                    delivery.attempts += 1
                    delivery.status, delivery.error = status, error
                    delivery.attempt_statuses.append(status)
                    if status is not None and 200 <= status < 300:
                        delivery.state = "delivered"
                        return
                    delivery.state = "retrying"
            self._set(delivery, state="stopped" if self._stopping.is_set() else "failed")
        finally:
            with self._lock:
                delivery.body = b""
                self._in_flight -= 1
                self._idle.notify_all()

    def _set(self, delivery: Delivery, state: str) -> None:
        with self._lock:
            delivery.state = state

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        parts = urlsplit(delivery.url)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = kind(parts.hostname, parts.port, timeout=float(delivery.config.timeout_seconds))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Connection": "close",
            **delivery.headers,
        }
        with self._lock:
            self._connections.add(conn)
        try:
            conn.request("POST", path, body=delivery.body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status, None
        except TimeoutError:
            return None, "timeout"
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:200]
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    # -- watching and stopping --------------------------------------------------------------

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        """Every delivery with an id above ``since``, oldest first."""
        with self._lock:
            return [d.record() for d in self._log[int(since) :]]

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is queued, being sent or waiting to retry; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, float(timeout))

    def stop(self) -> None:
        """Stop sending: waiting retries give up, open connections are cut, threads end."""
        self._stopping.set()
        with self._lock:
            pool, self._pool = self._pool, None
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError, AttributeError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for delivery in self._log:
                if delivery.state in ("queued", "sending", "retrying"):
                    delivery.state, delivery.body = "stopped", b""
            self._in_flight = 0
            self._idle.notify_all()
