"""Production mode: several workers, Redis, scheduled syncs, and the per-Page call rate shared
across processes."""

import signal
import threading
import time

import pytest
from django.db.models import Count

from conversations.models import Conversation, InteractionEvent, Message
from pages.graph.client import GraphClient
from pages.graph.rate_limit import DatabaseCallSpacing, RedisCallSpacing, _redis_client
from pages.models import FacebookPage, SyncRun
from pages.schedule import enqueue_due_syncs
from pages.sync.runs import STOPPED_UNEXPECTEDLY, create_run
from pages.tasks import sync_page_task
from tests.helpers import closing_connections, connect, spawn_manage
from tests.truth import assert_matches_truth, expected_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/0"


def start_workers(server, count: int, **env):
    return [
        spawn_manage(
            server,
            "run_worker",
            "--no-startup-delay",
            "--interval",
            "0.1",
            "--worker-id",
            f"test-worker-{n}",
            **env,
        )
        for n in range(count)
    ]


def stop_workers(workers) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        try:
            worker.communicate(timeout=15)
        except Exception:
            worker.kill()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def assert_no_overlapping_runs(page: FacebookPage) -> None:
    runs = list(page.sync_runs.exclude(started_at=None).order_by("started_at"))
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.finished_at is not None
        assert earlier.finished_at <= later.started_at, (earlier, later)


def test_thirty_pages_three_workers_one_killed_all_exact(make_graph_sandbox):
    server = make_graph_sandbox(conversations=40, seed=23, pages=30, latency_ms=15)
    pages = [connect(server, n) for n in range(30)]
    env = {
        "REDIS_URL": REDIS_URL,
        "FACEBOOK_CALLS_PER_SECOND": "20",
        "SYNC_PAGE_SIZE": "10",
        "SYNC_REAPER_INTERVAL_SECONDS": "1",
    }
    workers = start_workers(server, 3, **env)
    pids = {worker.pid: worker for worker in workers}
    try:
        for page in pages:
            sync_page_task.enqueue(create_run(page, trigger=SyncRun.Trigger.WEB).pk)

        victim_run = wait_until(
            lambda: SyncRun.objects.filter(
                status="running", current__gte=5, worker_pid__in=list(pids)
            ).first(),
            60,
            "a running sync",
        )
        victim = pids[victim_run.worker_pid]
        victim.send_signal(signal.SIGKILL)
        victim.communicate()

        def all_complete():
            latest = [p.sync_runs.order_by("-created_at", "-id").first() for p in pages]
            return all(run and run.status == "complete" for run in latest)

        wait_until(all_complete, 180, "every page to complete")
    finally:
        stop_workers(workers)

    victim_run.refresh_from_db()
    assert (victim_run.status, victim_run.error) == ("interrupted", STOPPED_UNEXPECTEDLY)
    successor = victim_run.page.sync_runs.order_by("-created_at").first()
    assert successor.resumed
    assert successor.worker_pid != victim_run.worker_pid
    assert successor.worker_pid in pids

    for page in pages:
        truth = server.sandbox.truth(page.facebook_id)
        assert_matches_truth(page, truth)
        assert_no_overlapping_runs(page)
        final = page.sync_runs.order_by("-created_at").first()
        assert final.inserted == expected_counts(truth)["conversations"]
    total_truth = sum(len(server.sandbox.truth(p.facebook_id)["conversations"]) for p in pages)
    assert Conversation.objects.count() == total_truth == 1200
    # No duplicates anywhere (the constraints would refuse them; check the counts agree).
    assert not Message.objects.values("page", "facebook_id").annotate(n=Count("id")).filter(n__gt=1)
    assert InteractionEvent.objects.count() == sum(
        expected_counts(server.sandbox.truth(p.facebook_id))["events"] for p in pages
    )
    workers_used = set(
        SyncRun.objects.exclude(worker_pid=None).values_list("worker_pid", flat=True)
    )
    assert len(workers_used) == 3  # the work was shared


def test_schedule_syncs_every_page_incrementally_without_overlap(make_graph_sandbox):
    server = make_graph_sandbox(conversations=30, seed=29, pages=3, latency_ms=10)
    pages = [connect(server, n) for n in range(3)]
    env = {"SYNC_SCHEDULE_INTERVAL_SECONDS": "2", "SYNC_REAPER_INTERVAL_SECONDS": "0.5"}
    workers = start_workers(server, 2, **env)
    try:

        def two_incremental_each():
            return all(
                p.sync_runs.filter(
                    trigger="schedule", mode="incremental", status="complete"
                ).count()
                >= 2
                for p in pages
            )

        wait_until(two_incremental_each, 60, "two scheduled incremental syncs per page")
    finally:
        stop_workers(workers)

    for page in pages:
        runs = list(page.sync_runs.order_by("created_at"))
        assert runs[0].mode == "full"
        assert {r.trigger for r in runs} == {"schedule"}
        assert_no_overlapping_runs(page)
        assert_matches_truth(page, server.sandbox.truth(page.facebook_id))


def test_schedule_skips_pages_that_need_reconnecting(make_graph_sandbox, settings):
    server = make_graph_sandbox(conversations=5, seed=29, pages=2)
    ok, broken = connect(server, 0), connect(server, 1)
    FacebookPage.objects.filter(pk=broken.pk).update(token_status="needs_reconnect")
    settings.SYNC_SCHEDULE_INTERVAL_SECONDS = 60

    first = enqueue_due_syncs()
    again = enqueue_due_syncs()

    assert [run.page_id for run in first] == [ok.pk]
    assert again == []  # not due again before the interval
    ok.refresh_from_db()
    assert ok.next_scheduled_sync_at is not None


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_call_spacing_is_shared_by_clients_in_different_threads(make_graph_sandbox, kind):
    server = make_graph_sandbox(conversations=3, seed=31, rate_limit_per_second=2)
    page = connect(server)
    if kind == "redis":
        client = _redis_client(REDIS_URL)
        client.delete(f"fbsync:graph-slot:{page.pk}")
        spacing = RedisCallSpacing(page.pk, 2, client)
    else:
        spacing = DatabaseCallSpacing(page.pk, 2)
    errors: list[Exception] = []

    def calls():
        client = GraphClient(
            page.access_token,
            base_url=server.url,
            version="v26.0",
            page_id=page.facebook_id,
            calls_per_second=2,
            call_spacing=spacing,
            max_pauses=0,
        )
        try:
            for _ in range(3):
                client.get_page(page.facebook_id)
        except Exception as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=closing_connections(calls)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert server.sandbox.stats(page.facebook_id)["errors"] == 0  # never a 613
    assert time.monotonic() - started >= 2.75  # six calls, one slot every 0.55 s
