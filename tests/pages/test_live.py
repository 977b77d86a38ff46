"""Live progress reaches a browser connected to daphne from a sync running in another
process, without Redis (daphne polls the event counter) and with Redis (pub/sub)."""

import re
import time

import pytest
import requests
from django.test import Client

from tests.helpers import connect, spawn_manage, staff_session_cookie
from tests.sse import SseReader

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def new_counter(html: str) -> int:
    return int(re.search(r'data-counter="inserted">\+(\d+)<', html).group(1))


@pytest.mark.parametrize("redis", [False, True], ids=["database-poll", "redis"])
def test_progress_from_another_process_reaches_the_stream(make_graph_sandbox, start_daphne, redis):
    server = make_graph_sandbox(conversations=150, seed=9, latency_ms=100)
    page = connect(server)
    env = {"REDIS_URL": "redis://127.0.0.1:6379/0"} if redis else {}
    daphne = start_daphne(server, **env)
    reader = SseReader(f"{daphne.url}/pages/{page.pk}/events/", staff_session_cookie())
    time.sleep(0.5)  # the stream is open

    sync = spawn_manage(server, "sync_page", page.facebook_id, SYNC_PAGE_SIZE="10", **env)
    final = reader.wait_for(lambda html: 'data-status="complete"' in html)
    sync.communicate(timeout=30)
    reader.close()

    running = [new_counter(h) for h in reader.events if 'data-status="running"' in h]
    assert len(set(running)) >= 3  # the counters rose live
    assert running == sorted(running)
    assert new_counter(final) == 150
    assert "Sync complete" in final


def test_stream_refuses_non_staff_sessions(make_graph_sandbox, start_daphne, django_user_model):
    server = make_graph_sandbox(conversations=5, seed=9)
    page = connect(server)
    daphne = start_daphne(server)
    client = Client()
    client.force_login(django_user_model.objects.create_user("customer"))
    url = f"{daphne.url}/pages/{page.pk}/events/"

    assert requests.get(url, timeout=5).status_code == 403
    cookies = {"sessionid": client.cookies["sessionid"].value}
    assert requests.get(url, cookies=cookies, timeout=5).status_code == 403
