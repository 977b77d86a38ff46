"""Where a Page's history backfill stands (`FacebookPage.history_checkpoint`).

The position of the backfill is on each conversation (`Conversation.history_after`,
`history_complete`, `history_end`), written in the transaction of the page of messages it
belongs to. This checkpoint only adds what is not countable from the rows: the messages the
backfill stored so far (over all its runs), the thread in flight and how the last run ended.
This module is its only reader and writer; writes made for a run are fenced like the sync's
checkpoint (pages.sync.checkpoint): they happen only while that run still works.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from conversations.models import Conversation
from pages.models import FacebookPage, SyncRun

ENDS = Conversation.HistoryEnd


@dataclass
class HistoryCheckpoint:
    runId: int = 0
    status: str = ""
    # Messages the backfill stored, over all its runs on this Page.
    messages: int = 0
    # The thread whose older messages are being read.
    currentId: str = ""
    currentName: str = ""
    message: str = ""
    timestamp: str = ""

    @classmethod
    def of(cls, page: FacebookPage) -> HistoryCheckpoint:
        data = page.history_checkpoint if isinstance(page.history_checkpoint, dict) else {}
        known = cls.__dataclass_fields__
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return cls()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryCounts:
    """Counted from the conversations: how many threads are complete, and how each ended."""

    total: int
    complete: int
    first_message: int
    graph_stopped: int
    retention: int

    @property
    def remaining(self) -> int:
        return self.total - self.complete

    @classmethod
    def of(cls, page_id: int) -> HistoryCounts:
        done = Q(history_complete=True)
        counts = Conversation.objects.filter(page_id=page_id).aggregate(
            total=Count("pk"),
            complete=Count("pk", filter=done),
            first_message=Count("pk", filter=done & Q(history_end=ENDS.FIRST_MESSAGE)),
            graph_stopped=Count("pk", filter=done & Q(history_end=ENDS.GRAPH_STOPPED)),
            retention=Count("pk", filter=done & Q(history_end=ENDS.RETENTION)),
        )
        return cls(**counts)


def save_for_run(cp: HistoryCheckpoint, page_pk: int, run_pk: int) -> bool:
    """Write the checkpoint if the run still works on the page; False (nothing written) when
    it was reaped or ended meanwhile."""
    working = SyncRun.objects.filter(
        pk=run_pk, page=OuterRef("pk"), status__in=SyncRun.WORKING_STATUSES
    )
    written = (
        FacebookPage.objects.filter(pk=page_pk)
        .filter(Exists(working))
        .update(history_checkpoint=cp.to_json())
    )
    return bool(written)
