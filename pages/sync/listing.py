"""Reading a Page's conversation lists from Graph for the engine (no database here).

- `prefetch_tops` reads the top page of several folders in one call: the conversations edge
  expanded once per folder on the Page node (field expansion counts as a single call against
  the quota, graph-api.md §7). If Graph refuses that form, an incremental run tries a batch
  (one round trip, but each item is a call); otherwise folders are read one by one.
- `read_ahead` fetches the next page in a background thread while the engine writes the
  current one. Only HTTP happens there; the page is used, or thrown away, by `get`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import connections

from pages.graph.client import BatchRequest, GraphClient
from pages.graph.errors import (
    UNKNOWN_ERROR_CODE,
    GraphError,
    PolicyBlockError,
    RateLimitError,
    TokenError,
    TransientGraphError,
)
from pages.graph.paging import position_params

logger = logging.getLogger(__name__)

STOPPING_ERRORS = (TokenError, PolicyBlockError, RateLimitError)


class ConversationLists:
    def __init__(
        self,
        client: GraphClient,
        page_id: str,
        *,
        fields: str,
        page_size: int,
        before_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.page_id = page_id
        self.fields = fields
        self.page_size = page_size
        # Called when `get` is about to block on a read-ahead still in flight.
        self.before_wait = before_wait
        self._tops: dict[str, dict[str, Any] | GraphError] = {}
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-read-ahead")
        self._pending: tuple[str, str, Future] | None = None

    def get(self, folder: str, after: str | None) -> dict[str, Any]:
        """One page of a folder's list: a prefetched top, the page read ahead, or a fresh call."""
        if after is None and folder in self._tops:
            top = self._tops.pop(folder)
            if not isinstance(top, GraphError):
                return top
        return self._take_read_ahead(folder, after) or self.fetch(folder, after)

    def fetch(self, folder: str, after: str | None) -> dict[str, Any]:
        while True:
            params = {
                "platform": "messenger",
                "folder": folder,
                "fields": self.fields,
                "limit": self.page_size,
            }
            params.update(position_params(after))
            try:
                return self.client.get(f"{self.page_id}/conversations", params)
            except TransientGraphError as exc:
                # Code 1 that outlasts the client's retries usually means "reduce the amount
                # of data you're asking for" (graph-api.md §6, §12.12): ask for fewer
                # conversations per page, for the rest of the run. Cursors stay valid.
                if exc.code != UNKNOWN_ERROR_CODE or self.page_size == 1:
                    raise
                self.page_size = max(1, self.page_size // 2)
                logger.warning(
                    "Graph keeps failing with code 1 on page %s: asking for %d conversations "
                    "per page",
                    self.page_id,
                    self.page_size,
                )

    def read_ahead(self, folder: str, after: str) -> None:
        def fetch() -> dict[str, Any]:
            try:
                return self.fetch(folder, after)
            finally:
                connections.close_all()  # this thread's, if the shared call spacing used one

        self._pending = (folder, after, self._reader.submit(fetch))

    def _take_read_ahead(self, folder: str, after: str | None) -> dict[str, Any] | None:
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        pending_folder, pending_after, future = pending
        if (pending_folder, pending_after) == (folder, after):
            if not future.done():
                self.before_wait()
            return future.result()
        future.cancel()
        return None

    def prefetch_tops(self, folders: Sequence[str], *, batch_fallback: bool) -> None:
        expanded = ",".join(
            f"conversations.platform(messenger).folder({folder})"
            f".limit({self.page_size}).as({folder}){{{self.fields}}}"
            for folder in folders
        )
        self._tops = {}
        try:
            node = self.client.get(self.page_id, {"fields": expanded})
            if all(isinstance(node.get(folder), dict) for folder in folders):
                self._tops = {folder: node[folder] for folder in folders}
                return
        except STOPPING_ERRORS:
            raise
        except GraphError as exc:
            logger.info("Graph refused the expanded folder tops (%s)", exc)
        if not batch_fallback:
            return
        base = {"platform": "messenger", "fields": self.fields, "limit": self.page_size}
        requests_ = [
            BatchRequest(f"{self.page_id}/conversations", {**base, "folder": folder})
            for folder in folders
        ]
        try:
            results = self.client.batch(requests_)
        except STOPPING_ERRORS:
            raise
        except GraphError as exc:
            logger.info("Batch prefetch failed (%s); reading folders one by one", exc)
            return
        for folder, result in zip(folders, results, strict=True):
            if isinstance(result, STOPPING_ERRORS):
                raise result
            self._tops[folder] = result

    def close(self) -> None:
        self._reader.shutdown(wait=True, cancel_futures=True)
