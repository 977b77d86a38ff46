"""What the process that runs a sync lends the engine: how to wait, when to stop, where to
report progress, and whether a long rate-limit pause may park the run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pages.sync.checkpoint import SyncProgress


class SyncStopped(Exception):
    """Raised (by `should_stop` or an interrupted sleep) to end the run after saving."""


def _no_progress(progress: SyncProgress) -> None:
    return None


@dataclass(frozen=True)
class RunControls:
    # Polled between conversations; True ends the run (interrupted, or cancelled when a
    # cancel was requested).
    should_stop: Callable[[], bool] = lambda: False
    # Every wait (call spacing, backoff, rate-limit pauses); may raise SyncStopped.
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    on_progress: Callable[[SyncProgress], None] = field(default=_no_progress)
    # A worker parks a run whose rate-limit pause is longer than this many seconds, and a
    # delayed task resumes it. None: never park (the command line has nobody to resume a
    # parked run), so pauses are waited out and a limit that does not lift interrupts it.
    park_after_seconds: float | None = None

    @property
    def can_park(self) -> bool:
        return self.park_after_seconds is not None
