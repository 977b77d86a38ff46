"""The reaper: runs whose process is gone become `interrupted`, at the position their
checkpoint saved (the run row is only written a few times a second)."""

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from pages.models import SyncRun
from pages.runs import STOPPED_UNEXPECTEDLY, reap_stale_runs, this_host
from pages.sync.checkpoint import Checkpoint

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
