"""The resume state of a sync (`FacebookPage.sync_checkpoint`) and the progress snapshots
the engine reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pages.models import SyncRun

FOLDERS = ("inbox", "other", "page_done", "pending", "spam")


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
    lastSyncedId: str = ""
    lastSyncedName: str = ""
    folderIndex: int = 0
    phase: str = "walk"
    # The `after` cursor that fetched the page in flight (None: the top of the folder).
    after: str | None = None
    # Per folder, updated_time (ISO) of the first conversation when its walk began.
    folderTops: dict[str, str] = field(default_factory=dict)
    # Conversations this pass recorded as problems (counted once, however often met).
    problemIds: list[str] = field(default_factory=list)
    # New high-water marks gathered by this run, per folder (ISO).
    marks: dict[str, str] = field(default_factory=dict)
    timestamp: str = ""
    message: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def folder(self) -> str:
        return FOLDERS[min(self.folderIndex, len(FOLDERS) - 1)]

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
    # True when the engine is about to wait (for Graph): displays should show this snapshot
    # now rather than coalesce it with the next one.
    flush: bool = False

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == SyncRun.Status.COMPLETE else None
        if self.status == SyncRun.Status.COMPLETE:
            return 100
        return min(99, self.current * 100 // self.total)


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
    )
