"""Keeps a running sync durable and visible: the page's checkpoint (written with every
conversation, inside that conversation's transaction), the SyncRun row (a few times a second,
and always at the end) and the progress snapshots sent to `on_progress`.

The checkpoint is what a resume trusts; the run row is for display and liveness (the reaper
copies the checkpoint's counters into it when a worker dies).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from pages.models import FacebookPage, SyncRun
from pages.sync.checkpoint import Checkpoint, SyncProgress, progress_of

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 5.0
# Writing the run row for every conversation would cost a fifth of the sync's time.
RUN_ROW_EVERY_SECONDS = 0.2


class RunRecorder:
    def __init__(
        self,
        run: SyncRun,
        page: FacebookPage,
        checkpoint: Checkpoint,
        *,
        graph_calls: Callable[[], int],
        on_progress: Callable[[SyncProgress], None],
    ) -> None:
        self.run = run
        self.page = page
        self.cp = checkpoint
        self.problems: list[dict[str, str]] = list(run.problems or [])
        self._graph_calls = graph_calls
        self._on_progress = on_progress
        self._owner_thread = threading.get_ident()
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
        update that changed nothing counts as skipped."""
        with transaction.atomic():
            result = work()
            changes: dict[str, Any] = {
                "lastSyncedId": facebook_id,
                "lastSyncedName": contact_name or "Unknown user",
            }
            if outcome == "updated" and result is not None and not result.changed:
                outcome = "skipped"
            if outcome is not None:
                changes["current"] = self.cp.current + 1
                changes[outcome] = getattr(self.cp, outcome) + 1
                if self.cp.total is not None and changes["current"] > self.cp.total:
                    changes["total"] = changes["current"]
            events_created = getattr(result, "events_created", 0)
            changes["eventsCreated"] = self.cp.eventsCreated + events_created
            cp = replace(self.cp, **changes, timestamp=timezone.now().isoformat())
            self.save(cp, run_row=False)
        self.cp = cp
        self.report()

    def record_problem(self, conversation_id: str, error: str) -> None:
        """Skip a conversation we cannot read or store, once per pass (the closing pass or a
        resume may meet it again)."""
        logger.warning("Skipping conversation %s: %s", conversation_id, error)
        if conversation_id in self.cp.problemIds:
            return
        self.problems.append({"id": conversation_id, "error": error[:500]})
        with transaction.atomic():
            cp = replace(
                self.cp,
                current=self.cp.current + 1,
                skipped=self.cp.skipped + 1,
                lastSyncedId=conversation_id,
                problemIds=[*self.cp.problemIds, conversation_id],
                timestamp=timezone.now().isoformat(),
            )
            self.save(cp)
        self.cp = cp
        self.report()

    def save(self, cp: Checkpoint, *, run_row: bool = True) -> None:
        """Write the checkpoint (inside the caller's transaction) and, unless it was written
        less than RUN_ROW_EVERY_SECONDS ago, the run's counters and heartbeat."""
        FacebookPage.objects.filter(pk=self.page.pk).update(sync_checkpoint=cp.to_json())
        self._copy_counters(cp)
        if not run_row and time.monotonic() - self._last_run_row < RUN_ROW_EVERY_SECONDS:
            return
        self.run.heartbeat_at = timezone.now()
        SyncRun.objects.filter(pk=self.run.pk).update(
            **cp.run_counters(),
            heartbeat_at=self.run.heartbeat_at,
            problems=self.problems,
            graph_calls=self.run.graph_calls,
        )
        self._last_run_row = time.monotonic()

    def flush(self) -> None:
        """Bring the run row and the live displays up to date before a wait, so they never
        lag behind the checkpoint while the engine is idle."""
        self.save(self.cp)
        self.report(flush=True)

    def finish(self, status: str, message: str) -> None:
        """Record the final state, whatever ended the run."""
        now = timezone.now()
        cp = replace(self.cp, status=status, message=message, timestamp=now.isoformat())
        with transaction.atomic():
            page_updates: dict[str, Any] = {"sync_checkpoint": cp.to_json()}
            if status == SyncRun.Status.COMPLETE:
                page_updates["high_water_marks"] = {**self.page.high_water_marks, **cp.marks}
                page_updates["last_synced_at"] = now
                if cp.mode == SyncRun.Mode.FULL:
                    page_updates["full_sync_completed_at"] = now
            FacebookPage.objects.filter(pk=self.page.pk).update(**page_updates)
            self.run.status = status
            self.run.error = "" if status == SyncRun.Status.COMPLETE else message
            self.run.finished_at = None if status == SyncRun.Status.PAUSED else now
            self._copy_counters(cp)
            self.run.save()
        self.cp = cp
        self.report(message)

    def heartbeat(self) -> None:
        """Keep the run visibly alive during long waits (a no-op in the read-ahead thread,
        which never touches the database)."""
        if not self.in_owner_thread():
            return
        if time.monotonic() - self._last_run_row >= HEARTBEAT_EVERY_SECONDS:
            SyncRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())
            self._last_run_row = time.monotonic()

    def in_owner_thread(self) -> bool:
        return threading.get_ident() == self._owner_thread

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
