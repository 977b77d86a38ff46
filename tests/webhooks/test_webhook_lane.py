"""A worker busy with a long sync still processes a webhook delivery at once: deliveries run
on their own queue, in a lane of every worker (run_worker), polled every WEBHOOK_POLL_SECONDS."""

import time

import pytest

from pages.models import SyncRun
from pages.sync.runs import Start, create_run
from pages.tasks import sync_page_task
from tests.helpers import connect, point_settings_at, spawn_manage, sync
from tests.workers import WORKER_ENV, wait_for_run
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECRET = "lane-app-secret"
WEBHOOK_ENV = {"FACEBOOK_APP_SECRET": SECRET}


def test_a_delivery_does_not_wait_for_the_sync_the_worker_runs(
    make_graph_sandbox, start_daphne, settings
):
    # Slow Graph: the sync takes many seconds, and the worker's main loop is inside it.
    server = make_graph_sandbox(conversations=60, seed=5, app_secret=SECRET, latency_ms=1000)
    point_settings_at(settings, server)
    settings.FACEBOOK_APP_SECRET = SECRET
    page = connect(server)
    assert sync(page).status == "complete"  # the delivery's conversation is known
    conversation_id = server.sandbox.truth(page.facebook_id)["conversations"][0]["id"]
    daphne = start_daphne(server, **WEBHOOK_ENV)
    worker = spawn_manage(
        server, "run_worker", "--no-startup-delay", "--verbosity", "0", **WORKER_ENV, **WEBHOOK_ENV
    )
    try:
        run = create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.FULL)
        sync_page_task.enqueue(run.pk)
        wait_for_run(run, lambda r: r.status == SyncRun.Status.RUNNING, 30)
        server.sandbox.configure_webhooks(url=f"{daphne.url}/webhooks/facebook/")
        sent_at = time.monotonic()
        server.sandbox.send_webhooks(page.facebook_id, conversation_id=conversation_id)
        assert server.sandbox.wait_for_webhooks(timeout=10)
        deadline = sent_at + 5
        while not WebhookDelivery.objects.filter(status="processed").exists():
            assert time.monotonic() < deadline, "the delivery waited for the sync"
            time.sleep(0.02)
        took = time.monotonic() - sent_at
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING, "the sync ended first: the test proves nothing"
        print(f"delivery processed {took:.2f} s after it was sent, during the sync")
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
