"""conversations.live: a change is published at once, bursts are coalesced per Page without
ever leaving the last change out, and publishing never raises into its caller (a webhook's
processing)."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from django_eventstream.models import Event
from redis.exceptions import ConnectionError as RedisConnectionError

from conversations import live
from pages.models import FacebookPage
from pages.progress import channel_for


@pytest.fixture(autouse=True)
def fresh_state():
    """Each test starts with no Page's gap running, and leaves no timer behind."""
    live._pages.clear()
    live._redis_down_until = 0.0
    yield
    with live._lock:
        for state in live._pages.values():
            if state.timer is not None:
                state.timer.cancel()
        live._pages.clear()


@pytest.fixture
def sent(monkeypatch) -> list[tuple[int, list[int] | None, float]]:
    """What live sends (page, conversations, when), without the database: the coalescing
    alone, timers included."""
    calls: list[tuple[int, list[int] | None, float]] = []
    done = threading.Condition()

    def record(page_pk, named):
        with done:
            calls.append((page_pk, named, time.monotonic()))
            done.notify_all()

    monkeypatch.setattr(live, "_send", record)
    return calls


def stored_notices() -> list[dict]:
    """The notices stored on the conversations channel, oldest first."""
    events = Event.objects.filter(channel=live.CHANNEL, type=live.EVENT_TYPE).order_by("eid")
    return [json.loads(json.loads(event.data)) for event in events]


def wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def shop(db) -> FacebookPage:
    return FacebookPage.objects.create(facebook_id="10000000000000001", name="Bike Shop")


def test_a_change_is_stored_and_sent_at_once_with_the_pages_card(shop):
    live.publish_conversation_changed(shop.pk, 42)

    # Sent within the call (no timer): a lone message shows as fast as the stream carries it.
    assert stored_notices() == [{"page": shop.pk, "conversations": [42]}]
    # The Page screen's card too: its "Last webhook received" changes with deliveries.
    card = Event.objects.filter(channel=channel_for(shop.pk), type="progress").get()
    assert 'id="fact-last-webhook"' in json.loads(card.data)
    notice = Event.objects.get(channel=live.CHANNEL, type=live.EVENT_TYPE)
    assert live.current_event_id() == notice.eid


def test_current_event_id_is_zero_before_any_event(db):
    assert live.current_event_id() == 0


def test_a_burst_is_coalesced_and_its_last_change_is_sent(sent):
    started = time.monotonic()
    for number in range(1, 31):
        live.publish_conversation_changed(7, number)
    burst = time.monotonic() - started

    # The first at once; the other 29 wait for the end of the gap, together.
    assert sent[0][:2] == (7, [1])
    wait_for(lambda: len(sent) >= 2)
    time.sleep(live.MIN_GAP_SECONDS * 2)
    gaps = 1 + burst / live.MIN_GAP_SECONDS
    assert len(sent) <= 1 + gaps
    named = {pk for _, pks, _ in sent for pk in pks}
    assert named == set(range(1, 31))
    assert sent[-1][1][-1] == 30
    assert sent[1][2] - sent[0][2] >= live.MIN_GAP_SECONDS * 0.9


def test_a_thousand_deliveries_are_a_few_events_naming_no_conversation(sent):
    started = time.monotonic()
    for number in range(1000):
        live.publish_conversation_changed(7, number)
    burst = time.monotonic() - started
    wait_for(lambda: len(sent) >= 2)
    time.sleep(live.MIN_GAP_SECONDS * 2)

    assert len(sent) <= 2 + burst / live.MIN_GAP_SECONDS
    # More than MAX_NAMED changed: the event says "many" (null), every screen refreshes.
    assert sent[-1][1] is None


def test_an_unknown_conversation_makes_the_event_say_many(sent):
    live.publish_conversation_changed(7, 1)
    live.publish_conversation_changed(7, 2)
    live.publish_conversation_changed(7, None)
    wait_for(lambda: len(sent) == 2)
    assert [pks for _, pks, _ in sent] == [[1], None]


def test_pages_are_coalesced_apart(sent):
    live.publish_conversation_changed(7, 1)
    live.publish_conversation_changed(7, 2)  # waits for page 7's gap
    live.publish_conversation_changed(8, 3)  # another Page: at once
    assert [(page, pks) for page, pks, _ in sent] == [(7, [1]), (8, [3])]
    wait_for(lambda: len(sent) == 3)
    assert sent[2][:2] == (7, [2])


def test_a_change_after_a_quiet_gap_is_sent_at_once(sent):
    live.publish_conversation_changed(7, 1)
    time.sleep(live.MIN_GAP_SECONDS * 1.2)
    live.publish_conversation_changed(7, 2)
    assert [pks for _, pks, _ in sent] == [[1], [2]]


def test_flush_pending_sends_what_waits_and_the_timer_then_sends_nothing(sent):
    live.publish_conversation_changed(7, 1)
    live.publish_conversation_changed(7, 2)
    live.flush_pending()
    assert [pks for _, pks, _ in sent] == [[1], [2]]
    time.sleep(live.MIN_GAP_SECONDS * 1.5)
    assert len(sent) == 2


@pytest.mark.django_db(transaction=True)
def test_the_gathered_changes_are_stored_by_the_timer_thread(shop):
    live.publish_conversation_changed(shop.pk, 1)
    live.publish_conversation_changed(shop.pk, 2)
    live.publish_conversation_changed(shop.pk, 3)
    assert stored_notices() == [{"page": shop.pk, "conversations": [1]}]
    wait_for(lambda: len(stored_notices()) == 2)
    assert stored_notices()[1] == {"page": shop.pk, "conversations": [2, 3]}


def test_it_never_raises_when_sending_fails(shop, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("storage is gone")

    monkeypatch.setattr(live, "send_event", broken)
    with caplog.at_level(logging.WARNING, logger="conversations.live"):
        live.publish_conversation_changed(shop.pk, 1)
    assert "Could not publish a conversation change" in caplog.text
    assert stored_notices() == []


def test_it_never_raises_when_no_thread_can_start(monkeypatch, caplog):
    class NoThreads:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(live, "_send", lambda page_pk, named: None)
    monkeypatch.setattr(live.threading, "Timer", NoThreads)
    live.publish_conversation_changed(7, 1)
    with caplog.at_level(logging.WARNING, logger="conversations.live"):
        live.publish_conversation_changed(7, 2)
    assert "Could not publish a conversation change of page 7" in caplog.text


def test_it_never_raises_for_a_page_that_does_not_exist(db):
    live.publish_conversation_changed(999_999, 1)  # the card cannot render: logged only
    assert stored_notices() == [{"page": 999_999, "conversations": [1]}]


def test_with_redis_down_changes_are_stored_for_daphnes_poll(shop, settings, monkeypatch):
    settings.EVENTSTREAM_REDIS = {"host": "127.0.0.1", "port": 1}
    attempts = []

    def redis_down(*args, **kwargs):
        attempts.append(args)
        raise RedisConnectionError("refused")

    monkeypatch.setattr(live, "send_event", redis_down)
    live.publish_conversation_changed(shop.pk, 1)
    time.sleep(live.MIN_GAP_SECONDS * 1.2)
    live.publish_conversation_changed(shop.pk, 2)

    # One attempt at Redis; then straight to storage, which daphne's loop polls.
    assert len(attempts) == 1
    assert stored_notices() == [{"page": shop.pk, "conversations": [2]}]
