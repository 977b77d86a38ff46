"""Running one sync in this process: the harness shared by the worker task and the
`sync_page` command.

It claims the run (pages.sync.runs) and lends the engine its RunControls: a stop flag (set by
SIGTERM/SIGINT, or by a cancel request read from the database), sleeps cut into short slices
that keep the run's heartbeat and notice a stop, and progress reports published to the live
card (and to the command's progress bar).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from pages import progress
from pages.models import SyncRun
from pages.sync import runs
from pages.sync.checkpoint import SyncProgress
from pages.sync.controls import RunControls, SyncStopped
from pages.sync.engine import run_sync
from pages.sync.history import run_history
from pages.sync.verify import run_verify

# What runs a claimed run, by its mode (full and incremental: the sync engine).
ENGINES = {
    SyncRun.Mode.HISTORY: run_history,
    SyncRun.Mode.VERIFY: run_verify,
    SyncRun.Mode.REPAIR: run_verify,
}

# A run whose heartbeat is older than SYNC_HEARTBEAT_TIMEOUT_SECONDS is taken as dead.
HEARTBEAT_EVERY_SECONDS = 5.0
# Long waits are cut into slices this long, so a stop is noticed within about a second.
SLEEP_SLICE_SECONDS = 1.0
CANCEL_CHECK_SECONDS = 0.5


class StopSignals:
    """While it is entered, SIGTERM and SIGINT set `event`: the run stops after the
    conversation in flight and saves its checkpoint.

    With `chain`, the handlers that were installed before still run: db_worker's first
    signal lets the task finish and its second forces the exit. Signals can only be handled
    in the main thread; elsewhere this only provides the event.
    """

    def __init__(self, *, chain: bool) -> None:
        self.chain = chain
        self.event = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        self.event.set()
        previous = self._previous.get(signum)
        if self.chain and callable(previous):
            previous(signum, frame)

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class RunHarness:
    def __init__(
        self,
        run: SyncRun,
        *,
        stop: threading.Event,
        park_after_seconds: float | None,
        on_progress: Callable[[SyncProgress], None] | None = None,
    ) -> None:
        self.run = run
        self.stop = stop
        self.park_after_seconds = park_after_seconds
        self.on_progress = on_progress
        self._cancel_checked_at = 0.0
        self._cancelled = False
        self._last_beat = time.monotonic()

    def execute(self) -> SyncRun:
        """Claim the run and sync to the end; returns the run with its final status (or as
        it is, when it was not there to claim: cancelled while queued, taken by another)."""
        if not runs.claim(self.run):
            return self.run
        controls = RunControls(
            should_stop=self.should_stop,
            sleep=self.sleep,
            on_progress=self.report,
            park_after_seconds=self.park_after_seconds,
        )
        return ENGINES.get(self.run.mode, run_sync)(self.run, controls)

    def should_stop(self) -> bool:
        """A signal, or a cancel request (read from the database at most every 0.5 s)."""
        if self.stop.is_set() or self._cancelled:
            return True
        now = time.monotonic()
        if now - self._cancel_checked_at >= CANCEL_CHECK_SECONDS:
            self._cancel_checked_at = now
            self._cancelled = runs.cancel_requested(self.run.pk)
        return self._cancelled

    def sleep(self, seconds: float) -> None:
        """Every wait of the engine and its Graph client (read-ahead thread included)."""
        remaining = seconds
        while remaining > 0:
            step = min(remaining, SLEEP_SLICE_SECONDS)
            if self.stop.wait(step):
                raise SyncStopped()
            remaining -= step
            if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_SECONDS:
                self._last_beat = time.monotonic()
                runs.heartbeat(self.run)  # raises RunLost if the run was reaped meanwhile
            if remaining > 0 and self.should_stop():
                raise SyncStopped()

    def report(self, snapshot: SyncProgress) -> None:
        if self.on_progress is not None:
            self.on_progress(snapshot)
        # Staff watching the page see every run live, the command line's too.
        final = snapshot.flush or snapshot.status != SyncRun.Status.RUNNING
        progress.publish(self.run.page_id, final=final)
