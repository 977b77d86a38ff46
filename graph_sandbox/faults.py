"""Fault configuration, the one-shot fault queue and the per-page usage/rate windows."""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

from . import errors, horizon
from .odd_values import kinds_of
from .real_graph import WEIGHT_MAX_LIMIT, fields_of, folders_of

KINDS = (
    "transient",  # HTTP 500 JSON code 2, is_transient
    "server_error_html",  # HTTP 502 with an HTML body
    "invalid_json",  # HTTP 200, JSON body cut in half
    "html_200",  # HTTP 200 with a text/html body
    "drop_connection",  # socket closed without any response
    "rate_limit",  # params: code (4, 17, 32, 341, 613, 80001, 80006), estimated_minutes
    "token_expired",  # 190/463; the page's token stays invalid until set_token()
    "policy_block",  # 368
    "permission",  # params: code (10 or 200)
    "object_error",  # 100/33; param object_id limits it to one conversation
    "heavy",  # code 1 "Please reduce the amount of data ..."
    "empty_page",  # list answered with data [] and a `next` to the same position
    "short_page",  # list answered with only the first half of the page (next still right)
    "batch_timeout",  # a batch item answered with null (batch items only)
)
ENDPOINTS = ("any", "page", "conversations", "conversation", "messages")
# faults that replace the whole HTTP response: they never match batch sub-requests
TRANSPORT_KINDS = ("server_error_html", "invalid_json", "html_200", "drop_connection")


@dataclass
class FaultConfig:
    """Runtime-configurable behaviour (constructor kwargs of Sandbox, ``configure()``)."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    transient_error_rate: float = 0.0
    rate_limit_per_second: float | None = None
    cursor_ttl_seconds: float | None = None
    hourly_call_budget: int = 100_000
    enforce_hourly_budget: bool = False
    app_secret: str | None = None
    # Odd values served (graph_sandbox.odd_values): True gives every kind; kept as a tuple.
    odd_values: tuple[str, ...] = ()
    # The real Graph's other behaviours (graph_sandbox.real_graph), all off by default.
    omit_empty_edges: bool = False
    refused_folders: tuple[str, ...] = ()
    ignored_folders: tuple[str, ...] = ()
    cursorless_messages: bool = False
    cursorless_conversations: bool = False
    removed_fields: tuple[str, ...] = ()
    weight_budget: int | None = None
    weight_max_limit: int = WEIGHT_MAX_LIMIT
    batch_item_rate_limit: float | None = None
    # Facebook Login (graph_sandbox.oauth): the app's allowed redirect URIs (a list or "a,b";
    # None: any), and how long a dialog's code can be exchanged
    oauth_redirect_uris: tuple[str, ...] | str | None = None
    oauth_code_ttl_seconds: float = 600.0
    # attachment bytes (graph_sandbox.media): how long a URL works, HTML served under the
    # claimed type, every file padded to at least N bytes, a share of media GETs answered 500
    media_url_ttl_seconds: float = 3 * 86400.0
    media_lies: bool = False
    media_large: int | None = None
    media_fail_rate: float = 0.0
    # Messenger's history horizon (graph_sandbox.horizon): older messages are never returned
    history_horizon_days: float | None = None
    history_horizon_messages: int | None = None

    def update(self, **options: Any) -> None:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(options) - names
        if unknown:
            raise TypeError(f"unknown sandbox option(s): {', '.join(sorted(unknown))}")
        if "odd_values" in options:
            options["odd_values"] = kinds_of(options["odd_values"])
        for name in ("refused_folders", "ignored_folders"):
            if name in options:
                options[name] = folders_of(options[name])
        horizon.check_options(options)
        if "removed_fields" in options:
            options["removed_fields"] = fields_of(options["removed_fields"])
        for name, value in options.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Fault:
    kind: str
    count: int | None = 1  # None: fires on every matching call until clear_faults()
    after_calls: int = 0  # let this many matching calls through first
    endpoint: str = "any"
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, endpoint: str, object_id: str | None, in_batch: bool) -> bool:
        if in_batch and self.kind in TRANSPORT_KINDS:
            return False
        if self.kind == "batch_timeout" and not in_batch:
            return False
        if self.endpoint != "any" and self.endpoint != endpoint:
            return False
        target = self.params.get("object_id")
        return target is None or target == object_id


class FaultQueue:
    """One-shot faults, checked in insertion order; at most one fires per call."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(
        self,
        kind: str,
        count: int | None = 1,
        after_calls: int = 0,
        endpoint: str = "any",
        **params: Any,
    ) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        if kind == "rate_limit" and params.get("code", 613) not in errors.RATE_LIMIT_MESSAGES:
            raise ValueError(f"rate_limit code must be one of {sorted(errors.RATE_LIMIT_MESSAGES)}")
        if kind == "permission" and params.get("code", 10) not in (10, 200):
            raise ValueError("permission code must be 10 or 200")
        fault = Fault(kind, count, after_calls, endpoint, params)
        self.faults.append(fault)
        return fault

    def take(self, endpoint: str, object_id: str | None, in_batch: bool) -> Fault | None:
        fired = None
        for fault in self.faults:
            if not fault.matches(endpoint, object_id, in_batch):
                continue
            if fault.after_calls > 0:
                fault.after_calls -= 1
                continue
            fired = fault
            break
        if fired is not None and fired.count is not None:
            fired.count -= 1
            if fired.count <= 0:
                self.faults.remove(fired)
        return fired

    def clear(self) -> None:
        self.faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(f) for f in self.faults]


class PageMeter:
    """Per-page call accounting: the hourly usage window and the trailing-second window."""

    WINDOW = 3600.0

    def __init__(self) -> None:
        self.hour: collections.deque[tuple[float, float]] = collections.deque()  # (t, cpu)
        self.second: collections.deque[float] = collections.deque()
        self.forced: dict[str, int] | None = None

    def force(self, *values: int | None) -> None:
        """Force the usage values (call_count, total_cputime, total_time, estimated minutes);
        all ``None`` goes back to computed values."""
        if all(v is None for v in values):
            self.forced = None
            return
        names = ("call_count", "total_cputime", "total_time", "estimated_time_to_regain_access")
        self.forced = {name: int(v or 0) for name, v in zip(names, values, strict=True)}

    def _trim(self, now: float) -> None:
        while self.hour and self.hour[0][0] <= now - self.WINDOW:
            self.hour.popleft()
        while self.second and self.second[0] <= now - 1.0:
            self.second.popleft()

    def over_rate(self, limit: float | None, now: float) -> bool:
        """True if one more call now would exceed ``limit`` calls in the trailing 1.0 s."""
        if limit is None:
            return False
        self._trim(now)
        return len(self.second) + 1 > limit

    def record(self, now: float, cpu: float, accepted: bool) -> None:
        self._trim(now)
        self.hour.append((now, cpu))
        if accepted:
            self.second.append(now)

    def usage(self, budget: int, now: float) -> dict[str, int]:
        if self.forced is not None:
            return dict(self.forced)
        self._trim(now)
        calls = len(self.hour)
        cpu = sum(c for _, c in self.hour)
        call_pct = min(100, calls * 100 // max(budget, 1))
        regain = 0
        if call_pct >= 100 and self.hour:
            regain = max(1, math.ceil((self.hour[0][0] + self.WINDOW - now) / 60))
        return {
            "call_count": call_pct,
            "total_cputime": min(100, int(cpu * 100 / max(budget, 1))),
            "total_time": min(100, int(cpu * 130 / max(budget, 1))),
            "estimated_time_to_regain_access": regain,
        }


def now() -> float:
    return time.monotonic()
