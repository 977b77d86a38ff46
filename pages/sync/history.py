"""The history backfill: each conversation's older messages, down to its first one.

A sync stores the newest SYNC_MESSAGES_PER_CONVERSATION messages of a new thread. The backfill
(a SyncRun of mode `history`, running beside the main runs) then pages every thread's older
messages, the most recently active threads first, until Graph has no more:

- **Resumable per page of messages.** Each page is stored in one transaction with the
  thread's position (`Conversation.history_after`, Graph's position of the next older page),
  and the run's fenced progress (pages.sync.history_progress): a kill loses at most the page
  in flight, which the next run reads again (its rows are inserted once: what it finds stored
  counts as a duplicate prevented).
- **Second to the main sync.** Before every call it yields the Page's call budget: while a
  main run of the Page works, it waits; when one waits for a worker (queued, or parked by a
  rate limit) and this backfill runs in a worker, it parks for HISTORY_YIELD_SECONDS, so
  the worker is free for the main run.
- **Where history ended, and why.** A thread whose paging ends is complete: with as many
  messages as Graph's `message_count`, it reached its first message; with fewer, Graph
  returned no older ones (Messenger may keep only so much). A Page with RETENTION_DAYS stops
  at its horizon. Interaction events of backfilled messages are marked `backfill`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations import parsing
from conversations.history import move_start_to_first_message, store_older_messages
from conversations.models import Conversation, Message
from conversations.parsing import BadConversationData
from media.pipeline import note_new_messages
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, ObjectError
from pages.models import FacebookPage, SyncRun
from pages.sync import findings, runs
from pages.sync.checkpoint import SyncProgress
from pages.sync.controls import RunControls, SyncStopped
from pages.sync.fields import FieldSet
from pages.sync.history_progress import HistoryCheckpoint, HistoryCounts, save_for_run
from pages.sync.listing import ConversationLists
from pages.sync.outcome import Outcome, outcome_of
from pages.sync.running import record_end, run_to_end
from pages.sync.runs import RunLost
from pages.sync.sizes import PageSizes

logger = logging.getLogger(__name__)

S = SyncRun.Status
ENDS = Conversation.HistoryEnd
# How often a backfill waiting for the Page's main run looks again.
YIELD_POLL_SECONDS = 0.5
# Empty pages in a row (with a `next`) after which a thread's paging is taken as ended.
MAX_EMPTY_PAGES = 10
# A thread's paging ended: whether at its first message is decided once the page is stored.
PAGING_ENDED = "paging_ended"


class YieldToMainRun(Exception):
    """A main run of the Page waits for a worker, and this backfill holds one: let it go."""


class HistoryBackfill:
    def __init__(self, run: SyncRun, client: GraphClient, controls: RunControls) -> None:
        self.run = run
        self.page: FacebookPage = run.page
        self.client = client
        self.controls = controls
        saved = HistoryCheckpoint.of(self.page)
        self.cp = replace(saved, runId=run.pk, status=S.RUNNING, message="")
        self.counts = HistoryCounts.of(self.page.pk)
        self.stored = 0  # messages this run stored
        self.events = 0
        self.duplicates = 0
        # Threads this run ended early (a thread Graph no longer has): never picked again.
        self._given_up: set[int] = set()
        self.lists = ConversationLists(
            client,
            self.page.facebook_id,
            fields=FieldSet(messages_limit=settings.SYNC_MESSAGES_PER_CONVERSATION).without_known(
                findings.degraded_fields(self.page)
            ),
            sizes=PageSizes.start(
                settings.SYNC_PAGE_SIZE,
                settings.SYNC_MESSAGES_PER_CONVERSATION,
                max_conversations=settings.SYNC_MAX_PAGE_SIZE,
            ),
            on_field_removed=lambda field: findings.record_degraded_field(self.page, field),
        )

    # -- the walk -----------------------------------------------------------------------------

    def execute(self) -> Outcome:
        self._save()
        self.report()
        try:
            while (thread := self._next_thread()) is not None:
                self._backfill(thread)
        except RunLost:
            raise
        except YieldToMainRun as exc:
            return self._yielded(exc)
        except Exception as exc:
            if not isinstance(exc, SyncStopped | GraphError):
                logger.exception("History run #%s failed", self.run.pk)
            return self.outcome(exc)
        finally:
            self.lists.close()
        return self.outcome(None)

    def _next_thread(self) -> Conversation | None:
        self._check_stop()
        return (
            Conversation.objects.filter(page=self.page, history_complete=False)
            .exclude(pk__in=self._given_up)
            .select_related("contact")
            .order_by("-updated_time", "-id")
            .first()
        )

    def _backfill(self, thread: Conversation) -> None:
        """Page one thread's older messages to its end, one transaction per page."""
        self.cp.currentId = thread.facebook_id
        self.cp.currentName = thread.contact.display_name if thread.contact else ""
        if (end := self._end_without_calling(thread)) is not None:
            self._store_page(thread, [], position="", end=end)
            return
        position, empty_pages, from_top = thread.history_after, 0, not thread.history_after
        while True:
            self._yield_to_main_run()
            self._check_stop()
            try:
                response = self.lists.fetch_messages(
                    thread.facebook_id, position, limit=settings.HISTORY_PAGE_SIZE
                )
                batch, next_position = parsing.parse_messages_page(response, self.page.facebook_id)
            except ObjectError:
                if from_top:
                    self._give_up(thread, "Facebook no longer gives this thread")
                    return
                # The saved position is a cursor, which Graph says may not stay valid
                # (deleted messages): read the thread again from its top; what is stored
                # already is not stored twice.
                position, from_top = "", True
                continue
            except BadConversationData as exc:
                self._give_up(thread, str(exc))
                return
            empty_pages = 0 if batch else empty_pages + 1
            if next_position == position or empty_pages >= MAX_EMPTY_PAGES:
                next_position = None  # a `next` that does not move on ends the thread
            horizon = self._horizon()
            end = None
            if horizon is not None and any(m.created_time < horizon for m in batch):
                end = ENDS.RETENTION
            elif next_position is None:
                end = PAGING_ENDED  # why is told once this page is stored
            self._store_page(thread, batch, position=next_position or "", end=end)
            if end is not None:
                return
            position = next_position

    def _give_up(self, thread: Conversation, why: str) -> None:
        """This thread cannot be read (gone, or unreadable data): its history ends where it
        is, and the others go on."""
        logger.warning("History of %s ends: %s", thread.facebook_id, why)
        self._given_up.add(thread.pk)
        self._store_page(thread, [], position="", end=ENDS.GRAPH_STOPPED)

    def _store_page(
        self, thread: Conversation, batch: list, *, position: str, end: str | None
    ) -> None:
        """One page of a thread, its position and the run's progress: one transaction."""
        with transaction.atomic():
            stored = store_older_messages(thread, batch, keep_after=self._horizon())
            if end == PAGING_ENDED:
                end = self._why_it_ended(thread)
            Conversation.objects.filter(pk=thread.pk).update(
                history_after=position if end is None else "",
                history_complete=end is not None,
                history_end=end or "",
            )
            if end == ENDS.FIRST_MESSAGE:
                move_start_to_first_message(thread)
            self.stored += stored.inserted
            self.events += stored.events
            self.duplicates += stored.duplicates
            self.cp.messages += stored.inserted
            if end is not None:
                self.counts = HistoryCounts.of(self.page.pk)
            self._save()
            if stored.inserted:
                # Their attachments are downloaded on the task queue, after this commits.
                note_new_messages(self.page.pk)
        self.report()

    def _end_without_calling(self, thread: Conversation) -> str | None:
        """A thread we already hold whole (a sync read all of it) or down to the Page's
        retention horizon needs no call."""
        held = Message.objects.filter(conversation=thread)
        if thread.message_count and held.count() >= thread.message_count:
            return ENDS.FIRST_MESSAGE
        horizon = self._horizon()
        if horizon is not None and held.filter(created_time__lt=horizon).exists():
            return ENDS.RETENTION
        return None

    def _why_it_ended(self, thread: Conversation) -> str:
        """Graph's paging ended: at the first message, or before it (Graph keeps no more
        than we now hold, fewer than its `message_count`)."""
        held = Message.objects.filter(conversation=thread).count()
        if not thread.message_count or held >= thread.message_count:
            return ENDS.FIRST_MESSAGE
        return ENDS.GRAPH_STOPPED

    def _horizon(self) -> datetime | None:
        days = self.page.retention_days
        return timezone.now() - timedelta(days=days) if days else None

    # -- second to the main sync ------------------------------------------------------------

    def _yield_to_main_run(self) -> None:
        """Wait while a main run of the Page works; free the worker when one waits for it."""
        announced = False
        while statuses := set(
            runs.active_runs(self.page).values_list("status", flat=True).order_by()
        ):
            if not statuses & set(SyncRun.WORKING_STATUSES) and self.controls.can_park:
                raise YieldToMainRun()
            if not announced:
                announced = True
                self.cp.message = "Waiting while the Page's sync runs."
                self.report(flush=True)
            self.controls.sleep(YIELD_POLL_SECONDS)
            self._check_stop()
        if announced:
            self.cp.message = ""

    def _check_stop(self) -> None:
        if self.controls.should_stop():
            raise SyncStopped()

    # -- how it ends --------------------------------------------------------------------------

    def _summary(self) -> str:
        c = self.counts
        ended = [f"{c.first_message:,} reached their first message"]
        if c.graph_stopped:
            ended.append(f"{c.graph_stopped:,} where Facebook returned no older messages")
        if c.retention:
            ended.append(f"{c.retention:,} at the Page's retention")
        return (
            f"History complete: {c.complete:,} of {c.total:,} conversations "
            f"({'; '.join(ended)}). This run stored {self.stored:,} messages."
        )

    def outcome(self, error: BaseException | None) -> Outcome:
        if error is None:
            self.counts = HistoryCounts.of(self.page.pk)
        return outcome_of(
            error,
            summary=self._summary(),
            current=self.counts.complete,
            cancel_requested=runs.cancel_requested(self.run.pk),
            can_park=self.controls.can_park,
            now=timezone.now(),
        )

    def _yielded(self, exc: YieldToMainRun) -> Outcome:
        resume_at = timezone.now() + timedelta(seconds=settings.HISTORY_YIELD_SECONDS)
        return Outcome(
            S.PAUSED, "Waiting for the Page's sync: history goes on after it.", resume_at
        )

    def counters(self) -> dict:
        return {
            "current": self.counts.complete,
            "total": self.counts.total,
            "inserted": self.stored,
            "events": self.events,
            "current_name": self.cp.currentName[:255],
            "duplicates_prevented": self.duplicates,
            "graph_calls": self.client.calls,
        }

    def finish(self, outcome: Outcome) -> None:
        """The run's status and the checkpoint, in one transaction (fenced)."""
        self.cp.status, self.cp.message = outcome.status, outcome.message
        self.cp.timestamp = timezone.now().isoformat()
        counters = self.counters()
        with transaction.atomic():
            self._save()
            record_end(self.run, outcome, counters)
        self.report(outcome.message)

    # -- writing and telling ------------------------------------------------------------------

    def _save(self) -> None:
        self.cp.timestamp = timezone.now().isoformat()
        if not save_for_run(self.cp, self.page.pk, self.run.pk):
            raise RunLost(f"History run #{self.run.pk} no longer works on page {self.page.pk}.")
        runs.record_progress(self.run, **self.counters())
        for name, value in self.counters().items():
            setattr(self.run, name, value)

    def report(self, message: str = "", *, flush: bool = False) -> None:
        c = self.counts
        snapshot = SyncProgress(
            run_id=self.run.pk,
            status=self.run.status,
            mode=SyncRun.Mode.HISTORY,
            current=c.complete,
            total=c.total,
            total_is_estimate=False,
            inserted=self.stored,
            updated=0,
            skipped=0,
            events=self.events,
            current_name=self.cp.currentName,
            folder="inbox",
            message=message or self.cp.message,
            phase="history",
            flush=flush,
        )
        try:
            self.controls.on_progress(snapshot)
        except Exception:
            logger.exception("Progress callback failed")  # reporting never fails a run


def run_history(run: SyncRun, controls: RunControls | None = None) -> SyncRun:
    """Run a claimed history run to its end (or until it yields, stops or fails)."""
    return run_to_end(run, controls, HistoryBackfill)
