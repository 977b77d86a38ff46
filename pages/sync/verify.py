"""Verify mode (issue 10): compare what is stored for a Page with what Graph says, and, for a
`repair` run, fetch what is missing, never storing anything twice.

A verify run is a main run (never beside a full or incremental sync of the Page) with no
checkpoint: it reads, then compares, in one go (a stopped verify starts again from the top).

1. **Listing.** Every folder's conversations with light fields only (id, updated_time,
   message_count, participants: large pages, as the census reads ids), folders Graph refuses
   or ignores skipped as the sync skips them (pages.sync.folders).
2. **Checking**, per conversation Facebook lists:
   - not stored: a missing conversation (unless its person's data was erased on request);
     a repair stores it through the sync's own path (`ingest.ingest_conversation` with its
     newest messages, pages.sync.threads);
   - changed on Facebook since the last sync: not missing (the next sync brings it); a
     repair brings it up to date the same way;
   - fewer messages stored than expected: Graph's `message_count` for a thread whose
     history is complete (`Conversation.history_complete`), else the newest
     SYNC_MESSAGES_PER_CONVERSATION (what a sync stores of a new thread; the history backfill
     fetches the rest). The thread is then paged (pages.sync.verify_threads) to find exactly
     which messages are missing, messages older than the Page's retention left out; a repair
     stores them (`store_older_messages`: insert or ignore, what was there already counts as a
     duplicate prevented).
3. **Report.** `SyncRun.report` (pages.sync.verify_report) and the run's counters: `current`
   of `total` conversations checked, `inserted` conversations repaired, `updated` ones whose
   messages were repaired or brought up to date, `skipped` ones found whole.

Writes are fenced (runs.record_progress / finish raise RunLost once the run was reaped); a
stop, a rate limit or a token error ends the run as it ends a sync (pages.sync.outcome).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations import ingest, parsing
from conversations.models import ErasedContact
from conversations.parsing import BadConversationData, ConversationData
from media.pipeline import note_new_messages
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, ObjectError, TokenError
from pages.graph.paging import next_position
from pages.models import FacebookPage, SyncRun
from pages.sync import findings, runs, threads
from pages.sync.checkpoint import FOLDERS, SyncProgress
from pages.sync.controls import RunControls, SyncStopped
from pages.sync.fields import FieldSet
from pages.sync.folders import FolderAvailability, FolderUnavailable
from pages.sync.listing import ConversationLists
from pages.sync.outcome import Outcome, outcome_of
from pages.sync.recorder import BAD_DATA_ERRORS, RUN_ROW_EVERY_SECONDS
from pages.sync.running import record_end, run_to_end
from pages.sync.runs import RunLost
from pages.sync.sizes import PageSizes
from pages.sync.verify_report import VerifyReport, in_words
from pages.sync.verify_threads import Held, LightList, ThreadCheck, held_of

logger = logging.getLogger(__name__)

S = SyncRun.Status


class PageVerify:
    def __init__(self, run: SyncRun, client: GraphClient, controls: RunControls) -> None:
        self.run = run
        self.page: FacebookPage = run.page
        self.client = client
        self.controls = controls
        self.report = VerifyReport(repair=run.mode == SyncRun.Mode.REPAIR)
        degraded = findings.degraded_fields(self.page)
        self.fields = FieldSet(messages_limit=settings.SYNC_MESSAGES_PER_CONVERSATION)
        self.lists = ConversationLists(
            client,
            self.page.facebook_id,
            fields=self.fields.without_known(degraded),
            sizes=PageSizes.start(
                settings.SYNC_PAGE_SIZE,
                settings.SYNC_MESSAGES_PER_CONVERSATION,
                max_conversations=settings.SYNC_MAX_PAGE_SIZE,
            ),
            on_field_removed=lambda field: findings.record_degraded_field(self.page, field),
        )
        self.folders = FolderAvailability(self.page, self.lists)
        self.light = LightList(client, self.page.facebook_id, degraded)
        days = self.page.retention_days
        self.horizon: datetime | None = timezone.now() - timedelta(days=days) if days else None
        self.threads = ThreadCheck(
            self.page, self.lists, self.report, horizon=self.horizon, check_stop=self._check_stop
        )
        # Conversations a repair stores carry this pass id (as a sync's would).
        self.pass_id = uuid.uuid4().hex
        self.started_at = timezone.now().isoformat()
        self.total: int | None = None
        self.current_name = ""
        self.folder = FOLDERS[0]
        self.updated = self.whole = self.events = 0
        self._last_row = 0.0

    # -- the run -------------------------------------------------------------------------------

    def execute(self) -> Outcome:
        self.save(force=True)
        self.progress()
        try:
            listed = self._list_all()
            self._check_all(listed)
        except RunLost:
            raise
        except Exception as exc:
            if not isinstance(exc, SyncStopped | GraphError):
                logger.exception("Verify run #%s failed", self.run.pk)
            return self.outcome(exc)
        finally:
            self.lists.close()
        return self.outcome(None)

    def _list_all(self) -> dict[str, ConversationData]:
        """Every conversation Facebook lists, by id (one folder only, if it moved meanwhile)."""
        listed: dict[str, ConversationData] = {}
        for folder in self.folders.prefetchable(FOLDERS):
            self.folder = folder
            position = None
            while True:
                self._check_stop()
                try:
                    response = self._read_list(folder, position)
                    items = response.get("data") if isinstance(response.get("data"), list) else []
                    if position is None:
                        self.folders.check_first_page(folder, items)
                except FolderUnavailable:
                    break
                for raw in items:
                    try:
                        conversation = parsing.parse_conversation(
                            raw, self.page.facebook_id, folder
                        )
                    except BadConversationData as exc:
                        conversation_id = raw.get("id") if isinstance(raw, dict) else None
                        self.report.note_problem(str(conversation_id or "(no id)"), str(exc))
                        continue
                    listed.setdefault(conversation.facebook_id, conversation)
                self.report.listed = len(listed)
                self.save()
                self.progress()
                after = next_position(response.get("paging"))
                if after is None or after == position or not items:
                    break
                position = after
        return listed

    def _read_list(self, folder: str, position: str | None) -> dict[str, Any]:
        try:
            return self.light.read(folder, position)
        except ObjectError as exc:
            if position is None:
                self.folders.check_refusal(folder, exc)  # raises FolderUnavailable
            raise

    def _check_all(self, listed: dict[str, ConversationData]) -> None:
        held = held_of(self.page)
        erased = set(ErasedContact.objects.filter(page=self.page).values_list("psid", flat=True))
        self.report.phase = "checking"
        self.report.stored = len(held)
        self.report.notOnFacebook = len(held.keys() - listed.keys())
        self.total = len(listed)
        self.save(force=True)
        self.progress(flush=True)
        for conversation in listed.values():
            self._check_stop()
            self.folder = conversation.folder
            self.current_name = conversation.contact_name or "Unknown user"
            self._check_one(conversation, held.get(conversation.facebook_id), erased)
            self.report.checked += 1
            self.save()
            self.progress()
        self.report.phase = "done"

    def _check_one(self, listed: ConversationData, held: Held | None, erased: set[str]) -> None:
        found = self.report.found
        if held is None:
            if listed.contact_psid is not None and listed.contact_psid in erased:
                self.report.erased += 1
                return
            example = self.report.note_missing_conversation(listed.facebook_id)
            if self.report.repair:
                self._sync_conversation(listed, example)
            return
        message_count = listed.message_count
        changed = listed.updated_time > held.synced_time
        if changed:
            self.report.changedSinceSync += 1
            if not self.report.repair:
                return  # its new messages are not missing: the next sync brings them
            synced = self._sync_conversation(listed, None)
            if synced is None:
                return
            message_count = synced.message_count
            held = held_of(self.page, listed.facebook_id).get(listed.facebook_id, held)
        repaired = self.threads.check(listed.facebook_id, held, message_count, self._repaired)
        if repaired is None and self.report.found == found and not changed:
            self.whole += 1

    def _repaired(self, inserted: int, events: int) -> None:
        """A repair stored messages of a stored conversation (inside its transaction)."""
        self.updated += 1
        self.events += events
        self.save(force=True)

    def _sync_conversation(
        self, listed: ConversationData, example: dict | None
    ) -> ConversationData | None:
        """Store (or bring up to date) one conversation through the sync's own path: the
        conversation with its fields, its new messages (the newest ones of a new thread)."""
        try:
            data = parsing.parse_conversation(
                self.light.conversation(listed.facebook_id, self.lists.fields),
                self.page.facebook_id,
                listed.folder,
            )
            known = ingest.load_known(self.page.pk, [data.facebook_id]).get(data.facebook_id)
            new = threads.new_messages(
                data, known, self.lists, self.page, check_stop=self._check_stop
            )
        except (ObjectError, BadConversationData) as exc:
            self.report.note_problem(listed.facebook_id, str(exc))
            return None
        except TokenError as exc:
            if exc.code is not None and 200 <= exc.code <= 299:  # this conversation only
                self.report.note_problem(listed.facebook_id, str(exc))
                return None
            raise
        with transaction.atomic():
            try:
                with transaction.atomic():
                    result = ingest.ingest_conversation(
                        self.page.pk, data, known=known, new_messages=new, sync_pass=self.pass_id
                    )
            except BAD_DATA_ERRORS as exc:
                reason = f"The database refused its data ({type(exc).__name__}: {exc})"
                self.report.note_problem(listed.facebook_id, reason)
                return None
            if result.erased:
                self.report.erased += 1
                self.report.missingConversations -= example is not None
                if example is not None and example in self.report.examples:
                    self.report.examples.remove(example)
                return None
            if result.new_messages or result.created:
                note_new_messages(self.page.pk)  # attachments downloaded after the commit
            self.report.duplicatesPrevented += result.duplicates_prevented
            self.events += result.events_created
            if example is not None:
                self.report.repairedConversations += 1
                example["repaired"] = result.new_messages
            else:
                self.updated += 1
            self.save(force=True)
        return data

    def _check_stop(self) -> None:
        if self.controls.should_stop():
            raise SyncStopped()

    # -- writing and telling -------------------------------------------------------------------

    def counters(self) -> dict[str, Any]:
        report = self.report
        return {
            "current": report.checked,
            "total": self.total,
            "inserted": report.repairedConversations,
            "updated": self.updated,
            "skipped": self.whole,
            "events": self.events,
            "current_name": self.current_name[:255],
            "duplicates_prevented": report.duplicatesPrevented,
            "problems": report.problems,
            "problem_count": report.unreadable,
            "report": report.to_json(),
            "graph_calls": self.client.calls,
        }

    def save(self, *, force: bool = False) -> None:
        """The run row (fenced: raises RunLost once the run is no longer this process's), at
        most every RUN_ROW_EVERY_SECONDS unless forced."""
        if not force and time.monotonic() - self._last_row < RUN_ROW_EVERY_SECONDS:
            return
        counters = self.counters()
        runs.record_progress(self.run, **counters)
        for name, value in counters.items():
            setattr(self.run, name, value)
        self._last_row = time.monotonic()

    def outcome(self, error: BaseException | None) -> Outcome:
        if error is None:
            self.report.phase = "done"
        outcome = outcome_of(
            error,
            summary=self.report.summary(),
            current=self.report.checked,
            cancel_requested=runs.cancel_requested(self.run.pk),
            can_park=self.controls.can_park,
            now=timezone.now(),
        )
        total = self.total or self.report.listed
        return replace(outcome, message=in_words(outcome, self.report.checked, total))

    def finish(self, outcome: Outcome) -> None:
        """The run's status (fenced) and, when Graph refused the token, the Page's."""
        counters = self.counters()
        with transaction.atomic():
            record_end(self.run, outcome, counters)
        for name, value in counters.items():
            setattr(self.run, name, value)
        self.progress(outcome.message)

    def progress(self, message: str = "", *, flush: bool = False) -> None:
        listing = self.report.phase == "listing"
        snapshot = SyncProgress(
            run_id=self.run.pk,
            status=self.run.status,
            mode=SyncRun.Mode.VERIFY,
            current=self.report.checked,
            total=self.total,
            total_is_estimate=False,
            inserted=self.report.repairedConversations,
            updated=self.updated,
            skipped=self.whole,
            events=self.events,
            current_name=self.current_name,
            folder=self.folder,
            folder_index=FOLDERS.index(self.folder),
            message=message or ("" if listing else self.report.summary()),
            phase="listing" if listing else "verify",
            counted=self.report.listed,
            walk_started_at=self.started_at,
            flush=flush,
            duplicates_prevented=self.report.duplicatesPrevented,
        )
        try:
            self.controls.on_progress(snapshot)
        except Exception:
            logger.exception("Progress callback failed")  # reporting never fails a run


def run_verify(run: SyncRun, controls: RunControls | None = None) -> SyncRun:
    """Run a claimed verify (or repair) run to its end; returns it with its final status."""
    return run_to_end(run, controls, PageVerify)
