"""The conversation screens' live side: each page names its stream (starting after the last
stored change), a refresh (`HX-Request`) answers only the live part with the reader's filters,
the stream is for inbox staff only, and over a real daphne a published change reaches an
open stream well within a second."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import suppress

import pytest
import requests
from django.contrib.auth.models import User
from django.urls import reverse
from django_eventstream import eventstream
from redis import Redis

from conversations import live
from pages.models import FacebookPage
from pages.streams import StaffChannelManager
from tests.conversations.view_helpers import (
    LIST_URL,
    add_message,
    at,
    listed_pks,
    make_conversation,
)
from tests.helpers import connect, create_inbox_staff, staff_session_cookie

HX = {"HTTP_HX_REQUEST": "true"}
EVENTS_URL = reverse("conversations:events")


@pytest.fixture
def two_pages(shop):
    """Bike Shop with Ana (older) and Bruno (newer), and a second Page with Carla."""
    other = FacebookPage.objects.create(facebook_id="10000000000000002", name="Café")
    ana = make_conversation(shop, "t_ana", name="Ana Sousa", psid="p_ana", updated=at(3, 9))
    bruno = make_conversation(
        shop, "t_bruno", name="Bruno Costa", psid="p_bruno", updated=at(3, 10)
    )
    carla = make_conversation(
        other, "t_carla", name="Carla Dias", psid="p_carla", updated=at(3, 11)
    )
    add_message(ana, "m_ana_1", when=at(3, 9), text="Do you ship to Lisbon?")
    return {"shop": shop, "other": other, "ana": ana, "bruno": bruno, "carla": carla}


def test_the_list_names_its_stream_after_the_last_stored_change(admin_client, two_pages):
    live.publish_conversation_changed(two_pages["shop"].pk, two_pages["ana"].pk)
    last = live.current_event_id()
    assert last > 0

    html = admin_client.get(LIST_URL, {"page": two_pages["shop"].pk}).content.decode()
    assert f'data-live-events="{EVENTS_URL}?lastEventId=conversations:{last}"' in html
    assert f'data-live-page="{two_pages["shop"].pk}"' in html
    assert 'src="/static/js/conversations-live.js"' in html
    # All Pages: no Page to filter the events by.
    assert 'data-live-page=""' in admin_client.get(LIST_URL).content.decode()


def test_a_refresh_of_the_list_is_its_results_only_with_the_readers_filters(
    admin_client, two_pages
):
    shop, ana = two_pages["shop"], two_pages["ana"]
    full = admin_client.get(LIST_URL, {"page": shop.pk})
    assert listed_pks(full) == [two_pages["bruno"].pk, ana.pk]

    # A webhook moved Ana's conversation forward: the refresh shows it first.
    ana.updated_time, ana.snippet = at(3, 12), "Tomorrow then"
    ana.save()
    refresh = admin_client.get(LIST_URL, {"page": shop.pk}, **HX)
    html = refresh.content.decode()
    assert refresh.status_code == 200
    assert listed_pks(refresh) == [ana.pk, two_pages["bruno"].pk]  # Carla's Page filtered out
    assert f'<tr id="conversation-{ana.pk}"' in html
    assert "Tomorrow then" in html
    assert "Showing 1–2 of 2 conversations" in html
    # Only the live part: the search form (maybe half typed) and the stream stay as they are.
    assert "<form" not in html
    assert "data-live-events" not in html
    assert "<html" not in html
    assert "HX-Request" in refresh["Vary"]
    assert "HX-Request" in full["Vary"]


def test_a_refresh_of_a_conversation_is_its_facts_and_thread(admin_client, two_pages):
    ana = two_pages["ana"]
    url = reverse("conversations:detail", args=[ana.pk])
    page_html = admin_client.get(url).content.decode()
    assert f'data-live-conversation="{ana.pk}"' in page_html
    assert 'aria-live="polite"' in page_html

    new = add_message(ana, "m_ana_2", when=at(3, 12), text="Yes, in two days")
    refresh = admin_client.get(url, **HX)
    html = refresh.content.decode()
    assert refresh.status_code == 200
    assert f'id="message-{new.pk}"' in html
    assert "Yes, in two days" in html
    assert "2 stored" in html
    assert "<h1" not in html
    assert "data-live-events" not in html
    # Names stay isolated in the live part too.
    assert '<bdi class="sender">Ana Sousa</bdi>' in html


def test_only_one_status_line_is_live_on_each_screen(admin_client, two_pages):
    detail = reverse("conversations:detail", args=[two_pages["ana"].pk])
    for url in (LIST_URL, detail):
        html = admin_client.get(url).content.decode()
        live_regions = html.count("aria-live=") + html.count('role="status"')
        assert live_regions == 1, url
        assert 'id="live-status"' in html


@pytest.mark.parametrize("user", ["anonymous", "staff without the inbox permission"])
def test_the_stream_is_for_inbox_staff_only(client, db, user):
    if user != "anonymous":
        client.force_login(User.objects.create_user("clerk", password="pw", is_staff=True))
    response = client.get(EVENTS_URL)
    assert response.status_code == 403
    assert not response.streaming


def test_the_channel_manager_lets_only_inbox_staff_read_the_conversations_channel(db):
    manager = StaffChannelManager()
    assert manager.can_read_channel(create_inbox_staff(), live.CHANNEL)
    plain = User.objects.create_user("clerk", password="pw", is_staff=True)
    assert not manager.can_read_channel(plain, live.CHANNEL)
    assert not manager.can_read_channel(None, live.CHANNEL)


class NoticeReader:
    """Reads the `changed` notices of a conversations stream in a thread, with when each
    arrived, as a browser would."""

    def __init__(self, url: str, cookies: dict[str, str]) -> None:
        self.notices: list[tuple[float, dict]] = []
        self.opened = threading.Event()
        self.response = requests.get(url, cookies=cookies, stream=True, timeout=(5, 30))
        self.response.raise_for_status()
        self._socket = self.response.raw.connection.sock
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event = None
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "stream-open":
                        self.opened.set()
                elif line.startswith("data: ") and event == "changed":
                    self.notices.append((time.monotonic(), json.loads(line[6:])))
        except (requests.RequestException, AttributeError):
            pass  # closed by the test

    def wait_for(self, count: int, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while len(self.notices) < count:
            assert time.monotonic() < deadline, f"{len(self.notices)} notices, not {count}"
            time.sleep(0.01)

    def hang_up(self) -> None:
        """Close at once, like a closed tab (a plain close waits for the next keep-alive)."""
        with suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self.response.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("redis", [False, True], ids=["database-poll", "redis"])
def test_a_change_reaches_an_open_stream_within_a_second(
    make_graph_sandbox, start_daphne, monkeypatch, redis
):
    server = make_graph_sandbox(conversations=1, seed=3)
    page = connect(server)
    env = {"REDIS_URL": "redis://127.0.0.1:6379/0"} if redis else {}
    daphne = start_daphne(server, **env)
    if redis:
        # This process publishes through Redis as a worker configured with it would.
        monkeypatch.setattr(eventstream, "redis_client", Redis.from_url(env["REDIS_URL"]))
    reader = NoticeReader(f"{daphne.url}{EVENTS_URL}", staff_session_cookie())
    try:
        assert reader.opened.wait(10), "the stream never opened"
        sent_at = time.monotonic()
        live.publish_conversation_changed(page.pk, 123)
        reader.wait_for(1)
        arrived, notice = reader.notices[0]
        delay = arrived - sent_at
        print(f"change → stream ({'redis' if redis else 'database poll'}): {delay * 1000:.0f} ms")
        assert notice == {"page": page.pk, "conversations": [123]}
        assert delay < 1.0
    finally:
        reader.hang_up()
