"""The SSE streams' limits, against a real daphne: open streams hold no database connection,
unknown Pages get 404, streams are capped per user and per process, and a stream closes soon
after its user loses access. And daphne's loop publishes a card that changes with time alone
(a run waiting too long for a worker)."""

import json
import time

import pytest
import requests
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from django_eventstream.utils import get_storage
from redis import Redis

from pages.models import SyncRun, WorkerHeartbeat
from pages.panel import WAIT_WARNING_AFTER, render_event
from pages.progress import EVENT_TYPE, channel_for
from pages.streams import publish_changed_waits
from tests.helpers import connect, staff_session_cookie
from tests.sse import SseReader

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STREAMS = 50


def database_connections() -> int:
    """Server connections to the test database, this test's own included."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def send_card(page, redis_url: str | None = None) -> None:
    """Store the page's card as a worker would, and announce it on Redis when given."""
    html = render_event(page)
    event = get_storage().append_event(channel_for(page.pk), EVENT_TYPE, html)
    if redis_url:
        message = {"channel": channel_for(page.pk), "event_type": EVENT_TYPE, "data": html}
        with Redis.from_url(redis_url) as redis:
            redis.publish("events_channel", json.dumps({**message, "pub_id": str(event.id)}))


def status_of(url: str, cookies: dict[str, str]) -> int:
    with requests.get(url, cookies=cookies, stream=True, timeout=5) as response:
        return response.status_code


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no server connections to count; CI's PostgreSQL pass runs this",
)
@pytest.mark.parametrize("redis", [False, True], ids=["database-poll", "redis"])
def test_open_streams_hold_no_database_connection(make_graph_sandbox, start_daphne, redis):
    server = make_graph_sandbox(conversations=5, seed=9)
    page = connect(server)
    env = {"SSE_MAX_STREAMS_PER_USER": str(STREAMS)}
    if redis:
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    daphne = start_daphne(server, **env)
    url = f"{daphne.url}/pages/{page.pk}/events/"
    cookies = staff_session_cookie()
    before = database_connections()

    readers = [SseReader(url, cookies) for _ in range(STREAMS)]
    try:
        for reader in readers:
            reader.wait_open()
        # Every stream receives an event (woken by Redis, or by daphne's storage poll), then
        # waits for the next one.
        send_card(page, env.get("REDIS_URL"))
        for reader in readers:
            reader.wait_for(lambda html: True, timeout=15)
        time.sleep(1)
        during = database_connections()
    finally:
        for reader in readers:
            reader.hang_up()

    print(f"database connections: {before} before, {during} with {STREAMS} streams open")
    # daphne's background loop keeps one; a stream reading at this instant may hold another.
    assert during <= before + 3


def test_a_stream_for_an_unknown_page_is_404(make_graph_sandbox, start_daphne):
    server = make_graph_sandbox(conversations=5, seed=9)
    page = connect(server)
    daphne = start_daphne(server)
    cookies = staff_session_cookie()

    assert status_of(f"{daphne.url}/pages/{page.pk + 1000}/events/", cookies) == 404
    reader = SseReader(f"{daphne.url}/pages/{page.pk}/events/", cookies)
    reader.wait_open()
    reader.hang_up()


def test_streams_are_capped_per_user_and_per_process(make_graph_sandbox, start_daphne):
    server = make_graph_sandbox(conversations=5, seed=9)
    page = connect(server)
    daphne = start_daphne(server, SSE_MAX_STREAMS_PER_USER="2", SSE_MAX_STREAMS_PER_PROCESS="3")
    url = f"{daphne.url}/pages/{page.pk}/events/"
    alice, bob, carol = (staff_session_cookie(name) for name in ("alice", "bob", "carol"))

    first, second = SseReader(url, alice), SseReader(url, alice)
    first.wait_open()
    second.wait_open()
    assert status_of(url, alice) == 429  # alice's third stream
    third = SseReader(url, bob)
    third.wait_open()
    assert status_of(url, carol) == 429  # the process is full, though carol has none

    first.hang_up()
    # The slot is freed once daphne notices the disconnect.
    deadline = time.monotonic() + 10
    while status_of(url, alice) == 429:
        assert time.monotonic() < deadline, "a closed stream never freed its slot"
        time.sleep(0.1)
    second.hang_up()
    third.hang_up()


def test_a_stream_closes_when_its_user_loses_access(make_graph_sandbox, start_daphne):
    server = make_graph_sandbox(conversations=5, seed=9)
    page = connect(server)
    daphne = start_daphne(server, SSE_RECHECK_SECONDS="0.5")
    url = f"{daphne.url}/pages/{page.pk}/events/"
    names = ("demoted", "deactivated", "logged_out", "new_password", "kept")
    cookies = {name: staff_session_cookie(name) for name in names}
    readers = {name: SseReader(url, cookies[name]) for name in names}
    for reader in readers.values():
        reader.wait_open()

    User.objects.filter(username="demoted").update(is_staff=False)
    User.objects.filter(username="deactivated").update(is_active=False)
    Session.objects.filter(session_key=cookies["logged_out"]["sessionid"]).delete()
    user = User.objects.get(username="new_password")
    user.set_password("another")  # other sessions end, as after a password change
    user.save()

    for name in names[:-1]:
        assert readers[name].wait_ended(timeout=5), f"the {name} user's stream stayed open"
        assert readers[name].kinds[-1] == "stream-error"
    kept = readers["kept"]
    assert not kept.ended.is_set()
    send_card(page)
    kept.wait_for(lambda html: True, timeout=15)
    kept.hang_up()


def test_a_card_that_changes_with_time_alone_is_published_once_per_change(page, monkeypatch):
    published = []
    monkeypatch.setattr("pages.progress.publish", lambda pk, final=False: published.append(pk))
    run = SyncRun.objects.create(page=page, status=SyncRun.Status.QUEUED)
    shown: dict[int, str] = {}

    publish_changed_waits([page.pk], shown)
    assert published == []  # just queued: the card already says "waiting"

    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - WAIT_WARNING_AFTER)
    publish_changed_waits([page.pk], shown)
    publish_changed_waits([page.pk], shown)
    assert published == [page.pk]  # no worker: published once
    assert shown == {run.pk: "no_worker"}

    WorkerHeartbeat.objects.create(worker_id="w1", host="h", pid=1)
    publish_changed_waits([page.pk], shown)
    assert published == [page.pk, page.pk]  # a worker came: "waiting for a free worker"

    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING)
    publish_changed_waits([page.pk], shown)
    assert shown == {}
    assert len(published) == 2
