"""End to end: the sandbox posts 1,000 signed deliveries concurrently (with Meta's duplicates,
in no order) to a real daphne; real workers subscribe the Page and process them. Every
message is stored exactly once, and a sync afterwards ends where a sync alone would."""

import time
from collections import Counter

import pytest

from conversations.models import InteractionEvent, Message
from pages.graph.subscriptions import WEBHOOK_FIELDS
from pages.models import FacebookPage
from tests.helpers import connect, point_settings_at, spawn_manage, sync
from tests.truth import assert_matches_truth
from tests.workers import WORKER_ENV
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECRET = "e2e-app-secret"
WEBHOOK_ENV = {"FACEBOOK_APP_SECRET": SECRET, "FACEBOOK_WEBHOOK_VERIFY_TOKEN": "verify-me"}
DELIVERIES = 1000
WORKERS = 2


def start_quiet_worker(server):
    """A worker that logs no line per task: a thousand tasks would fill its stderr pipe,
    which nobody reads while it runs, and block it."""
    return spawn_manage(
        server,
        "run_worker",
        "--no-startup-delay",
        "--interval",
        "0.1",
        "--verbosity",
        "0",
        **WORKER_ENV,
        **WEBHOOK_ENV,
    )


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_thousand_concurrent_deliveries_are_each_stored_once(
    make_graph_sandbox, start_daphne, settings
):
    server = make_graph_sandbox(conversations=60, seed=21, app_secret=SECRET)
    point_settings_at(settings, server)
    settings.FACEBOOK_APP_SECRET = SECRET
    page = connect(server)
    assert sync(page).status == "complete"
    daphne = start_daphne(server, **WEBHOOK_ENV)
    # Several workers, as production runs where webhooks must stay live (webhooks.tasks).
    workers = [start_quiet_worker(server) for _ in range(WORKERS)]
    try:
        # The worker's housekeeping subscribes the Page (nobody else does here).
        wait_until(
            lambda: server.sandbox.subscriptions_info().get(page.facebook_id), 30, "subscription"
        )
        server.sandbox.configure_webhooks(
            url=f"{daphne.url}/webhooks/facebook/",
            concurrency=16,
            duplicate_rate=0.2,
            shuffle=True,
            retries=5,
        )
        sent = server.sandbox.send_webhooks(page.facebook_id, kind="message", n=DELIVERIES)
        assert server.sandbox.wait_for_webhooks(timeout=120)
        log = server.sandbox.webhook_log()
        assert len(log) > DELIVERIES  # Meta's duplicates
        assert {entry["status"] for entry in log} == {200}

        mids = [event["mid"] for event in sent["events"]]
        assert len(set(mids)) == DELIVERIES
        wait_until(
            lambda: not WebhookDelivery.objects.exclude(status="processed").exists(),
            120,
            "every delivery processed",
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.communicate(timeout=15)

    assert WebhookDelivery.objects.count() == DELIVERIES  # each body once
    stored = Counter(Message.objects.filter(facebook_id__in=mids).values_list("facebook_id"))
    assert len(stored) == DELIVERIES
    assert set(stored.values()) == {1}
    assert InteractionEvent.objects.filter(source_id__in=mids).count() == DELIVERIES
    page.refresh_from_db()
    assert page.last_webhook_at is not None
    assert page.webhook_fields == sorted(WEBHOOK_FIELDS)
    assert FacebookPage.objects.get(pk=page.pk).webhook_checked_at is not None

    # The sync that follows replaces the webhooks' copies and ends where a sync alone would.
    assert sync(page).status == "complete"
    assert not Message.objects.filter(webhook_copy=True).exists()
    more = Counter(event["conversation_id"] for event in sent["events"])
    assert_matches_truth(page, server.sandbox.truth(page.facebook_id), more=more)
