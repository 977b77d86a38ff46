"""Messenger's history horizon as a sandbox switch (graph_sandbox/horizon.py), over real HTTP:
older messages are never returned, paging simply ends while message_count still counts them;
and add_threads, threads of exact sizes (1, 25, 26, 2,000 messages) for the backfill's tests."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from graph_sandbox import SandboxControl
from graph_sandbox.control import SandboxControlError
from graph_sandbox.management.commands.graph_sandbox import sandbox_options
from tests.graph_sandbox.real_graph_helpers import (
    WAYS,
    follow,
    link_params,
    page_ids,
    parse_flags,
    post_batch,
    start,
    truth_of,
)
from tests.graph_sandbox.sandbox_helpers import get

DAY = 86400


def thread_of(server, conversation_id, **params):
    """Every message id of a thread through /messages, following next; and the pagings."""
    return page_ids(server, f"{conversation_id}/messages", **params)


def truth_item(server, conversation_id):
    (item,) = [c for c in truth_of(server)["conversations"] if c["id"] == conversation_id]
    return item


def created(message):
    return datetime.strptime(message["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()


# -- threads of exact sizes ------------------------------------------------------------------


def test_add_threads_builds_threads_of_exact_sizes_over_http(graph_sandbox):
    sizes = [1, 25, 26, 2000]
    ids = SandboxControl(graph_sandbox.url).add_threads(graph_sandbox.page_id, sizes)
    assert len(set(ids)) == 4
    listed = get(
        graph_sandbox, f"{graph_sandbox.page_id}/conversations", fields="id,message_count", limit=4
    ).json()["data"]
    # at the top of the inbox, the first size newest; message_count exact (no skew)
    assert listed == [{"id": i, "message_count": n} for i, n in zip(ids, sizes, strict=True)]
    for conversation_id, size in zip(ids, sizes, strict=True):
        messages, pagings = thread_of(graph_sandbox, conversation_id, limit=100)
        assert len(messages) == len(set(messages)) == size
        assert messages == truth_item(graph_sandbox, conversation_id)["message_ids"]
        assert len(pagings) == max(1, -(-size // 100))


def test_add_threads_spreads_a_thread_over_the_days_asked(graph_sandbox):
    before = time.time()
    (conversation_id,) = graph_sandbox.sandbox.add_threads(None, [31], span_days=30)
    body = get(graph_sandbox, f"{conversation_id}/messages", limit=100, fields="created_time")
    stamps = [created(m) for m in body.json()["data"]]
    assert len(stamps) == 31
    assert before - 2 <= stamps[0] <= time.time() + 1  # the newest is now
    assert [a - b for a, b in zip(stamps, stamps[1:], strict=False)] == [DAY] * 30


@pytest.mark.parametrize(
    ("sizes", "message"),
    [([], "non-empty list"), ([3, -1], "whole number"), ([2.5], "whole number")],
)
def test_add_threads_refuses_bad_sizes(graph_sandbox, sizes, message):
    with pytest.raises(SandboxControlError, match=message):
        SandboxControl(graph_sandbox.url).add_threads(graph_sandbox.page_id, sizes)


# -- history_horizon_messages ----------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_only_the_newest_messages_are_reachable_and_paging_simply_ends(make_graph_sandbox, way):
    argv = ["--history-horizon-messages", "26"]
    server = start(make_graph_sandbox, way, {"history_horizon_messages": 26}, argv)
    (long, short) = server.sandbox.add_threads(None, [60, 20])
    all_ids = server.sandbox.dataset.message_ids(server.sandbox.dataset.conversations[long])
    messages, pagings = thread_of(server, long, limit=10)
    assert messages == all_ids[:26]
    assert "next" in pagings[1]
    assert "next" not in pagings[2]
    assert get(server, long, fields="message_count").json()["message_count"] == 60
    # a shorter thread is whole
    assert len(thread_of(server, short, limit=10)[0]) == 20
    item = truth_item(server, long)
    assert item["message_ids"] == all_ids[:26]
    assert (item["message_count"], item["reachable_message_count"]) == (60, 26)


def test_nested_messages_stop_at_the_horizon_too(make_graph_sandbox):
    server = make_graph_sandbox(history_horizon_messages=26)
    (conversation_id,) = server.sandbox.add_threads(None, [40])
    nested = get(server, conversation_id, fields="message_count,messages.limit(25){id}").json()
    assert nested["message_count"] == 40
    assert len(nested["messages"]["data"]) == 25
    rest = follow(server, nested["messages"]["paging"]["next"]).json()
    assert len(rest["data"]) == 1
    assert "next" not in rest["paging"]
    whole = get(server, conversation_id, fields="messages.limit(30){id}").json()["messages"]
    assert len(whole["data"]) == 26
    assert "next" not in whole["paging"]
    listed = get(
        server, f"{server.page_id}/conversations", fields="id,messages.limit(30){id}", limit=1
    ).json()["data"][0]
    assert listed["messages"]["data"] == whole["data"]


def test_a_cursor_beyond_the_horizon_gives_an_empty_page(graph_sandbox):
    (conversation_id,) = graph_sandbox.sandbox.add_threads(None, [50])
    first = get(graph_sandbox, f"{conversation_id}/messages", limit=30).json()
    graph_sandbox.sandbox.configure(history_horizon_messages=20)  # the horizon moves closer
    beyond = follow(graph_sandbox, first["paging"]["next"])
    assert beyond.status_code == 200
    assert beyond.json() == {"data": []}


def test_batch_items_and_cursorless_paging_end_at_the_horizon(make_graph_sandbox):
    server = make_graph_sandbox(history_horizon_messages=15, cursorless_messages=True)
    (conversation_id,) = server.sandbox.add_threads(None, [40])
    messages, pagings = thread_of(server, conversation_id, limit=10)
    assert len(messages) == 15
    assert "next" not in pagings[-1]
    assert len(pagings) == 2
    assert "until" in link_params(pagings[0]["next"])
    (item,) = post_batch(server, [f"{conversation_id}/messages?limit=100"])
    assert item["code"] == 200
    assert [m["id"] for m in item["body"]["data"]] == messages
    assert "paging" not in item["body"]


# -- history_horizon_days --------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_messages_older_than_the_horizon_are_never_returned(make_graph_sandbox, way):
    argv = ["--history-horizon-days", "10.5"]
    server = start(make_graph_sandbox, way, {"history_horizon_days": 10.5}, argv)
    # one message a day, for 100 days, the newest now: 11 are at most 10.5 days old
    (conversation_id,) = server.sandbox.add_threads(None, [100], span_days=99)
    server.sandbox.configure(history_horizon_days=None)
    every = get(server, f"{conversation_id}/messages", limit=100, fields="id,created_time").json()
    server.sandbox.configure(history_horizon_days=10.5)
    cutoff = time.time() - 10.5 * DAY
    expected = [m["id"] for m in every["data"] if created(m) >= cutoff]
    assert len(expected) == 11
    messages, pagings = thread_of(server, conversation_id, limit=4)
    assert messages == expected
    assert "next" not in pagings[-1]
    fields = "message_count,messages.limit(25){id}"
    nested = get(server, conversation_id, fields=fields).json()
    assert nested["message_count"] == 100
    assert [m["id"] for m in nested["messages"]["data"]] == expected
    assert "next" not in nested["messages"]["paging"]
    truth = truth_of(server)
    item = truth_item(server, conversation_id)
    assert (item["message_ids"], item["reachable_message_count"]) == (expected, 11)
    assert truth["history_horizon"]["days"] == 10.5
    assert truth["history_horizon"]["unreachable_messages"] >= 89
    assert truth["reachable_messages"] == sum(len(c["message_ids"]) for c in truth["conversations"])


def test_a_thread_wholly_beyond_the_horizon_still_counts_its_messages(make_graph_sandbox):
    server = make_graph_sandbox(history_horizon_days=0.5)
    # 5 messages over 9 days: only the newest (now) is younger than half a day
    (conversation_id,) = server.sandbox.add_threads(None, [5], span_days=9)
    body = get(server, conversation_id, fields="message_count,messages{id}").json()
    assert body["message_count"] == 5
    assert [m["id"] for m in body["messages"]["data"]] == [
        truth_item(server, conversation_id)["message_ids"][0]
    ]
    server.sandbox.configure(cursorless_messages=True)
    past = int(time.time() - 3 * DAY)  # `until` alone, before the horizon: nothing
    assert len(get(server, f"{conversation_id}/messages", until=past + 3 * DAY).json()["data"]) == 1
    old = get(server, f"{conversation_id}/messages", until=past)
    assert old.json() == {"data": []}


def test_both_horizons_the_stricter_wins(make_graph_sandbox):
    server = make_graph_sandbox(history_horizon_days=10.5, history_horizon_messages=5)
    (conversation_id,) = server.sandbox.add_threads(None, [30], span_days=29)
    assert len(thread_of(server, conversation_id, limit=2)[0]) == 5
    server.sandbox.configure(history_horizon_messages=20)
    assert len(thread_of(server, conversation_id, limit=2)[0]) == 11


# -- off, reset, refused values --------------------------------------------------------------


def test_off_by_default_and_reset_by_clear_faults(graph_sandbox):
    (conversation_id,) = graph_sandbox.sandbox.add_threads(None, [80])
    before = get(graph_sandbox, f"{conversation_id}/messages", limit=100).json()["data"]
    assert "history_horizon" not in truth_of(graph_sandbox)
    graph_sandbox.sandbox.configure(history_horizon_messages=3, history_horizon_days=365)
    assert len(thread_of(graph_sandbox, conversation_id, limit=100)[0]) == 3
    graph_sandbox.sandbox.clear_faults()
    assert len(thread_of(graph_sandbox, conversation_id, limit=100)[0]) == 80
    assert get(graph_sandbox, f"{conversation_id}/messages", limit=100).json()["data"] == before
    assert "reachable_message_count" not in truth_item(graph_sandbox, conversation_id)


@pytest.mark.parametrize(
    "options",
    [
        {"history_horizon_days": 0},
        {"history_horizon_days": -3},
        {"history_horizon_days": True},
        {"history_horizon_messages": 0},
        {"history_horizon_messages": 2.5},
    ],
)
def test_bad_horizons_are_refused_and_change_nothing(graph_sandbox, options):
    control = SandboxControl(graph_sandbox.url)
    with pytest.raises(SandboxControlError, match="HTTP 400.*history_horizon"):
        control.configure(**options)
    assert control.configure()["history_horizon_days"] is None
    assert control.configure()["history_horizon_messages"] is None


def test_the_command_line_flags_reach_the_sandbox():
    argv = ["--history-horizon-days", "30", "--history-horizon-messages", "500"]
    options = sandbox_options(parse_flags(argv))
    assert options["history_horizon_days"] == 30.0
    assert options["history_horizon_messages"] == 500
    assert "history_horizon_days" not in sandbox_options(parse_flags([]))
