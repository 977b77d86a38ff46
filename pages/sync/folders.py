"""Which folders Graph really serves for a Page, learned while a run reads them.

Graph may refuse a folder value (#100 on its first page) or silently ignore it and answer
with the inbox (graph-api.md §13.3; `page_done` and `spam` are seen in public code, `pending`
is not confirmed). Either way the folder is recorded as unavailable for the Page
(pages.sync.findings), skipped, and the run goes on: inbox threads are never filed under the
wrong folder, and nothing else stops. A folder that answers normally again is available again.
"""

from __future__ import annotations

import logging
from typing import Any

from pages.graph.errors import GraphError
from pages.models import FacebookPage
from pages.sync import findings
from pages.sync.fields import removed_field
from pages.sync.listing import ConversationLists

logger = logging.getLogger(__name__)

INBOX = "inbox"


class FolderUnavailable(Exception):
    """Graph refuses or ignores this folder for this Page: the walk skips it."""


def _ids(items: list[Any]) -> set[str]:
    return {str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")}


class FolderAvailability:
    def __init__(self, page: FacebookPage, lists: ConversationLists) -> None:
        self.page = page
        self.lists = lists
        self._inbox_top: set[str] | None = None

    def prefetchable(self, folders: tuple[str, ...] | list[str]) -> list[str]:
        """The folders worth asking for in the one call for all tops: one Graph refuses
        would fail the whole call, every run."""
        refused = {
            folder
            for folder, state in findings.unavailable_folders(self.page).items()
            if state == findings.REFUSED
        }
        return [folder for folder in folders if folder not in refused]

    def check_refusal(self, folder: str, error: GraphError) -> None:
        """The first page of `folder` failed with `error`: raise FolderUnavailable when that
        is Graph refusing the folder (and record it); return otherwise."""
        if folder == INBOX or error.code != 100 or removed_field(error):
            return
        logger.info("Graph refuses the %s folder of page %s: %s", folder, self.page.pk, error)
        findings.record_folder(self.page, folder, findings.REFUSED, str(error))
        raise FolderUnavailable(folder)

    def check_first_page(self, folder: str, items: list[Any]) -> None:
        """Look at a folder's first page: raise FolderUnavailable when it is the inbox
        again (Graph ignored the folder), and record what was found either way."""
        ids = _ids(items)
        if folder == INBOX:
            self._inbox_top = ids
            return
        if ids and self._shares_inbox_threads(ids):
            logger.info("Graph ignores the %s folder of page %s", folder, self.page.pk)
            findings.record_folder(
                self.page,
                folder,
                findings.IGNORED,
                "Graph answered with the inbox's conversations instead of this folder's.",
            )
            raise FolderUnavailable(folder)
        findings.record_available_folder(self.page, folder)

    def _shares_inbox_threads(self, ids: set[str]) -> bool:
        """A conversation is in one folder only: a page that shares most of its threads with
        the inbox's first page is the inbox. (Taken on resume with one extra call when the
        inbox was read by an earlier run.)"""
        if self._inbox_top is None:
            top = self.lists.fetch(INBOX, None)
            self._inbox_top = _ids(top.get("data") or [])
        shared = len(ids & self._inbox_top)
        # (One shared thread alone may just have moved between the two reads.)
        return ids == self._inbox_top or (
            shared >= 2 and shared * 2 >= min(len(ids), len(self._inbox_top))
        )
