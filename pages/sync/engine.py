"""The sync engine: copies one Facebook Page's conversations into the database, one
conversation at a time, resumably (design.md §4, graph-api.md §11–12).

Shape of a run:
- A first or full sync first counts the Page's conversations (pages.sync.census).
- For each folder, walk `/{page}/conversations` newest-updated first with the newest messages
  nested; each conversation is processed in its own transaction with the page's checkpoint,
  so a crash loses at most the conversation in flight, redone idempotently.
- Each run has a pass id, carried by every conversation it writes (and kept by a resume): a
  conversation met again (the page re-read on resume, the list shifting while we walk) is
  recognised as already counted.
- The first page of every folder comes from one call (pages.sync.listing); the run ends with a
  closing pass from each folder's top down to where its walk began, which catches
  conversations that jumped above the cursor or changed after the top was read.
- Incremental runs stop each folder at its high-water mark minus an overlap; a run's marks
  are stored only when it completes.

The worker task and the command claim a run (pages.sync.runs) and call `run_sync` with their
harness's RunControls (pages.harness). The engine returns an Outcome (pages.sync.outcome); its
recorder (pages.sync.recorder) saves every step through the fenced writers. No UI code here.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from conversations import ingest, parsing
from conversations.ingest import KnownConversation
from conversations.parsing import BadConversationData, ConversationData, MessageData
from pages.graph.client import GraphClient
from pages.graph.errors import (
    GraphError,
    ObjectError,
    TokenError,
)
from pages.graph.paging import next_position
from pages.models import FacebookPage, SyncRun
from pages.sync import findings, runs, threads
from pages.sync.census import Census
from pages.sync.checkpoint import FOLDERS, Checkpoint, walk_start
from pages.sync.controls import RunControls, SyncStopped
from pages.sync.fields import FieldSet
from pages.sync.folders import FolderAvailability, FolderUnavailable
from pages.sync.listing import ConversationLists
from pages.sync.outcome import Outcome, outcome_of
from pages.sync.recorder import RunRecorder
from pages.sync.running import run_to_end
from pages.sync.runs import RunLost
from pages.sync.sizes import PageSizes

logger = logging.getLogger(__name__)

# Graph may answer an empty page with a `next` (the list goes on); this many in a row, or a
# `next` that repeats the cursor just used, means it does not move on.
MAX_EMPTY_PAGES = 10


class PageSync:
    def __init__(self, run: SyncRun, client: GraphClient, controls: RunControls) -> None:
        self.run = run
        self.page: FacebookPage = run.page
        self.client = client
        self.controls = controls
        self.overlap = timedelta(seconds=settings.SYNC_INCREMENTAL_OVERLAP_SECONDS)
        # Folders whose walk this run restarted because the list did not move on.
        self._restarted_walks: set[str] = set()
        self.record = RunRecorder(
            run,
            self.page,
            self._initial_checkpoint(),
            graph_calls=lambda: client.calls,
            on_progress=controls.on_progress,
        )
        self.lists = ConversationLists(
            client,
            self.page.facebook_id,
            # Fields an earlier run found removed are not asked for again.
            fields=FieldSet(messages_limit=settings.SYNC_MESSAGES_PER_CONVERSATION).without_known(
                findings.degraded_fields(self.page)
            ),
            sizes=self._initial_sizes(),
            batch_limit=int(settings.FACEBOOK_CALLS_PER_SECOND) or 50,
            before_wait=self.record.flush,
            on_field_removed=lambda field: findings.record_degraded_field(self.page, field),
        )
        self.folders = FolderAvailability(self.page, self.lists)

    @property
    def cp(self) -> Checkpoint:
        """Where the run is (kept and saved by the recorder)."""
        return self.record.cp

    def _initial_sizes(self) -> PageSizes:
        fresh = PageSizes.start(
            settings.SYNC_PAGE_SIZE,
            settings.SYNC_MESSAGES_PER_CONVERSATION,
            max_conversations=settings.SYNC_MAX_PAGE_SIZE,
        )
        return PageSizes.resume(self.cp.sizes, fresh) if self.cp.sizes else fresh

    def _initial_checkpoint(self) -> Checkpoint:
        saved = Checkpoint.of(self.page)
        # A resumed run continues the page's checkpoint; so does a parked run claimed again.
        if saved is not None and (self.run.resumed or saved.owned_by(self.run)):
            resumed = replace(saved, runId=self.run.pk, status="running", message="")
            if resumed.phase == "census":
                return resumed
            return replace(resumed, **walk_start(resumed.current))
        full = self.run.mode == SyncRun.Mode.FULL
        # Facebook gives no total: a first or full sync counts the Page first (the census);
        # until it has, what we hold is the estimate. An incremental run has no total.
        known_total = self.page.conversations.count()
        estimate = known_total if full and known_total else None
        phase = "census" if full and settings.SYNC_CENSUS_PAGE_SIZE else "walk"
        return Checkpoint(
            runId=self.run.pk,
            passId=uuid.uuid4().hex,
            mode=self.run.mode,
            phase=phase,
            total=estimate,
            totalIsEstimate=estimate is not None,
            **({} if phase == "census" else walk_start(0)),
        )

    def execute(self) -> Outcome:
        """Walk the page to the end (or until something stops the walk) and say how it
        ended. The caller records the outcome."""
        self.record.save(self.cp)
        self.record.report()
        try:
            if self.cp.phase == "census":
                Census(
                    self.page, self.lists, self.folders, self.record, check_stop=self._check_stop
                ).run()
            if self.cp.phase == "walk":
                if (self.cp.folderIndex, self.cp.after) == (0, None):
                    self.lists.prefetch_tops(
                        self.folders.prefetchable(FOLDERS),
                        batch_fallback=self.cp.mode == SyncRun.Mode.INCREMENTAL,
                        one_call=not findings.one_call_tops_refused(self.page),
                    )
                while self.cp.folderIndex < len(FOLDERS):
                    self._walk_folder(self.cp.folder)
                self.record.advance(phase="closing", folderIndex=0, after=None)
            self._close_walks()
        except RunLost:
            raise
        except Exception as exc:
            if not isinstance(exc, SyncStopped | GraphError):
                logger.exception("Sync run #%s failed", self.run.pk)
            return self.outcome(exc)
        finally:
            self.lists.close()
        return self.outcome(None)

    def finish(self, outcome: Outcome) -> None:
        self.record.finish(outcome)

    def outcome(self, error: BaseException | None) -> Outcome:
        return outcome_of(
            error,
            summary=self._summary(),
            current=self.cp.current,
            cancel_requested=runs.cancel_requested(self.run.pk),
            can_park=self.controls.can_park,
            now=timezone.now(),
        )

    def _summary(self) -> str:
        cp = self.cp
        sizes = self.lists.sizes.describe()
        return (
            f"Synced {cp.current} conversations: {cp.inserted} new, {cp.updated} updated, "
            f"{cp.skipped} unchanged, {cp.eventsCreated} events"
            + (f" ({sizes})." if sizes else ".")
        )

    # -- walking --------------------------------------------------------------------------

    def _walk_folder(self, folder: str) -> None:
        mark = self.page.high_water_marks.get(folder)
        stop_at = None
        if self.cp.mode == SyncRun.Mode.INCREMENTAL and mark:
            stop_at = datetime.fromisoformat(mark) - self.overlap
        with contextlib.suppress(FolderUnavailable):  # recorded on the Page; others go on
            self._walk(folder, stop_at=stop_at, inclusive_stop=True)
        self.record.advance(folderIndex=self.cp.folderIndex + 1, after=None)

    def _close_walks(self) -> None:
        """The closing pass: from the top of every folder down to the first conversation its
        walk began with. Whatever moved to the top while we walked (skipped by the cursor, or
        changed after the folder's top was read) is at least as new as that one. One call
        reads the tops of all folders; a folder where more than a page moved is paged on."""
        remaining = [f for f in FOLDERS[self.cp.folderIndex :] if f in self.cp.folderTops]
        if remaining and self.cp.after is None:
            one_call = not findings.one_call_tops_refused(self.page)
            self.lists.prefetch_tops(remaining, batch_fallback=False, one_call=one_call)
        while self.cp.folderIndex < len(FOLDERS):
            folder = self.cp.folder
            top = self.cp.folderTops.get(folder)
            if top:
                self._walk(folder, stop_at=datetime.fromisoformat(top), inclusive_stop=False)
            self.record.advance(folderIndex=self.cp.folderIndex + 1, after=None)

    def _walk(self, folder: str, *, stop_at: datetime | None, inclusive_stop: bool) -> int:
        """Walk a folder from the checkpoint's cursor; returns how many pages it fetched."""
        pages = empty_pages = 0
        while True:
            self._check_stop()
            response = self._fetch_conversations(folder)
            pages += 1
            if self.lists.sizes.to_json() != self.cp.sizes:
                # What Graph accepts changed: a resume starts from it.
                self.record.advance(sizes=self.lists.sizes.to_json())
            items = response.get("data")
            if not isinstance(items, list):
                raise BadListResponse("Graph returned a conversations list without data.")
            if self.cp.after is None and self.cp.phase == "walk":
                self.folders.check_first_page(folder, items)
            if self.cp.after is None and items:
                self._note_top(folder, items[0])
            parsed = [self._parse(raw, folder) for raw in items]
            paging = response.get("paging") if isinstance(response.get("paging"), dict) else {}
            after = next_position(paging)
            # Only a missing `next` ends a list: pages can be short or even empty.
            has_next = after is not None
            empty_pages = 0 if items else empty_pages + 1
            if has_next and (after == self.cp.after or empty_pages >= MAX_EMPTY_PAGES):
                self._restart_stuck_walk(folder)
                empty_pages = 0
                continue
            dated = [c for c in parsed if isinstance(c, ConversationData)]
            if has_next and (stop_at is None or (dated and dated[-1].updated_time > stop_at)):
                # The walk surely goes on past this page: fetch the next one while we write.
                self.lists.read_ahead(folder, after)
            known = ingest.load_known(self.page.pk, [c.facebook_id for c in dated])
            for conversation in parsed:
                self._check_stop()
                if isinstance(conversation, ConversationData) and stop_at is not None:
                    below = conversation.updated_time < stop_at or (
                        inclusive_stop and conversation.updated_time == stop_at
                    )
                    if below:
                        return pages
                self._process(conversation, known)
            if not has_next:
                return pages
            self.record.advance(after=after)

    def _restart_stuck_walk(self, folder: str) -> None:
        """The list does not move on (the same cursor again, or page after empty page): walk
        the folder again from the top once, then give up, resumably, instead of calling
        Graph forever."""
        if folder in self._restarted_walks:
            raise ListNotAdvancing(
                f"Facebook kept answering the {folder} list without moving on to the next "
                "conversations"
            )
        self._restarted_walks.add(folder)
        logger.info("The %s list of page %s does not move on; restarting it", folder, self.page.pk)
        self.record.advance(after=None)

    def _fetch_conversations(self, folder: str) -> dict[str, Any]:
        after = self.cp.after
        try:
            return self.lists.get(folder, after)
        except ObjectError as exc:
            if not after:
                if self.cp.phase == "walk":
                    self.folders.check_refusal(folder, exc)
                raise
            # Cursors go stale: restart the folder from the top. The pass id makes the
            # conversations already covered cheap repeats.
            logger.info("Stale cursor for page %s folder %s; restarting", self.page.pk, folder)
            self.record.advance(after=None)
            return self.lists.fetch(folder, None)

    def _note_top(self, folder: str, raw: Any) -> None:
        top = raw.get("updated_time") if isinstance(raw, dict) else None
        try:
            top_time = parsing.parse_time(top)
        except BadConversationData:
            return
        marks = dict(self.cp.marks)
        previous = marks.get(folder)
        if previous is None or datetime.fromisoformat(previous) < top_time:
            marks[folder] = top_time.isoformat()
        changes: dict[str, Any] = {"marks": marks}
        if self.cp.phase == "walk" and folder not in self.cp.folderTops:
            changes["folderTops"] = {**self.cp.folderTops, folder: top_time.isoformat()}
        self.record.advance(**changes)

    # -- one conversation -----------------------------------------------------------------

    def _parse(self, raw: Any, folder: str) -> ConversationData | BadConversation:
        try:
            return parsing.parse_conversation(raw, self.page.facebook_id, folder)
        except BadConversationData as exc:
            conversation_id = raw.get("id") if isinstance(raw, dict) else None
            return BadConversation(str(conversation_id or "(no id)"), str(exc))

    def _process(
        self, conversation: ConversationData | BadConversation, known: dict[str, KnownConversation]
    ) -> None:
        if isinstance(conversation, BadConversation):
            self.record.record_problem(conversation.facebook_id, conversation.error)
            return
        stored = known.get(conversation.facebook_id)
        repeat = stored is not None and stored.sync_pass == self.cp.passId
        if repeat and not ingest.has_changed(stored, conversation):
            return  # already counted in this pass and nothing new
        if stored and not repeat and not ingest.has_changed(stored, conversation):
            self.record.commit_conversation(
                conversation.facebook_id,
                conversation.contact_name,
                outcome="skipped",
                work=lambda: ingest.mark_unchanged(stored, self.cp.passId),
            )
            return
        try:
            new_messages = self._new_messages(conversation, stored)
        except (ObjectError, BadConversationData) as exc:
            self.record.record_problem(conversation.facebook_id, str(exc))
            return
        except TokenError as exc:
            if exc.code is not None and 200 <= exc.code <= 299:
                self.record.record_problem(conversation.facebook_id, str(exc))
                return
            raise

        def work() -> ingest.IngestResult:
            return ingest.ingest_conversation(
                self.page.pk,
                conversation,
                known=stored,
                new_messages=new_messages,
                sync_pass=self.cp.passId,
            )

        if repeat:
            outcome = None  # counted when first seen in this pass; only new events count now
        elif stored is None:
            outcome = "inserted"
        else:
            outcome = "updated"
        self.record.commit_conversation(
            conversation.facebook_id, conversation.contact_name, outcome=outcome, work=work
        )

    def _new_messages(
        self, conversation: ConversationData, stored: KnownConversation | None
    ) -> list[MessageData]:
        return threads.new_messages(
            conversation, stored, self.lists, self.page, check_stop=self._check_stop
        )

    def _check_stop(self) -> None:
        if self.controls.should_stop():
            raise SyncStopped()


@dataclass
class BadConversation:
    facebook_id: str
    error: str


class BadListResponse(GraphError):
    pass


class ListNotAdvancing(GraphError):
    pass


def run_sync(run: SyncRun, controls: RunControls | None = None) -> SyncRun:
    """Run a claimed SyncRun to its end and return it with its final status.

    `controls.sleep` is used for every wait (throttling, backoff, rate-limit pauses); it may
    raise SyncStopped to end the run early. A run that another process ended meanwhile
    (reaped during a stall) stops at once and writes nothing more.
    """
    return run_to_end(run, controls, PageSync)
