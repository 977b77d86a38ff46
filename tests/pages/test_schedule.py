"""Housekeeping's own parts (pages/schedule.py): workers' heartbeats, and Pages that cannot
sync left out of the schedule."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from pages.models import FacebookPage, SyncRun, WorkerHeartbeat
from pages.schedule import beat, enqueue_due_syncs, housekeeping_forever, worker_stopped
from tests.helpers import closing_connections

pytestmark = pytest.mark.django_db


def test_a_worker_beats_and_is_gone_at_once_when_it_stops():
    beat("w1")
    first = WorkerHeartbeat.objects.get(worker_id="w1")
    assert first.is_alive(timezone.now())

    beat("w1")
    again = WorkerHeartbeat.objects.get(worker_id="w1")
    assert again.started_at == first.started_at
    assert again.seen_at >= first.seen_at

    worker_stopped("w1")
    assert not WorkerHeartbeat.objects.get(worker_id="w1").is_alive(timezone.now())


def test_a_heartbeat_goes_stale_after_missed_beats(settings):
    settings.SYNC_REAPER_INTERVAL_SECONDS = 20
    beat("w1")
    now = timezone.now()
    assert WorkerHeartbeat.objects.get().is_alive(now + timedelta(seconds=59))
    assert not WorkerHeartbeat.objects.get().is_alive(now + timedelta(seconds=61))


def test_long_gone_workers_are_forgotten():
    WorkerHeartbeat.objects.create(
        worker_id="old", host="h", pid=1, seen_at=timezone.now() - timedelta(days=8)
    )
    beat("new")
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_the_housekeeping_thread_beats_then_records_its_stop(settings):
    settings.SYNC_REAPER_INTERVAL_SECONDS = 0.05
    stop = threading.Event()
    thread = threading.Thread(target=closing_connections(housekeeping_forever), args=(stop, "w1"))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not WorkerHeartbeat.objects.filter(worker_id="w1").exists():
            assert time.monotonic() < deadline, "the worker never beat"
            time.sleep(0.02)
        assert WorkerHeartbeat.objects.get().is_alive(timezone.now())
    finally:
        stop.set()
        thread.join(timeout=10)
    assert WorkerHeartbeat.objects.get().stopped_at is not None


def test_pages_without_a_token_are_not_scheduled(settings, page):
    settings.SYNC_SCHEDULE_INTERVAL_SECONDS = 3600
    FacebookPage.objects.create(facebook_id="100200300", name="Added in the admin")

    queued = enqueue_due_syncs()

    assert [run.page for run in queued] == [page]
    assert SyncRun.objects.count() == 1
