"""The Graph reads of a verify run (pages.sync.verify) and its check of one thread's messages.

- `LightList`: a folder's conversations with light fields only (large pages, as the census
  reads ids), and one conversation with the sync's fields (for a repair through ingest). A
  field Graph no longer has is dropped and the call made again (pages.sync.fields).
- `ThreadCheck`: which messages of a stored thread are missing. The thread is paged newest
  first over what a sync would hold of it: everything for a thread whose history is
  complete, else its newest SYNC_MESSAGES_PER_CONVERSATION and whatever is newer than the
  oldest message stored (the history backfill fetches older ones); never older than the
  Page's retention. A repair stores them with `store_older_messages` (insert or ignore).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Coalesce

from conversations import parsing
from conversations.history import store_older_messages
from conversations.models import Conversation, Message
from conversations.parsing import BadConversationData, MessageData
from media.pipeline import note_new_messages
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, ObjectError, TokenError, TooMuchDataError
from pages.graph.paging import position_params
from pages.models import FacebookPage
from pages.sync.fields import REQUIRED_FIELDS, FieldSet, removed_field
from pages.sync.listing import ConversationLists
from pages.sync.verify_report import VerifyReport

LIGHT_FIELDS = ("id", "updated_time", "message_count", "participants")
# Below this a list page is not made smaller: Graph's refusal ends the run.
SMALLEST_LIST_PAGE = 25


@dataclass(frozen=True)
class Held:
    """What is stored of one conversation."""

    pk: int
    synced_time: datetime  # the updated_time its last sync stored
    history_complete: bool
    messages: int


def held_of(page: FacebookPage, facebook_id: str | None = None) -> dict[str, Held]:
    """What is stored per conversation of the Page (or of one): its sync's updated_time,
    whether its history is complete, and how many messages."""
    rows = Conversation.objects.filter(page=page)
    if facebook_id is not None:
        rows = rows.filter(facebook_id=facebook_id)
    rows = rows.annotate(
        synced=Coalesce("synced_updated_time", "updated_time"), held=Count("messages")
    ).values_list("facebook_id", "pk", "synced", "history_complete", "held")
    return {row[0]: Held(*row[1:]) for row in rows}


class LightList:
    def __init__(self, client: GraphClient, page_id: str, degraded: Iterable[str]) -> None:
        self.client = client
        self.page_id = page_id
        gone = set(degraded) - REQUIRED_FIELDS
        self.fields = tuple(f for f in LIGHT_FIELDS if f not in gone)
        self.limit = int(settings.SYNC_CENSUS_PAGE_SIZE) or 100

    def read(self, folder: str, position: str | None) -> dict[str, Any]:
        """A page of a folder's conversations, light fields only."""
        while True:
            params = {"platform": "messenger", "folder": folder, "limit": self.limit}
            try:
                return self.client.get(
                    f"{self.page_id}/conversations",
                    {**params, **position_params(position), "fields": ",".join(self.fields)},
                )
            except TooMuchDataError:
                if self.limit <= SMALLEST_LIST_PAGE:
                    raise
                self.limit = max(SMALLEST_LIST_PAGE, self.limit // 2)
            except GraphError as exc:
                field = removed_field(exc)
                if field is None or field in REQUIRED_FIELDS or field not in self.fields:
                    raise
                self.fields = tuple(f for f in self.fields if f != field)

    def conversation(self, conversation_id: str, fields: FieldSet) -> dict[str, Any]:
        """One conversation with the sync's fields and its newest messages."""
        while True:
            try:
                return self.client.get(conversation_id, {"fields": fields.conversations_spec()})
            except GraphError as exc:
                field = removed_field(exc)
                if field is None:
                    raise
                fields = fields.without(field)  # raises for a field the sync needs


class ThreadCheck:
    def __init__(
        self,
        page: FacebookPage,
        lists: ConversationLists,
        report: VerifyReport,
        *,
        horizon: datetime | None,
        check_stop: Callable[[], None],
    ) -> None:
        self.page = page
        self.lists = lists
        self.report = report
        self.horizon = horizon
        self.check_stop = check_stop
        self.newest = int(settings.SYNC_MESSAGES_PER_CONVERSATION)

    def check(
        self,
        conversation_id: str,
        held: Held,
        message_count: int,
        on_repaired: Callable[[int, int], None],
    ) -> int | None:
        """Find (and, in a repair, store) the missing messages of one stored thread whose
        count says some may be missing. Returns how many a repair stored, or None when
        nothing was stored (nothing missing, or not a repair)."""
        expected = message_count if held.history_complete else min(message_count, self.newest)
        if not held.history_complete and message_count > self.newest:
            self.report.historyIncomplete += 1
        if held.messages >= expected:
            return None
        try:
            window, past_retention = self._window(conversation_id, held, expected)
        except (ObjectError, BadConversationData) as exc:
            self.report.note_problem(conversation_id, str(exc))
            return None
        except TokenError as exc:
            if exc.code is not None and 200 <= exc.code <= 299:
                self.report.note_problem(conversation_id, str(exc))
                return None
            raise
        self.report.pastRetention += past_retention
        ids = [m.facebook_id for m in window]
        stored = set(
            Message.objects.filter(page_id=self.page.pk, facebook_id__in=ids).values_list(
                "facebook_id", flat=True
            )
        )
        missing = [m for m in window if m.facebook_id not in stored]
        if not missing:
            return None  # Graph counts messages it does not give: nothing is missing
        example = self.report.note_missing_messages(conversation_id, len(missing))
        if not self.report.repair:
            return None
        with transaction.atomic():
            conversation = Conversation.objects.select_related("contact").get(pk=held.pk)
            result = store_older_messages(
                conversation, window, backfill=False, keep_after=self.horizon
            )
            if result.inserted:
                note_new_messages(self.page.pk)  # attachments downloaded after the commit
            self.report.repairedMessages += result.inserted
            self.report.duplicatesPrevented += result.duplicates
            example["repaired"] = result.inserted
            on_repaired(result.inserted, result.events)  # saves the run row, fenced
        return result.inserted

    def _window(
        self, conversation_id: str, held: Held, expected: int
    ) -> tuple[list[MessageData], int]:
        """Graph's messages of the thread that a sync would hold (newest first), and 1 when
        the thread goes on past the Page's retention (0 otherwise)."""
        oldest = (
            Message.objects.filter(conversation_id=held.pk)
            .order_by("created_time")
            .values_list("created_time", flat=True)
            .first()
        )
        window: list[MessageData] = []
        past_retention = 0
        position = ""
        while True:
            self.check_stop()
            response = self.lists.fetch_messages(conversation_id, position)
            batch, after = parsing.parse_messages_page(response, self.page.facebook_id)
            for message in batch:
                if self.horizon is not None and message.created_time < self.horizon:
                    return window, 1
                wanted = (
                    held.history_complete
                    or len(window) < expected
                    or (oldest is not None and message.created_time > oldest)
                )
                if not wanted:
                    return window, past_retention
                window.append(message)
            if not after or after == position:
                return window, past_retention
            position = after
