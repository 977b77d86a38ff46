"""Keeps a running sync durable and visible: the page's checkpoint (written with every
conversation, inside that conversation's transaction), the SyncRun row (a few times a second,
and always at the end) and the progress snapshots sent to `on_progress`.

The checkpoint is what a resume trusts; the run row is for display and liveness (the reaper
copies the checkpoint's counters into it when a worker dies). Every write goes through the
fenced writers of pages.sync.runs and pages.sync.checkpoint: once the run is no longer this
process's, the next write raises RunLost and nothing more is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from media.pipeline import note_new_messages
from pages.models import FacebookPage, SyncRun
from pages.sync import checkpoint, runs
from pages.sync.checkpoint import Checkpoint, SyncProgress, progress_of
from pages.sync.outcome import Outcome
from pages.sync.runs import RunLost

logger = logging.getLogger(__name__)

# Writing the run row for every conversation would cost a fifth of the sync's time.
RUN_ROW_EVERY_SECONDS = 0.2
# A run keeps the first problems it met (and counts them all): thousands of problems must
# not make every write of the run row slower.
MAX_STORED_PROBLEMS = 100
MAX_PROBLEM_ID = 100
MAX_PROBLEM_TEXT = 300
# Errors a conversation's data can cause in the database (a NUL byte on PostgreSQL, a lone
# surrogate, a number or text out of its column's range, a CHECK constraint): the
# conversation becomes a problem instead of stopping the page.
BAD_DATA_ERRORS = (DataError, IntegrityError, ValueError, OverflowError)


class RunRecorder:
    def __init__(
        self,
        run: SyncRun,
        page: FacebookPage,
        cp: Checkpoint,
        *,
        graph_calls: Callable[[], int],
        on_progress: Callable[[SyncProgress], None],
    ) -> None:
        self.run = run
        self.page = page
        self.cp = cp
        self.problems: list[dict[str, str]] = list(run.problems or [])
        self._graph_calls = graph_calls
        self._on_progress = on_progress
        self._last_run_row = 0.0

    def advance(self, **changes: Any) -> None:
        """Move the checkpoint on (walk position, marks) and save it."""
        cp = replace(self.cp, **changes, timestamp=timezone.now().isoformat())
        self.save(cp)
        self.cp = cp

    def commit_conversation(
        self,
        facebook_id: str,
        contact_name: str | None,
        *,
        outcome: str | None,
        work: Callable[[], Any],
    ) -> None:
        """Run `work` (the conversation's writes) and save the checkpoint in one transaction.
        `outcome` is the counter to bump (None: a repeat already counted in this pass); an
        update that changed nothing counts as skipped. Data the database refuses makes the
        conversation a problem (its writes undone), never a stopped run."""
        with transaction.atomic():
            try:
                with transaction.atomic():
                    result = work()
            except BAD_DATA_ERRORS as exc:
                reason = f"The database refused its data ({type(exc).__name__}: {exc})"
                self.record_problem(facebook_id, reason)
                return
            if getattr(result, "new_messages", 0) or getattr(result, "created", False):
                note_new_messages(self.page.pk)  # attachments downloaded after the commit
            changes: dict[str, Any] = {
                "lastSyncedId": facebook_id,
                "lastSyncedName": contact_name or "Unknown user",
            }
            if outcome == "updated" and result is not None and not result.changed:
                outcome = "skipped"
            if outcome is not None and getattr(result, "erased", False):
                outcome = "skipped"  # an erased person's conversation: nothing stored
            if outcome is not None:
                changes["current"] = self.cp.current + 1
                changes[outcome] = getattr(self.cp, outcome) + 1
                if self.cp.total is not None and changes["current"] > self.cp.total:
                    changes["total"] = changes["current"]
            if gaps := self.webhook_gaps(getattr(result, "new_message_times", ())):
                FacebookPage.objects.filter(pk=self.page.pk).update(
                    webhook_gap_messages=F("webhook_gap_messages") + gaps
                )
            events_created = getattr(result, "events_created", 0)
            changes["eventsCreated"] = self.cp.eventsCreated + events_created
            if duplicates := getattr(result, "duplicates_prevented", 0):
                changes["duplicatesPrevented"] = self.cp.duplicatesPrevented + duplicates
            cp = replace(self.cp, **changes, timestamp=timezone.now().isoformat())
            self.save(cp, run_row=False)
        self.cp = cp
        self.report()

    def webhook_gaps(self, sent_times) -> int:
        """How many of these newly stored messages the webhooks missed: sent while the Page was
        subscribed, and long enough ago (WEBHOOK_GAP_GRACE_SECONDS) that their webhook should
        have come before this sync read them."""
        since = self.page.webhook_subscribed_at
        if since is None or not sent_times:
            return 0
        before = timezone.now() - timedelta(seconds=settings.WEBHOOK_GAP_GRACE_SECONDS)
        return sum(1 for sent in sent_times if since <= sent <= before)

    def record_problem(self, conversation_id: str, error: str) -> None:
        """Skip a conversation we cannot read or store, once per pass (the closing pass or a
        resume may meet it again)."""
        conversation_id = conversation_id[:MAX_PROBLEM_ID]
        logger.warning("Skipping conversation %s: %s", conversation_id, error[:MAX_PROBLEM_TEXT])
        if conversation_id in self.cp.problemIds:
            return
        if len(self.problems) < MAX_STORED_PROBLEMS:
            self.problems.append({"id": conversation_id, "error": error[:MAX_PROBLEM_TEXT]})
        with transaction.atomic():
            cp = replace(
                self.cp,
                current=self.cp.current + 1,
                skipped=self.cp.skipped + 1,
                lastSyncedId=conversation_id,
                problemIds=[*self.cp.problemIds, conversation_id],
                timestamp=timezone.now().isoformat(),
            )
            self.save(cp, run_row=False)
        self.cp = cp
        self.report()

    def save(self, cp: Checkpoint, *, run_row: bool = True) -> None:
        """Write the checkpoint (inside the caller's transaction) and, unless it was written
        less than RUN_ROW_EVERY_SECONDS ago, the run's counters and heartbeat."""
        if not checkpoint.save_for_run(cp, self.page.pk, self.run.pk):
            raise RunLost(f"Sync run #{self.run.pk} no longer owns page {self.page.pk}.")
        self._copy_counters(cp)
        if not run_row and time.monotonic() - self._last_run_row < RUN_ROW_EVERY_SECONDS:
            return
        runs.record_progress(
            self.run,
            **cp.run_counters(),
            problems=self.problems,
            problem_count=len(cp.problemIds),
            graph_calls=self.run.graph_calls,
        )
        self._last_run_row = time.monotonic()

    def flush(self) -> None:
        """Bring the run row and the live displays up to date before a wait, so they never
        lag behind the checkpoint while the engine is idle."""
        self.save(self.cp)
        self.report(flush=True)

    def finish(self, outcome: Outcome) -> None:
        """Record how the run ended: the run's status (pages.sync.runs), the checkpoint and, for a
        complete run, the page's marks, in one transaction."""
        now = timezone.now()
        cp = replace(
            self.cp, status=outcome.status, message=outcome.message, timestamp=now.isoformat()
        )
        counters = {
            **cp.run_counters(),
            "problems": self.problems,
            "problem_count": len(cp.problemIds),
            "graph_calls": self._graph_calls(),
        }
        page_updates: dict[str, Any] = {}
        if cp.status == SyncRun.Status.COMPLETE:
            page_updates["high_water_marks"] = {**self.page.high_water_marks, **cp.marks}
            page_updates["last_synced_at"] = now
            if cp.mode == SyncRun.Mode.FULL:
                page_updates["full_sync_completed_at"] = now
        if outcome.needs_reconnect:
            page_updates["token_status"] = FacebookPage.TokenStatus.NEEDS_RECONNECT
            page_updates["token_error"] = outcome.token_error
        with transaction.atomic():
            # The checkpoint first: its write is fenced on the run still working here.
            if not checkpoint.save_for_run(cp, self.page.pk, self.run.pk, **page_updates):
                raise RunLost(f"Sync run #{self.run.pk} no longer owns page {self.page.pk}.")
            if cp.status != SyncRun.Status.PAUSED:
                runs.finish(self.run, cp.status, message=cp.message, **counters)
            elif not runs.park(
                self.run, resume_at=outcome.resume_at, message=cp.message, **counters
            ):
                # A cancel arrived while it paused: a paused run is only ever plain running.
                cp = replace(cp, status="cancelled", message="Cancelled.")
                checkpoint.save_for_run(cp, self.page.pk, self.run.pk)
                runs.finish(self.run, cp.status, message=cp.message, **counters)
        self._copy_counters(cp)
        self.cp = cp
        self.report(cp.message)

    def report(self, message: str = "", *, flush: bool = False) -> None:
        try:
            self._on_progress(progress_of(self.run, self.cp, message, flush=flush))
        except Exception:
            # Reporting never fails a sync.
            logger.exception("Progress callback failed")

    def _copy_counters(self, cp: Checkpoint) -> None:
        for name, value in cp.run_counters().items():
            setattr(self.run, name, value)
        self.run.graph_calls = self._graph_calls()
        self.run.problems = self.problems
