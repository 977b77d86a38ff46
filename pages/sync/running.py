"""Running one claimed run to its end: the part every kind of run shares (a sync, a verify,
the history backfill). It builds the run's Graph client (its sleeps are the runner's, so a
wait beats the heartbeat and notices a stop), lets the work walk, and has it record how it
ended; a run another process ended meanwhile (reaped during a stall) stops writing at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from django.conf import settings

from pages.crypto import TokenDecryptionError
from pages.graph.client import GraphClient
from pages.models import FacebookPage, SyncRun
from pages.sync import runs
from pages.sync.controls import RunControls
from pages.sync.outcome import Outcome
from pages.sync.runs import RunLost

logger = logging.getLogger(__name__)


class RunWork(Protocol):
    def execute(self) -> Outcome: ...

    def outcome(self, error: BaseException | None) -> Outcome: ...

    def finish(self, outcome: Outcome) -> None: ...


def record_end(run: SyncRun, outcome: Outcome, counters: dict) -> None:
    """Record how a run without a sync checkpoint (a verify, the history backfill) ended,
    inside the caller's transaction: parked until Graph lets it go on, or finished; and the
    Page's token refused, when it was. Raises RunLost when the run was reaped meanwhile."""
    if outcome.needs_reconnect:
        FacebookPage.objects.filter(pk=run.page_id).update(
            token_status=FacebookPage.TokenStatus.NEEDS_RECONNECT,
            token_error=outcome.token_error,
        )
    paused = outcome.status == SyncRun.Status.PAUSED
    if paused and runs.park(run, resume_at=outcome.resume_at, message=outcome.message, **counters):
        return
    # A cancel that arrived while it paused: a paused run is only ever plain running.
    status = SyncRun.Status.CANCELLED if paused else outcome.status
    runs.finish(run, status, message="Cancelled." if paused else outcome.message, **counters)


def run_to_end(
    run: SyncRun,
    controls: RunControls | None,
    work: Callable[[SyncRun, GraphClient, RunControls], RunWork],
) -> SyncRun:
    """Run `work` for a claimed run and return the run with its final status."""
    controls = controls or RunControls()
    try:
        token, unreadable = run.page.access_token, None
    except TokenDecryptionError as exc:
        # Ends the run at once with its reason (a reaped crash would be resumed forever).
        token, unreadable = "", exc
    client = GraphClient.for_page(
        run.page,
        token=token,
        sleep=controls.sleep,
        clock=controls.clock,
        max_inline_pause=(
            controls.park_after_seconds if controls.can_park else GraphClient.WAIT_INLINE
        ),
        max_calls=settings.SYNC_MAX_GRAPH_CALLS_PER_RUN,
    )
    try:
        walk = work(run, client, controls)
        try:
            outcome = walk.execute() if unreadable is None else walk.outcome(unreadable)
        except (KeyboardInterrupt, SystemExit) as exc:
            walk.finish(walk.outcome(exc))
            raise
        walk.finish(outcome)
    except RunLost:
        logger.warning("Run #%s was ended elsewhere; it stops without writing", run.pk)
        run.refresh_from_db()
    finally:
        client.session.close()
    return run
