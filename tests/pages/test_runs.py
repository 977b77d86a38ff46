"""The run state machine (pages.sync.runs): every transition of the table from every status (the
allowed ones happen, the refused ones change nothing); fencing (a run that no longer works in
its process writes nothing more); and the reaper, which turns runs whose process is gone into
`interrupted` at the position their checkpoint saved."""

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from pages.models import SyncRun
from pages.sync import runs
from pages.sync.checkpoint import Checkpoint, save_for_run
from pages.sync.runs import (
    STOPPED_UNEXPECTEDLY,
    TRANSITIONS,
    InvalidTransition,
    RunLost,
    Start,
    reap_stale_runs,
    this_host,
)
from tests.helpers import sync
from tests.truth import truth_of

pytestmark = pytest.mark.django_db


def running_run(page, *, pid: int, heartbeat_age: float = 0, current: int = 20) -> SyncRun:
    return SyncRun.objects.create(
        page=page,
        trigger=SyncRun.Trigger.WEB,
        mode=SyncRun.Mode.FULL,
        status=SyncRun.Status.RUNNING,
        worker_host=this_host(),
        worker_pid=pid,
        started_at=timezone.now(),
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age),
        current=current,
        inserted=current,
        events=2 * current,
        current_name="Behind",
    )


def save_checkpoint(page, run: SyncRun, *, current: int) -> None:
    page.sync_checkpoint = Checkpoint(
        runId=run.pk,
        passId="p1",
        mode=run.mode,
        current=current,
        inserted=current,
        eventsCreated=2 * current,
        lastSyncedName="Ahead",
    ).to_json()
    page.save(update_fields=["sync_checkpoint"])


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_run_whose_process_died_is_interrupted_at_its_checkpoint(page):
    run = running_run(page, pid=dead_pid(), current=20)
    save_checkpoint(page, run, current=21)

    (reaped,) = reap_stale_runs()

    run.refresh_from_db()
    page.refresh_from_db()
    assert reaped.pk == run.pk
    assert run.status == SyncRun.Status.INTERRUPTED
    assert run.error == STOPPED_UNEXPECTEDLY
    assert (run.current, run.inserted, run.events, run.current_name) == (21, 21, 42, "Ahead")
    assert (reaped.current, reaped.current_name) == (21, "Ahead")
    assert page.sync_checkpoint["status"] == "interrupted"
    assert page.sync_checkpoint["current"] == 21


def test_a_stale_heartbeat_is_reaped_even_from_another_host(page, settings):
    run = running_run(page, pid=os.getpid(), heartbeat_age=120)
    SyncRun.objects.filter(pk=run.pk).update(worker_host="elsewhere")
    save_checkpoint(page, run, current=25)
    settings.SYNC_HEARTBEAT_TIMEOUT_SECONDS = 60

    assert [r.pk for r in reap_stale_runs()] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.current) == (SyncRun.Status.INTERRUPTED, 25)


def test_a_live_run_is_left_alone(page):
    run = running_run(page, pid=os.getpid())
    save_checkpoint(page, run, current=21)

    assert reap_stale_runs() == []
    run.refresh_from_db()
    assert (run.status, run.current) == (SyncRun.Status.RUNNING, 20)


def test_a_checkpoint_of_another_run_is_neither_copied_nor_touched(page):
    run = running_run(page, pid=dead_pid(), current=20)
    other = SyncRun.objects.create(
        page=page, trigger=SyncRun.Trigger.WEB, mode="full", status=SyncRun.Status.COMPLETE
    )
    save_checkpoint(page, other, current=60)
    page.sync_checkpoint["status"] = "complete"
    page.save(update_fields=["sync_checkpoint"])

    reap_stale_runs()

    run.refresh_from_db()
    page.refresh_from_db()
    assert (run.status, run.current) == (SyncRun.Status.INTERRUPTED, 20)
    assert page.sync_checkpoint["status"] == "complete"


# -- the state machine ----------------------------------------------------------------------

S = SyncRun.Status
ALL_STATUSES = list(S)


def run_in(page, status: str) -> SyncRun:
    return SyncRun.objects.create(page=page, status=status, mode=SyncRun.Mode.FULL)


TARGET = {
    "claim": S.RUNNING,
    "cancel": S.CANCELLED,
    "request_cancel": S.CANCELLING,
    "park": S.PAUSED,
    "finish": S.COMPLETE,
    "reap": S.INTERRUPTED,
}


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_each_transition_from_each_status(page, name, status):
    run = run_in(page, status)
    allowed = status in TRANSITIONS[name].sources

    happened = runs.move(run.pk, name, TARGET[name])

    run.refresh_from_db()
    assert happened is allowed
    assert run.status == (TARGET[name] if allowed else status)


def test_request_cancel_cancels_a_queued_run_at_once_and_asks_a_running_one_to_stop(page, sandbox):
    queued = run_in(page, S.QUEUED)
    runs.request_cancel(page)
    queued.refresh_from_db()
    assert (queued.status, queued.cancel_requested) == (S.CANCELLED, True)
    assert queued.finished_at is not None

    running = run_in(page, S.RUNNING)
    runs.request_cancel(page)
    running.refresh_from_db()
    assert (running.status, running.cancel_requested) == (S.CANCELLING, True)
    assert running.finished_at is None


