"""The real Graph's behaviours as sandbox switches (issue 8), over real HTTP: a removed field,
the response-weight budget, per-item batch throttling; and for every switch: off by default,
cleared by clear_faults(), and off means the responses of before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from graph_sandbox import SandboxControl
from graph_sandbox.control import SandboxControlError
from graph_sandbox.faults import FaultConfig
from graph_sandbox.real_graph import WEIGHT_MAX_LIMIT
from tests.graph_sandbox.real_graph_helpers import (
    WAYS,
    Clock,
    error_of,
    masked,
    parse_flags,
    post_batch,
    start,
    truth_of,
)
from tests.graph_sandbox.sandbox_helpers import V, get

ROOT = Path(__file__).resolve().parents[2]
REDUCE = "(#1) Please reduce the amount of data you're asking for, then retry your request"


def nonexisting(name, node):
    return {
        "message": f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})",
        "type": "OAuthException",
        "code": 100,
    }


# -- a removed field -------------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_a_removed_field_answers_nonexisting_field_wherever_asked(make_graph_sandbox, way):
    server = start(
        make_graph_sandbox, way, {"removed_fields": ["subject"]}, ["--removed-fields", "subject"]
    )
    path = f"{server.page_id}/conversations"
    cid = truth_of(server)["conversations"][0]["id"]
    for response in (
        get(server, path, fields="id,updated_time,subject"),
        get(server, server.page_id, fields="id,conversations.folder(spam).as(spam){id,subject}"),
        get(server, cid, fields="subject"),
    ):
        assert response.status_code == 400
        assert error_of(response) == nonexisting("subject", "UnifiedThread")
    (item,) = post_batch(server, [f"{path}?fields=id,subject"])
    assert item["code"] == 400
    assert item["body"]["error"]["message"] == nonexisting("subject", "UnifiedThread")["message"]
    assert get(server, path, fields="id,updated_time").ok


def test_subject_is_silently_omitted_when_the_switch_is_off(graph_sandbox):
    body = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", fields="id,subject")
    assert body.ok
    assert all(set(c) == {"id"} for c in body.json()["data"])


def test_a_removed_message_field_fails_nested_and_plain_reads(make_graph_sandbox):
    server = make_graph_sandbox(removed_fields="sticker,UnifiedThread.snippet")
    cid = truth_of(server)["conversations"][0]["id"]
    fields = "id,messages.limit(3){id,message,sticker}"
    listed = get(server, f"{server.page_id}/conversations", fields=fields)
    assert error_of(listed) == nonexisting("sticker", "Message")
    assert error_of(get(server, f"{cid}/messages", fields="id,sticker")) == nonexisting(
        "sticker", "Message"
    )
    # Node.field removes it from that node only
    assert error_of(get(server, cid, fields="id,snippet")) == nonexisting(
        "snippet", "UnifiedThread"
    )
    assert get(server, f"{cid}/messages", fields="id,message").ok
    with pytest.raises(ValueError, match="Node.name"):
        server.sandbox.configure(removed_fields=["a.b.c"])


# -- the response-weight budget --------------------------------------------------------------


def weight(conversations, nested):
    return sum(1 + min(nested, c["message_count"]) for c in conversations)


@pytest.mark.parametrize("way", WAYS)
def test_weight_budget_refuses_heavy_calls_with_code_1(make_graph_sandbox, way):
    server = start(make_graph_sandbox, way, {"weight_budget": 200}, ["--weight-budget", "200"])
    inbox = [c for c in truth_of(server)["conversations"] if c["folder"] == "inbox"]
    fields = "id,messages.limit(25){id}"
    path = f"{server.page_id}/conversations"
    heaviest = next(n for n in range(1, len(inbox)) if weight(inbox[:n], 25) > 200)
    heavy = get(server, path, limit=heaviest, fields=fields)
    assert heavy.status_code == 500
    assert error_of(heavy) == {"message": REDUCE, "type": "OAuthException", "code": 1}
    light = get(server, path, limit=heaviest - 1, fields=fields)
    assert [c["id"] for c in light.json()["data"]] == [c["id"] for c in inbox[: heaviest - 1]]
    # a batch item is weighed on its own
    items = post_batch(server, [f"{path}?limit={n}&fields={fields}" for n in (heaviest, 2)])
    assert [item["code"] for item in items] == [500, 200]


def test_weight_is_conversations_plus_messages_returned(make_graph_sandbox):
    server = make_graph_sandbox(conversations=120)
    inbox = [c for c in truth_of(server)["conversations"] if c["folder"] == "inbox"][:40]
    exact = weight(inbox, 10)
    path = f"{server.page_id}/conversations"
    fields = "id,messages.limit(10){id}"
    server.sandbox.configure(weight_budget=exact)
    assert len(get(server, path, limit=40, fields=fields).json()["data"]) == 40
    server.sandbox.configure(weight_budget=exact - 1)
    assert error_of(get(server, path, limit=40, fields=fields))["code"] == 1
    # the messages edge and the Page's expanded folders are weighed too
    thread = max(truth_of(server)["conversations"], key=lambda c: c["message_count"])
    assert thread["message_count"] > 100
    server.sandbox.configure(weight_budget=99)
    assert error_of(get(server, f"{thread['id']}/messages", limit=100))["code"] == 1
    assert len(get(server, f"{thread['id']}/messages", limit=99).json()["data"]) == 99
    server.sandbox.configure(weight_budget=5)
    tops = ",".join(f"conversations.folder({f}).limit(3).as({f}){{id}}" for f in ("inbox", "other"))
    assert error_of(get(server, server.page_id, fields=tops))["code"] == 1


def test_weight_budget_lets_light_pages_grow_past_100(make_graph_sandbox):
    server = make_graph_sandbox(conversations=400, weight_budget=2000)
    inbox = [c["id"] for c in truth_of(server)["conversations"] if c["folder"] == "inbox"]
    assert len(inbox) > 200
    path = f"{server.page_id}/conversations"
    body = get(server, path, limit=1000, fields="id").json()
    assert [c["id"] for c in body["data"]] == inbox[:WEIGHT_MAX_LIMIT]
    # the fixed rule (limit × nested > 2500 → code 1) gives way to the budget
    assert len(get(server, path, limit=30, fields="id,messages.limit(100){id}").json()["data"])
    server.sandbox.configure(weight_max_limit=150)
    assert len(get(server, path, limit=1000, fields="id").json()["data"]) == 150
    server.sandbox.clear_faults()  # off: the caps of 505 (light) and 100, the fixed rule again
    assert len(get(server, path, limit=1000, fields="id").json()["data"]) == len(inbox)
    assert len(get(server, path, limit=1000, fields="id,messages{id}").json()["data"]) == 100
    fixed = get(server, path, limit=30, fields="id,messages.limit(100){id}")
    assert error_of(fixed) == {"message": REDUCE, "type": "OAuthException", "code": 1}


# -- per-item batch throttling ---------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_batch_items_over_the_limit_answer_613_the_others_succeed(make_graph_sandbox, way):
    clock = Clock()
    server = start(
        make_graph_sandbox,
        way,
        {"batch_item_rate_limit": 2},
        ["--batch-item-rate-limit", "2"],
        clock=clock,
    )
    path = f"{server.page_id}/conversations"
    urls = [f"{path}?folder={f}&limit=2" for f in ("inbox", "other", "page_done", "spam")]
    items = post_batch(server, urls)
    assert [item["code"] for item in items] == [200, 200, 400, 400]
    assert items[2]["body"]["error"]["code"] == 613
    assert items[1]["body"]["data"]
    # plain calls are not limited by it, but count in the Page's window
    assert all(get(server, server.page_id).ok for _ in range(4))
    clock.now += 1.0
    assert get(server, server.page_id).ok
    assert [i["code"] for i in post_batch(server, urls[:3])] == [200, 400, 400]
    clock.now += 1.0
    assert [i["code"] for i in post_batch(server, urls[:2])] == [200, 200]


def test_batch_items_are_not_throttled_when_the_switch_is_off(make_graph_sandbox):
    server = make_graph_sandbox(clock=Clock())
    items = post_batch(server, [f"{server.page_id}/conversations?limit=1"] * 10)
    assert {item["code"] for item in items} == {200}


# -- every switch: flags, configure, control, clear_faults, off ------------------------------

ALL_ON = {
    "omit_empty_edges": True,
    "refused_folders": ("spam",),
    "ignored_folders": ("pending",),
    "cursorless_messages": True,
    "cursorless_conversations": True,
    "removed_fields": ("subject",),
    "weight_budget": 3000,
    "weight_max_limit": 400,
    "batch_item_rate_limit": 2.0,
}
ALL_FLAGS = [
    "--omit-empty-edges",
    "--refused-folders=spam",
    "--ignored-folders=pending",
    "--cursorless-messages",
    "--cursorless-conversations",
    "--removed-fields=subject",
    "--weight-budget=3000",
    "--weight-max-limit=400",
    "--batch-item-rate-limit=2",
]


@pytest.mark.parametrize("way", WAYS)
def test_every_switch_is_set_each_way_and_cleared_by_clear_faults(make_graph_sandbox, way):
    server = start(make_graph_sandbox, way, ALL_ON, ALL_FLAGS)
    config = server.sandbox.config.as_dict()
    assert {name: config[name] for name in ALL_ON} == ALL_ON
    SandboxControl(server.url).clear_faults()
    defaults = FaultConfig().as_dict()
    assert {name: server.sandbox.config.as_dict()[name] for name in ALL_ON} == {
        name: defaults[name] for name in ALL_ON
    }


def test_every_switch_is_off_by_default():
    defaults = FaultConfig()
    assert not any(
        (
            defaults.omit_empty_edges,
            defaults.refused_folders,
            defaults.ignored_folders,
            defaults.cursorless_messages,
            defaults.cursorless_conversations,
            defaults.removed_fields,
            defaults.weight_budget,
            defaults.batch_item_rate_limit,
        )
    )
    opts = parse_flags([])
    assert [opts[name] for name in ALL_ON] == [False, None, None, False, False, None] + [None] * 3


def test_the_control_api_refuses_bad_switch_values(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    with pytest.raises(SandboxControlError, match="HTTP 400"):
        control.configure(refused_folders=["inbox"])
    assert control.configure(refused_folders="spam,other")["refused_folders"] == [
        "other",
        "spam",
    ]


def responses(server):
    """Bodies of the calls a sync makes (cursors masked)."""
    truth = truth_of(server)
    thread = max(truth["conversations"], key=lambda c: c["message_count"])
    fields = "id,updated_time,subject,messages.limit(5){id,message,sticker}"
    tops = ",".join(f"conversations.folder({f}).limit(3).as({f}){{id}}" for f in ("spam", "other"))
    calls = [
        get(server, f"{server.page_id}/conversations", folder=f, limit=5, fields=fields)
        for f in ("inbox", "pending", "spam")
    ]
    calls += [
        get(server, server.page_id, fields=tops),
        get(server, f"{thread['id']}/messages", limit=4),
        get(server, f"{server.page_id}/conversations", limit=200, fields="id"),
    ]
    out = [masked(r.text).replace(server.access_token, "TOKEN") for r in calls]
    batch = post_batch(server, [f"{server.page_id}/conversations?limit=1"] * 4)
    return out + [masked(json.dumps(batch)).replace(server.access_token, "TOKEN")]


def test_switches_cleared_give_the_responses_of_a_sandbox_that_never_had_them(
    make_graph_sandbox,
):
    anchor = 1_780_000_000
    fresh = make_graph_sandbox(anchor=anchor, clock=Clock())
    switched = make_graph_sandbox(anchor=anchor, clock=Clock(), **ALL_ON)
    assert responses(switched) != responses(fresh)
    switched.sandbox.clear_faults()
    assert responses(switched) == responses(fresh)
    assert truth_of(switched) == truth_of(fresh)


@pytest.mark.slow
def test_the_command_serves_the_switches_its_flags_set():
    script = (
        "import django; from django.conf import settings;"
        "settings.configure(INSTALLED_APPS=['graph_sandbox']); django.setup();"
        "from django.core.management import call_command;"
        "call_command('graph_sandbox', '--port=0', '--conversations=55', '--seed=2',"
        " '--refused-folders=spam', '--omit-empty-edges', '--cursorless-messages')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        info = next(json.loads(line) for line in proc.stdout if line.startswith("{"))
        page = info["pages"][0]
        base = f"{info['url']}/{V}"
        token = {"access_token": page["access_token"]}
        spam = requests.get(
            f"{base}/{page['id']}/conversations", params={**token, "folder": "spam"}, timeout=5
        )
        assert spam.json()["error"]["code"] == 100
        truth = SandboxControl(info["url"]).truth(page["id"])
        assert truth["hidden_folders"] == {"spam": "refused"}
        thread = max(truth["conversations"], key=lambda c: c["message_count"])
        messages = requests.get(
            f"{base}/{thread['id']}/messages", params={**token, "limit": 2}, timeout=5
        ).json()
        assert set(messages["paging"]) == {"next"}
        config = SandboxControl(info["url"]).configure()
        assert config["omit_empty_edges"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        assert proc.returncode == 0
