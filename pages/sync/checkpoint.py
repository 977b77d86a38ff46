"""The resume state of a sync (`FacebookPage.sync_checkpoint`) and the progress snapshots
the engine reports.

This module is the only reader and writer of `FacebookPage.sync_checkpoint`: everything
else asks `Checkpoint.of(page)`. Writes made for a run are fenced: they happen only while
that run is still running (or cancelling), so a run that was reaped during a stall and
resumed by another process can never overwrite its successor's checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from pages.models import FacebookPage, SyncRun

FOLDERS = ("inbox", "other", "page_done", "pending", "spam")
# How staff name the folders (Business Suite's words).
FOLDER_LABELS = {
    "inbox": "Inbox",
    "other": "Other",
    "page_done": "Done",
    "pending": "Pending",
    "spam": "Spam",
}


@dataclass
class Checkpoint:
    """The resume state kept in `FacebookPage.sync_checkpoint` (camelCase keys, the names our
    users know from the old system)."""

    runId: int
    passId: str
    mode: str
    status: str = "running"
    current: int = 0
    total: int | None = None
    totalIsEstimate: bool = False
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    eventsCreated: int = 0
    # Messages this pass read from Graph again and did not store twice (already held).
    duplicatesPrevented: int = 0
    lastSyncedId: str = ""
    lastSyncedName: str = ""
    folderIndex: int = 0
    # "census" (counting the Page's conversations), then "walk", then "closing".
    phase: str = "walk"
    # The census of a first or full sync (pages.sync.census): its position and, per folder,
    # how many conversations Graph lists. Empty when the run takes none.
    census: dict[str, Any] = field(default_factory=dict)
    # The `after` cursor that fetched the page in flight (None: the top of the folder).
    after: str | None = None
    # Per folder, updated_time (ISO) of the first conversation when its walk began.
    folderTops: dict[str, str] = field(default_factory=dict)
    # Conversations this pass recorded as problems (counted once, however often met).
    problemIds: list[str] = field(default_factory=list)
    # New high-water marks gathered by this run, per folder (ISO).
    marks: dict[str, str] = field(default_factory=dict)
    # How much one list call asks for, as learned from Graph (pages.sync.sizes).
    sizes: dict[str, Any] = field(default_factory=dict)
    timestamp: str = ""
    message: str = ""
    # When this run (not the Page's first run of the pass) began walking, and `current` then:
    # its pace counts only what it processed itself (pages.sync.pace).
    walkStartedAt: str = ""
    walkStartCurrent: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def of(cls, page: FacebookPage) -> Checkpoint | None:
        """The page's saved checkpoint, or None when it has none (never synced, cleared)."""
        data = page.sync_checkpoint
        if not isinstance(data, dict) or not data.get("passId"):
            return None
        try:
            return cls.from_json(data)
        except TypeError:  # a required key is missing: not a checkpoint we can resume
            return None

    @classmethod
    def saved_now(cls, page: FacebookPage) -> Checkpoint | None:
        """The checkpoint as saved now (read again from the database, not from a copy of the
        page loaded before the last run)."""
        page.refresh_from_db(fields=["sync_checkpoint"])
        return cls.of(page)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def owned_by(self, run: SyncRun) -> bool:
        """True when this checkpoint is the position of `run` (not of an earlier run)."""
        return self.runId == run.pk

    @property
    def unfinished(self) -> bool:
        """A run stopped before the end: a resume continues from here."""
        return self.status in UNFINISHED_STATUSES

    @property
    def percent(self) -> int | None:
        return percent_done(self.current, self.total, self.status)

    @property
    def folder(self) -> str:
        return FOLDERS[min(self.folderIndex, len(FOLDERS) - 1)]

    @property
    def folder_label(self) -> str:
        return FOLDER_LABELS[self.folder]

    @property
    def counted(self) -> int:
        """Conversations the census has counted so far."""
        counts = self.census.get("counts") if isinstance(self.census, dict) else None
        return sum(counts.values()) if isinstance(counts, dict) else 0

    def run_counters(self) -> dict[str, Any]:
        """The SyncRun fields that mirror this checkpoint."""
        return {
            "current": self.current,
            "total": self.total,
            "inserted": self.inserted,
            "updated": self.updated,
            "skipped": self.skipped,
            "events": self.eventsCreated,
            "current_name": self.lastSyncedName[:255],
            "duplicates_prevented": self.duplicatesPrevented,
        }


