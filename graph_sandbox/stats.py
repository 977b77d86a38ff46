"""Request statistics: counts by kind and a log of recent requests, per page. Guarded by the
sandbox's lock."""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Request
    from .dataset import Page
    from .result import Result

STAT_KINDS = (
    "page", "conversations", "messages", "conversation", "batch", "batch_items", "debug_token",
)  # fmt: skip


class RequestStats:
    def __init__(self) -> None:
        self._counts: dict[str | None, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)

    def record(
        self, req: Request, kind: str, page: Page | None, result: Result, in_batch: bool
    ) -> None:
        pid = page.id if page else None
        counts = self._counts[pid]
        counts[kind] += 1
        counts["total"] += 1
        error_code = None
        if isinstance(result.body, dict) and "error" in result.body:
            error_code = result.body["error"]["code"]
        if result.status >= 400 or error_code is not None or result.transport or result.null:
            counts["errors"] += 1
        if in_batch:
            counts["batch_items"] += 1
        params = {
            k: req.params[k]
            for k in ("folder", "after", "before", "limit", "fields")
            if k in req.params
        }
        self._recent.append(
            {
                "kind": kind,
                "path": req.path,
                "version": req.version,
                "params": params,
                "status": result.status,
                "error_code": error_code,
                "fault": result.transport
                or req.fault
                or ("batch_timeout" if result.null else None),
                "page_id": pid,
                "in_batch": in_batch,
                "time": time.time(),
            }
        )

    def record_batch(self, page_id: str | None) -> None:
        self._counts[page_id]["batch"] += 1

    def summary(self, page_id: str | None = None) -> dict[str, Any]:
        total: collections.Counter[str] = collections.Counter()
        for pid, counts in self._counts.items():
            if page_id is None or pid == str(page_id):
                total.update(counts)
        out: dict[str, Any] = {k: total[k] for k in (*STAT_KINDS, "unknown")}
        out["total"] = total["total"]
        out["errors"] = total["errors"]
        out["requests"] = [
            dict(r) for r in self._recent if page_id is None or r["page_id"] == str(page_id)
        ]
        return out
