"""The real worker process: SIGKILL mid-run is reaped (Resume shows live) and resumes exactly;
SIGTERM stops after the conversation in flight (and records that the worker stopped)."""

import signal
import time

import pytest

from conversations.models import Conversation
from pages.models import WorkerHeartbeat
from tests.helpers import connect, staff_session_cookie
from tests.sse import SseReader
from tests.truth import assert_matches_truth, expected_counts
from tests.workers import WORKER_ENV, enqueue, start_worker, wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_worker_killed_mid_run_shows_resume_live_and_resume_is_exact(
    make_graph_sandbox, start_daphne
):
    server = make_graph_sandbox(conversations=120, seed=13, latency_ms=30)
    page = connect(server)
    truth = server.sandbox.truth(page.facebook_id)
    daphne = start_daphne(server, **WORKER_ENV)
    reader = SseReader(f"{daphne.url}/pages/{page.pk}/events/", staff_session_cookie())
    worker = start_worker(server)

    run = wait_for_run(enqueue(page), lambda r: r.current >= 20)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()
    killed_at = time.monotonic()

    panel = reader.wait_for(lambda html: 'data-status="interrupted"' in html, timeout=10)
    assert time.monotonic() - killed_at < 5  # within the reaper's interval, plus slack
    assert "Resume sync" in panel
    run.refresh_from_db()
    assert run.status == "interrupted"
    assert Conversation.objects.count() == run.current

    # Press Resume (automatic resumption by live workers is tested on its own).
    worker = start_worker(server, SYNC_AUTO_RESUME_REAPED="false")
    try:
        resumed = wait_for_run(enqueue(page, resume=True), lambda r: r.status == "complete")
    finally:
        worker.terminate()
        worker.communicate(timeout=10)
    reader.close()

    expected = expected_counts(truth)
    assert (resumed.current, resumed.inserted, resumed.events) == (
        expected["conversations"],
        expected["conversations"],
        expected["events"],
    )
    assert_matches_truth(page, truth)


def test_worker_sigterm_stops_after_the_conversation_in_flight(make_graph_sandbox):
    server = make_graph_sandbox(conversations=120, seed=13, latency_ms=30)
    page = connect(server)
    worker = start_worker(server)
    run = wait_for_run(enqueue(page), lambda r: r.current >= 10)

    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=10)

    assert time.monotonic() - sent < 5
    run.refresh_from_db()
    assert run.status == "interrupted"
    # Its heartbeat says it is gone at once (the Page screen says no worker runs).
    heartbeat = WorkerHeartbeat.objects.get()
    assert heartbeat.pid == worker.pid
    assert heartbeat.stopped_at is not None
    page.refresh_from_db()
    assert page.sync_checkpoint["status"] == "interrupted"
    assert page.sync_checkpoint["current"] == run.current == Conversation.objects.count()