def test_park_and_finish_record_the_end(page):
    run = run_in(page, S.RUNNING)
    resume_at = timezone.now() + timedelta(minutes=5)
    assert runs.park(run, resume_at=resume_at, message="Paused.", current=4)
    run.refresh_from_db()
    assert (run.status, run.resume_at, run.current, run.finished_at) == (
        S.PAUSED,
        resume_at,
        4,
        None,
    )
    assert runs.claim(run)
    runs.finish(run, S.COMPLETE, message="Done.", current=9)
    run.refresh_from_db()
    assert (run.status, run.error, run.current) == (S.COMPLETE, "", 9)
    assert run.finished_at is not None
    with pytest.raises(RunLost):
        runs.finish(run, S.FAILED, message="again")


def test_a_transition_cannot_end_in_a_status_its_table_does_not_allow(page):
    run = run_in(page, S.RUNNING)
    with pytest.raises(InvalidTransition):
        runs.finish(run, S.PAUSED, message="no")
    run.refresh_from_db()
    assert run.status == S.RUNNING


def test_claim_records_who_runs_it_and_keeps_the_first_start(page):
    run = run_in(page, S.PAUSED)
    started = timezone.now() - timedelta(hours=1)
    SyncRun.objects.filter(pk=run.pk).update(started_at=started, resume_at=timezone.now())

    assert runs.claim(run)
    assert run.status == S.RUNNING
    assert (run.worker_host, run.started_at, run.resume_at) == (runs.this_host(), started, None)
    assert run.heartbeat_at is not None


def test_a_reaped_run_is_marked_by_a_field_not_by_its_message(page):
    run = run_in(page, S.RUNNING)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=None)

    (reaped,) = runs.reap_stale_runs()

    run.refresh_from_db()
    assert run.reaped_at is not None
    assert reaped.reaped_at == run.reaped_at


def test_progress_and_heartbeat_of_a_run_that_no_longer_works_here_raise_run_lost(page):
    run = run_in(page, S.INTERRUPTED)
    with pytest.raises(RunLost):
        runs.heartbeat(run)
    with pytest.raises(RunLost):
        runs.record_progress(run, current=5)
    assert SyncRun.objects.get(pk=run.pk).current == 0


def test_the_checkpoint_is_written_only_for_a_run_that_still_works(page):
    run = run_in(page, S.RUNNING)
    cp = Checkpoint(runId=run.pk, passId="p", mode="full", current=7)
    assert save_for_run(cp, page.pk, run.pk)

    SyncRun.objects.filter(pk=run.pk).update(status=S.INTERRUPTED)
    later = Checkpoint(runId=run.pk, passId="p", mode="full", current=9)
    assert not save_for_run(later, page.pk, run.pk)

    page.refresh_from_db()
    assert Checkpoint.of(page).current == 7


def test_a_run_reaped_during_a_stall_then_continued_cannot_write_nor_complete(page, sandbox):
    """The run stalls past the heartbeat timeout (here: inside a progress report), is reaped
    and resumed by another process meanwhile; when it wakes up its next write fails, it stops
    at once, and it never becomes complete."""
    state = {"reaped": False}

    def stall_at_conversation_ten(snapshot) -> None:
        if snapshot.current == 10 and not state["reaped"]:
            state["reaped"] = True
            SyncRun.objects.filter(status=S.RUNNING).update(
                heartbeat_at=timezone.now() - timedelta(hours=1)
            )
            assert len(runs.reap_stale_runs()) == 1

    run = sync(page, on_progress=stall_at_conversation_ten)

    run.refresh_from_db()
    page.refresh_from_db()
    assert run.status == S.INTERRUPTED
    assert run.reaped_at is not None
    saved = Checkpoint.of(page)
    # Nothing after the reap was written: the stored conversations are the checkpoint's.
    assert saved.status == "interrupted"
    assert saved.current == 10
    assert page.conversations.count() == 10
    assert run.current == 10

    resumed = sync(page, resume=True)
    assert resumed.status == S.COMPLETE
    assert page.conversations.count() == len(truth_of(sandbox, page)["conversations"])


def test_start_modes_choose_full_incremental_and_resume(page, sandbox):
    assert runs.create_run(page, trigger="web", mode=Start.NEXT).mode == SyncRun.Mode.FULL
    SyncRun.objects.all().delete()
    assert sync(page).status == S.COMPLETE
    assert runs.create_run(page, trigger="web").mode == SyncRun.Mode.INCREMENTAL
    SyncRun.objects.all().delete()
    assert runs.create_run(page, trigger="web", mode=Start.FULL).mode == SyncRun.Mode.FULL
    SyncRun.objects.all().delete()
    resumed = runs.create_run(page, trigger="web", mode=Start.RESUME)
    assert (resumed.mode, resumed.resumed) == (SyncRun.Mode.INCREMENTAL, False)
