"""Reading a Page's conversation lists (and older messages) from Graph for the engine (no
database here).

- `prefetch_tops` reads the top page of several folders in one call: the conversations edge
  expanded once per folder on the Page node (field expansion counts as a single call against
  the quota, graph-api.md §7). Graph leaves out an expanded edge with no data, so a folder
  missing from an otherwise well-formed answer is an empty folder. If Graph refuses that form,
  an incremental run tries a batch (one round trip, but each item is a call; an item Graph
  throttles is simply read later); otherwise folders are read one by one.
- `read_ahead` fetches the next page in a background thread while the engine writes the
  current one. Only HTTP happens there; the page is used, or thrown away, by `get`.
- Every read drops a field Graph says it no longer has, and asks again (pages.sync.fields);
  a list that keeps failing with code 1 is asked for in smaller pages.
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
    TooMuchDataError,
    TransientGraphError,
)
from pages.graph.paging import position_params
from pages.sync.fields import FieldSet, RequiredFieldRemoved, removed_field
from pages.sync.sizes import PageSizes

logger = logging.getLogger(__name__)

STOPPING_ERRORS = (TokenError, PolicyBlockError, RateLimitError, RequiredFieldRemoved)
OLDER_MESSAGES_PAGE_SIZE = 100
EMPTY_LIST: dict[str, Any] = {"data": []}


class ConversationLists:
    def __init__(
        self,
        client: GraphClient,
        page_id: str,
        *,
        fields: FieldSet,
        sizes: PageSizes,
        batch_limit: int = 50,
        before_wait: Callable[[], None] = lambda: None,
        on_field_removed: Callable[[str], None] = lambda field: None,
    ) -> None:
        self.client = client
        self.page_id = page_id
        self.fields = fields
        self.sizes = sizes
        # Older messages per call (/messages), halved when Graph finds a thread too heavy.
        self.messages_page = OLDER_MESSAGES_PAGE_SIZE
        # Each batch item counts against the Page's rate: a batch never asks for more calls
        # than the rate allows at once.
        self.batch_limit = max(1, batch_limit)
        # Called when `get` is about to block on a read-ahead still in flight.
        self.before_wait = before_wait
        self.on_field_removed = on_field_removed
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
                "limit": self.sizes.conversations,
                **position_params(after),
            }
            try:
                response = self._get(f"{self.page_id}/conversations", params)
            except TransientGraphError as exc:
                # Code 1 that outlasts the client's retries usually means "reduce the amount
                # of data you're asking for" (pages.sync.sizes). Cursors stay valid.
                if exc.code != UNKNOWN_ERROR_CODE:
                    raise
                self.sizes.refused()
                logger.info(
                    "Graph keeps failing with code 1 on page %s: asking for %d conversations "
                    "with %d messages each",
                    self.page_id,
                    self.sizes.conversations,
                    self.sizes.messages,
                )
                continue
            data = response.get("data")
            self.sizes.accepted(conversations_returned=len(data) if isinstance(data, list) else 0)
            return response

    def fetch_ids(self, folder: str, position: str | None, limit: int) -> dict[str, Any]:
        """A page of a folder's conversation ids only (the census: light, so large pages)."""
        params = {"platform": "messenger", "folder": folder, "limit": limit}
        return self.client.get(
            f"{self.page_id}/conversations",
            {**params, **position_params(position), "fields": "id"},
        )

    def ids_in_one_call(self, folders: Sequence[str], limit: int) -> dict[str, dict[str, Any]]:
        """The first page of ids of every folder in one call (as `prefetch_tops`; a missing
        folder is an empty one). Raises GraphError when Graph refuses that form."""
        expanded = ",".join(
            f"conversations.platform(messenger).folder({folder}).limit({limit}).as({folder}){{id}}"
            for folder in folders
        )
        node = self.client.get(self.page_id, {"fields": expanded})
        if str(node.get("id", "")) != self.page_id and not any(f in node for f in folders):
            raise GraphError("Graph answered the expanded folder ids without their lists")
        lists = {folder: node.get(folder, EMPTY_LIST) for folder in folders}
        if not all(_is_list(ids) for ids in lists.values()):
            raise GraphError("Graph answered the expanded folder ids without their lists")
        return lists

    def fetch_messages(
        self, conversation_id: str, position: str, limit: int = OLDER_MESSAGES_PAGE_SIZE
    ) -> dict[str, Any]:
        """A page of a conversation's older messages, from `position` (pages.graph.paging).
        A thread too heavy for Graph is read in smaller pages, for the rest of the run."""
        while True:
            try:
                return self._get(
                    f"{conversation_id}/messages",
                    {"limit": min(limit, self.messages_page), **position_params(position)},
                    fields=FieldSet.messages_spec,
                )
            except TooMuchDataError:
                if min(limit, self.messages_page) == 1:
                    raise
                self.messages_page = max(1, min(limit, self.messages_page) // 2)

    def _get(
        self,
        path: str,
        params: dict[str, Any],
        *,
        fields: Callable[[FieldSet], str] = FieldSet.conversations_spec,
    ) -> dict[str, Any]:
        """GET with the current fields; a field Graph no longer has is dropped, and the call
        made again without it."""
        while True:
            try:
                return self.client.get(path, {**params, "fields": fields(self._fields())})
            except GraphError as exc:
                self._drop_removed_field(exc)

    def _fields(self) -> FieldSet:
        return self.fields.with_messages_limit(self.sizes.messages)

    def _drop_removed_field(self, exc: GraphError) -> None:
        """Drop the field `exc` says Graph no longer has; re-raise `exc` if it says nothing
        of the kind."""
        field = removed_field(exc)
        if field is None:
            raise exc
        self.fields = self.fields.without(field)
        logger.info("Graph no longer has the field %r on page %s", field, self.page_id)
        self.on_field_removed(field)

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

    def prefetch_tops(
        self, folders: Sequence[str], *, batch_fallback: bool, one_call: bool = True
    ) -> None:
        """Read the first page of `folders` ahead: in one call (unless the Page is known to
        refuse it), else in one batch when `batch_fallback`."""
        self._tops = {}
        if not folders:
            return
        if one_call:
            try:
                self._tops = self._tops_in_one_call(folders)
                return
            except STOPPING_ERRORS:
                raise
            except GraphError as exc:
                logger.info("Graph refused the expanded folder tops (%s)", exc)
        if batch_fallback:
            self._tops = self._tops_in_a_batch(folders)

    def _tops_in_one_call(self, folders: Sequence[str]) -> dict[str, Any]:
        while True:
            spec = self._fields().conversations_spec()
            expanded = ",".join(
                f"conversations.platform(messenger).folder({folder})"
                f".limit({self.sizes.conversations}).as({folder}){{{spec}}}"
                for folder in folders
            )
            try:
                node = self.client.get(self.page_id, {"fields": expanded})
            except GraphError as exc:
                self._drop_removed_field(exc)
                continue
            # Graph leaves out an expanded edge with no data: in an answer about this Page, a
            # missing folder is an empty one.
            about_this_page = str(node.get("id", "")) == self.page_id
            if not (about_this_page or any(folder in node for folder in folders)):
                raise GraphError("Graph answered the expanded folder tops without their lists")
            tops = {folder: node.get(folder, EMPTY_LIST) for folder in folders}
            if not all(_is_list(top) for top in tops.values()):
                raise GraphError("Graph answered the expanded folder tops without their lists")
            return tops

    def _tops_in_a_batch(self, folders: Sequence[str]) -> dict[str, Any]:
        base = {
            "platform": "messenger",
            "fields": self._fields().conversations_spec(),
            "limit": self.sizes.conversations,
        }
        folders = folders[: self.batch_limit]  # the others are read one by one
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
            return {}
        tops: dict[str, Any] = {}
        for folder, result in zip(folders, results, strict=True):
            if isinstance(result, RateLimitError):
                # Each item counts against the Page's rate on its own: this folder is read
                # normally later, after the client's spacing.
                continue
            if isinstance(result, STOPPING_ERRORS):
                raise result
            tops[folder] = result
        return tops

    def close(self) -> None:
        self._reader.shutdown(wait=True, cancel_futures=True)


def _is_list(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("data"), list)
