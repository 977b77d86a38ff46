"""The census: how many conversations a Page has, counted before a first or full sync walks
them, so every display can say "15 of 250" from the first seconds.

Facebook gives no total for `/{page}/conversations`. The census lists ids only, which is
light, so Graph accepts large pages (public code uses limit=400 for light fields,
graph-api.md §13.6): the first page of every folder in one call (as the walk reads its
tops), then the folders with more by themselves. On a 10,000-conversation Page that is
23 calls against the sync's 399 without it, 5.8 % (benchmark (h) in the README).

It is resumable like the walk: its position (folder, paging position, counts so far) is in
the checkpoint after every page. It never stops a sync by itself: a folder Graph refuses or
ignores counts as empty (the walk skips it too), and anything else unexpected ends the
census early, the walk then going on without a total, as it did before. Errors that stop the
whole run (token, rate limits) do stop it, and a resume continues counting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

from pages.graph.errors import (
    GraphConfigurationError,
    GraphError,
    ObjectError,
    TooMuchDataError,
)
from pages.graph.paging import next_position
from pages.models import FacebookPage
from pages.sync import findings
from pages.sync.checkpoint import FOLDERS, walk_start
from pages.sync.folders import FolderAvailability, FolderUnavailable
from pages.sync.listing import STOPPING_ERRORS, ConversationLists
from pages.sync.recorder import RunRecorder

logger = logging.getLogger(__name__)

# Below this the census is not worth its calls: it gives up and the walk goes on untotalled.
SMALLEST_CENSUS_PAGE = 25


class Census:
    def __init__(
        self,
        page: FacebookPage,
        lists: ConversationLists,
        folders: FolderAvailability,
        record: RunRecorder,
        *,
        check_stop: Callable[[], None],
    ) -> None:
        self.page = page
        self.lists = lists
        self.folders = folders
        self.record = record
        self.check_stop = check_stop
        self.limit = int(settings.SYNC_CENSUS_PAGE_SIZE)
        # The first page of every folder, read in one call when Graph allows it (not kept in
        # the checkpoint: a resume reads the folders it still has to count one by one).
        self._firsts: dict[str, dict[str, Any]] = {}

    @property
    def state(self) -> dict[str, Any]:
        return self.record.cp.census

    def run(self) -> None:
        """Count every folder, then hand over to the walk with the total."""
        try:
            if not self.state:
                self._start()
            while self.state["folderIndex"] < len(FOLDERS):
                self._count_folder(FOLDERS[self.state["folderIndex"]])
        except (*STOPPING_ERRORS, GraphConfigurationError):
            raise
        except GraphError as exc:
            # Counting is a nicety: the walk goes on without a total rather than not at all.
            logger.info("Census of page %s ended early (%s); no total", self.page.pk, exc)
            self.record.advance(phase="walk", **walk_start(self.record.cp.current))
        else:
            total = self.record.cp.counted
            self.record.advance(
                phase="walk",
                total=total,
                totalIsEstimate=False,
                **walk_start(self.record.cp.current),
            )
        self.record.report()

    def _start(self) -> None:
        """Read the first page of ids of every folder, in one call when Graph allows it."""
        state: dict[str, Any] = {"folderIndex": 0, "after": None, "counts": {}}
        folders = self.folders.prefetchable(FOLDERS)
        if folders and not findings.one_call_tops_refused(self.page):
            try:
                firsts = self.lists.ids_in_one_call(folders, self.limit)
            except STOPPING_ERRORS:
                raise
            except GraphError as exc:
                logger.info("Graph refused the one-call census of page %s (%s)", self.page.pk, exc)
            else:
                self._firsts = firsts
        self.record.advance(census=state)

    def _count_folder(self, folder: str) -> None:
        self.check_stop()
        position = self.state["after"]
        try:
            response = self._read(folder, position)
        except FolderUnavailable:
            self._next_folder(folder, 0)
            return
        items = response.get("data") if isinstance(response.get("data"), list) else []
        if position is None:
            try:
                self.folders.check_first_page(folder, items)
            except FolderUnavailable:
                self._next_folder(folder, 0)
                return
        count = self.state["counts"].get(folder, 0) + len(items)
        after = next_position(response.get("paging"))
        if after is None or after == position or not items:
            self._next_folder(folder, count)
            return
        self.record.advance(
            census={**self.state, "after": after, "counts": {**self.state["counts"], folder: count}}
        )
        self.record.report()

    def _read(self, folder: str, position: str | None) -> dict[str, Any]:
        if position is None and folder in self._firsts:
            return self._firsts.pop(folder)
        if folder not in self.folders.prefetchable([folder]):
            raise FolderUnavailable(folder)
        while True:
            try:
                return self.lists.fetch_ids(folder, position, self.limit)
            except ObjectError as exc:
                if position is None:
                    self.folders.check_refusal(folder, exc)
                raise
            except TooMuchDataError:
                if self.limit <= SMALLEST_CENSUS_PAGE:
                    raise
                self.limit = max(SMALLEST_CENSUS_PAGE, self.limit // 2)

    def _next_folder(self, folder: str, count: int) -> None:
        self.record.advance(
            census={
                **self.state,
                "folderIndex": self.state["folderIndex"] + 1,
                "after": None,
                "counts": {**self.state["counts"], folder: count},
            }
        )
        self.record.report()
