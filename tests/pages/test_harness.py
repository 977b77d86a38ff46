"""The harness the worker task and the command share: it claims the run, its sleeps notice
a stop and keep the heartbeat, and a reaped run's next heartbeat stops it."""

import signal
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from pages import harness as harness_module
from pages.harness import RunHarness, StopSignals
from pages.models import SyncRun
from pages.sync.controls import SyncStopped
from pages.sync.runs import RunLost, create_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_slices(monkeypatch):
    monkeypatch.setattr(harness_module, "SLEEP_SLICE_SECONDS", 0.01)
    monkeypatch.setattr(harness_module, "HEARTBEAT_EVERY_SECONDS", 0.0)


def claimed_harness(page, stop: threading.Event | None = None) -> RunHarness:
    run = create_run(page, trigger=SyncRun.Trigger.WEB)
    harness = RunHarness(run, stop=stop or threading.Event(), park_after_seconds=None)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING)
    return harness


def test_a_run_that_is_not_there_to_claim_is_returned_as_it_is(page):
    run = create_run(page, trigger=SyncRun.Trigger.WEB)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.CANCELLED)

    result = RunHarness(run, stop=threading.Event(), park_after_seconds=None).execute()

    assert result.status == SyncRun.Status.CANCELLED


def test_sleep_keeps_the_heartbeat_in_slices(page, fast_slices):
    harness = claimed_harness(page)
    SyncRun.objects.filter(pk=harness.run.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    harness.sleep(0.05)

    beat = SyncRun.objects.get(pk=harness.run.pk).heartbeat_at
    assert timezone.now() - beat < timedelta(seconds=5)


def test_sleep_ends_with_sync_stopped_as_soon_as_the_stop_flag_is_set(page):
    stop = threading.Event()
    harness = claimed_harness(page, stop)
    threading.Timer(0.1, stop.set).start()

    with pytest.raises(SyncStopped):
        harness.sleep(30)


def test_a_cancel_request_is_noticed_during_a_long_sleep(page, fast_slices):
    harness = claimed_harness(page)
    SyncRun.objects.filter(pk=harness.run.pk).update(cancel_requested=True)

    with pytest.raises(SyncStopped):
        harness.sleep(30)
    assert harness.should_stop()


def test_a_reaped_run_stops_at_its_next_heartbeat(page, fast_slices):
    harness = claimed_harness(page)
    SyncRun.objects.filter(pk=harness.run.pk).update(status=SyncRun.Status.INTERRUPTED)

    with pytest.raises(RunLost):
        harness.sleep(0.05)


def test_stop_signals_set_the_event_and_chain_only_when_asked():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *args: seen.append("previous"))
    try:
        with StopSignals(chain=False) as signals:
            signal.raise_signal(signal.SIGTERM)
        assert signals.event.is_set()
        assert seen == []
        with StopSignals(chain=True) as signals:
            signal.raise_signal(signal.SIGTERM)
        assert signals.event.is_set()
        assert seen == ["previous"]
    finally:
        signal.signal(signal.SIGTERM, previous)
