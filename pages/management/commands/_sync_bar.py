"""What `sync_page`'s progress bar says: the story the web card tells (the same total, percent,
rate and ETA, the rate and ETA from pages.sync.pace), as text for tqdm's `bar_format`.

tqdm only draws: the text comes from the run's snapshots, so tqdm's own count, rate and ETA
(which would count from this process's start, not the run's walk) never appear.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from tqdm import tqdm

from pages.models import SyncRun
from pages.sync.checkpoint import FOLDER_LABELS, FOLDERS, SyncProgress
from pages.sync.pace import pace_of

# tqdm fills {desc} and {bar}; {stats} comes from SyncBar.format_dict.
WITH_BAR = "{desc} |{bar:12}| {stats}"
AFTER_COLON = "{desc}: {stats}"
AFTER_BAR = "{desc} | {stats}"
NAME_WIDTH = 24
STATUS_LABELS = dict(SyncRun.Status.choices)


@dataclass(frozen=True)
class BarLine:
    bar_format: str
    desc: str
    stats: str
    # What tqdm's {bar} fills up to (None: no bar is drawn), and how far it is.
    total: int | None = None
    current: int = 0

    def text(self) -> str:
        """The line without tqdm's bar."""
        return self.bar_format.replace(" |{bar:12}| ", " | ").format(
            desc=self.desc, stats=self.stats
        )


def bar_line(snapshot: SyncProgress, now: datetime) -> BarLine:
    if snapshot.mode == SyncRun.Mode.VERIFY:
        return verify_line(snapshot)
    if snapshot.phase == "census":
        return BarLine(AFTER_COLON, "Counting conversations", f"{snapshot.counted:,}")
    if snapshot.phase == "history":
        return history_line(snapshot)
    pace = pace_of(
        walk_started_at=snapshot.walk_started_at,
        walk_start_current=snapshot.walk_start_current,
        current=snapshot.current,
        total=snapshot.total,
        now=now,
    )
    rate = rate_text(pace.rate if pace else None)
    counters = (
        f"+{snapshot.inserted:,} new ↻{snapshot.updated:,} updated 📊 {snapshot.events:,} events"
    )
    name = printable(snapshot.current_name)[:NAME_WIDTH]
    if snapshot.mode == SyncRun.Mode.INCREMENTAL and snapshot.total is None:
        changed = snapshot.inserted + snapshot.updated
        stats = joined(f"{changed:,} changed so far", where(snapshot), rate, counters, name)
        return BarLine(AFTER_COLON, "Checking recent conversations", stats)
    if not snapshot.total:
        counted = f"{snapshot.current:,} conversation{'' if snapshot.current == 1 else 's'}"
        stats = joined(counted, rate, counters, name)
        return BarLine(AFTER_BAR, where(snapshot), stats)
    about = "~" if snapshot.total_is_estimate else ""
    position = f"{snapshot.current:,}/{about}{snapshot.total:,}"
    if snapshot.percent is not None:
        position += f" {snapshot.percent}%"
    eta = f"ETA {duration_text(pace.eta)}" if pace and pace.eta is not None else ""
    stats = joined(position, rate, eta, counters, name)
    return BarLine(WITH_BAR, where(snapshot), stats, total=snapshot.total, current=snapshot.current)


def history_line(snapshot: SyncProgress) -> BarLine:
    """The history backfill: threads complete of all, messages stored, the thread in flight."""
    total = snapshot.total or 0
    stats = joined(
        f"{snapshot.current:,} of {total:,} conversations complete",
        f"{snapshot.inserted:,} messages",
        printable(snapshot.message) if snapshot.message else "",
        printable(snapshot.current_name)[:NAME_WIDTH],
    )
    if snapshot.status != SyncRun.Status.RUNNING or not total:
        return BarLine(AFTER_BAR, f"History: {where(snapshot)}", stats)
    return BarLine(WITH_BAR, "History", stats, total=total, current=min(snapshot.current, total))


def verify_line(snapshot: SyncProgress) -> BarLine:
    """A verify run (pages.sync.verify): reading Facebook's list, then checking."""
    if snapshot.phase == "listing":
        return BarLine(
            AFTER_COLON, "Reading Facebook's list", f"{snapshot.counted:,} conversations"
        )
    desc = "Verifying"
    if snapshot.status != SyncRun.Status.RUNNING:
        desc = STATUS_LABELS.get(snapshot.status, snapshot.status)
    position = f"{snapshot.current:,}/{snapshot.total or 0:,} checked"
    if snapshot.percent is not None:
        position += f" {snapshot.percent}%"
    stats = joined(position, printable(snapshot.current_name)[:NAME_WIDTH])
    return BarLine(WITH_BAR, desc, stats, total=snapshot.total, current=snapshot.current)


class SyncBar(tqdm):
    """A tqdm bar that draws BarLines. Created with `miniters=0`, `update` redraws at most
    every `mininterval` even when only the text changed (the census counts, `n` stays)."""

    stats = ""

    @property
    def format_dict(self) -> dict:
        return {**super().format_dict, "stats": self.stats}

    def show(self, line: BarLine, *, at_once: bool = False) -> None:
        self.bar_format = line.bar_format
        self.stats = line.stats
        self.total = line.total
        self.set_description_str(line.desc, refresh=False)
        self.update(line.current - self.n)
        if at_once:
            self.refresh()


def where(snapshot: SyncProgress) -> str:
    """The folder being read, as staff name it ("Inbox 1/5"), or how the run ended."""
    if snapshot.status != SyncRun.Status.RUNNING:
        return STATUS_LABELS.get(snapshot.status, snapshot.status)
    folder = FOLDER_LABELS.get(snapshot.folder, snapshot.folder)
    place = f"{folder} {min(snapshot.folder_index, len(FOLDERS) - 1) + 1}/{len(FOLDERS)}"
    return f"Closing pass, {place}" if snapshot.phase == "closing" else place


def rate_text(rate: float | None) -> str:
    if rate is None:
        return ""
    if rate < 0.1:  # "0.0 conv/s" would read as stuck
        return f"{rate * 60:.1f} conv/min"
    return f"{rate:.1f} conv/s"


def duration_text(duration: timedelta) -> str:
    """0:06, 12:30, 1:02:03."""
    minutes, seconds = divmod(max(int(duration.total_seconds()), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def joined(*parts: str) -> str:
    return " | ".join(part for part in parts if part)


def printable(text: str) -> str:
    """Text from Facebook, safe for a terminal: control and format characters (escape
    sequences, bidi overrides) are dropped."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