@dataclass(frozen=True)
class SyncProgress:
    """A full snapshot of a run's progress: what every progress display needs."""

    run_id: int
    status: str
    mode: str
    current: int
    total: int | None
    total_is_estimate: bool
    inserted: int
    updated: int
    skipped: int
    events: int
    current_name: str
    folder: str
    message: str
    resume_at: datetime | None = None
    # "census" | "walk" | "closing"; the folder being read is FOLDERS[folder_index].
    phase: str = "walk"
    folder_index: int = 0
    # Conversations the census has counted so far (the total is set once it is done).
    counted: int = 0
    walk_started_at: str = ""
    walk_start_current: int = 0
    # True when the engine is about to wait (for Graph): displays should show this snapshot
    # now rather than coalesce it with the next one.
    flush: bool = False
    # Rows read from Graph again and not stored twice.
    duplicates_prevented: int = 0

    @property
    def percent(self) -> int | None:
        return percent_done(self.current, self.total, self.status)


UNFINISHED_STATUSES = {"running", "paused", "interrupted", "cancelled", "failed"}


def percent_done(current: int, total: int | None, status: str) -> int | None:
    """How far a run is, for every display: 100 only once complete, None without a total."""
    if status == SyncRun.Status.COMPLETE:
        return 100
    if not total:
        return None
    return min(99, current * 100 // total)


def walk_start(current: int) -> dict[str, Any]:
    """The checkpoint fields that say this run's walk begins now, at `current` (its pace
    counts from there: pages.sync.pace)."""
    return {"walkStartedAt": timezone.now().isoformat(), "walkStartCurrent": current}


def pretty_json(page: FacebookPage) -> str:
    """The saved checkpoint as indented JSON, for staff (admin, technical details); empty
    when there is none."""
    if not page.sync_checkpoint:
        return ""
    return json.dumps(page.sync_checkpoint, indent=2, sort_keys=True, ensure_ascii=False)


def save_for_run(cp: Checkpoint, page_pk: int, run_pk: int, **page_fields: Any) -> bool:
    """Write the checkpoint (and other page fields) if the run still works on the page.
    Returns False, writing nothing, when the run was reaped or ended meanwhile."""
    working = SyncRun.objects.filter(
        pk=run_pk, page=OuterRef("pk"), status__in=SyncRun.WORKING_STATUSES
    )
    written = (
        FacebookPage.objects.filter(pk=page_pk)
        .filter(Exists(working))
        .update(sync_checkpoint=cp.to_json(), **page_fields)
    )
    return bool(written)


def mark_status(page: FacebookPage, run: SyncRun, status: str) -> Checkpoint | None:
    """Record on the page's checkpoint how `run` ended, if the checkpoint is that run's (the
    reaper's side: the run's own process is gone). Returns the checkpoint it marked."""
    cp = Checkpoint.of(page)
    if cp is None or not cp.owned_by(run):
        return None
    cp = replace(cp, status=status)
    page.sync_checkpoint = cp.to_json()
    page.save(update_fields=["sync_checkpoint"])
    return cp


def clear_checkpoints(pages: QuerySet[FacebookPage]) -> int:
    """Forget where the pages' syncs were: their next sync starts from the top."""
    return pages.update(sync_checkpoint={})


def progress_of(
    run: SyncRun, cp: Checkpoint, message: str = "", *, flush: bool = False
) -> SyncProgress:
    return SyncProgress(
        flush=flush,
        run_id=run.pk,
        status=run.status,
        mode=cp.mode,
        current=cp.current,
        total=cp.total,
        total_is_estimate=cp.totalIsEstimate,
        inserted=cp.inserted,
        updated=cp.updated,
        skipped=cp.skipped,
        events=cp.eventsCreated,
        current_name=cp.lastSyncedName,
        folder=cp.folder,
        message=message or cp.message,
        resume_at=run.resume_at,
        phase=cp.phase,
        folder_index=cp.folderIndex,
        counted=cp.counted,
        walk_started_at=cp.walkStartedAt,
        walk_start_current=cp.walkStartCurrent,
        duplicates_prevented=cp.duplicatesPrevented,
    )
