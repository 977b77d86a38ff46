"""The sandbox posts Messenger webhooks as Meta does (graph-api.md §8.2–§8.4), to a tiny
threaded receiver in this file: signed escaped JSON, batching, retries, duplicates, shuffling,
standby, concurrency, deliveries when the data changes, and webhooks that agree with Graph."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from graph_sandbox import Sandbox, SandboxControl
from graph_sandbox.control import SandboxControlError
from graph_sandbox.webhook_events import Event, envelopes
from tests.graph_sandbox.sandbox_helpers import get
from webhooks.signatures import check_hub_signature

ROOT = Path(__file__).resolve().parents[2]
ALL_FIELDS = ["messages", "message_echoes", "message_reads", "message_deliveries"]


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def items(self) -> list[dict[str, Any]]:
        return [item for entry in self.json()["entry"] for item in entry.get("messaging", [])]


class Receiver:
    """A webhook endpoint that records every POST. The first ``fail_first`` tries of each body
    are answered ``status``; the first ``slow_first`` tries wait ``delay`` seconds first; every
    request holds ``hold`` seconds (to make concurrent requests overlap)."""

    def __init__(self, fail_first=0, status=500, slow_first=0, delay=0.0, hold=0.0) -> None:
        self.posts: list[Post] = []
        self.tries: Counter[bytes] = Counter()
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.tries[body] += 1
                    attempt = receiver.tries[body]
                    receiver.active += 1
                    receiver.max_active = max(receiver.max_active, receiver.active)
                time.sleep(hold + (delay if attempt <= slow_first else 0))
                with receiver.lock:
                    receiver.posts.append(
                        Post(self.path, dict(self.headers), body, time.monotonic())
                    )
                    # no longer active before the answer leaves: the sender's next request
                    # may arrive as soon as it reads this one
                    receiver.active -= 1
                self.send_response(status if attempt <= fail_first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the sender gave up on a slow answer: a broken pipe here is expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/facebook/?x=1"

    def items(self) -> list[dict[str, Any]]:
        return [item for post in self.posts for item in post.items()]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**options: Any) -> Receiver:
        made.append(Receiver(**options))
        return made[-1]

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def sandbox_to(make_graph_sandbox, receiver):
    """A started sandbox posting to a new receiver: ``server, rec = sandbox_to(**options)``."""

    def make(subscribed: list[str] | None = None, receiver_options=None, **options: Any):
        rec = receiver(**(receiver_options or {}))
        server = make_graph_sandbox(conversations=20, seed=3, latency_ms=0)
        options = {"retry_delay_seconds": 0.01, "timeout_seconds": 2, **options}
        server.sandbox.configure_webhooks(rec.url, **options)
        if subscribed is not None:
            server.sandbox.subscriptions[server.page_id] = subscribed
        return server, rec

    return make


def signed(post: Post, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(post.headers.get("X-Hub-Signature-256", ""), expected)


def graph_messages(server, conversation_id: str) -> list[dict[str, Any]]:
    fields = "id,created_time,from,to,message,attachments,sticker"
    r = get(server, f"{conversation_id}/messages", fields=fields, limit=100)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def epoch_ms(graph_time: str) -> int:
    return (
        int(time.mktime(time.strptime(graph_time, "%Y-%m-%dT%H:%M:%S+0000")) - time.timezone) * 1000
    )


def wait(server) -> list[dict[str, Any]]:
    assert server.sandbox.wait_for_webhooks(10)
    return server.sandbox.webhook_log()


# -- what one delivery looks like -----------------------------------------------------------


def test_a_delivery_is_escaped_json_signed_over_its_raw_bytes(sandbox_to):
    server, rec = sandbox_to(subscribed=ALL_FIELDS)
    result = server.sandbox.send_webhooks(server.page_id, "message", text="Olá/Zoë ❤ 🚲")
    wait(server)
    [post] = rec.posts
    secret = server.sandbox.app_credentials()["app_secret"]
    assert signed(post, secret)
    check_hub_signature(post.body, post.headers["X-Hub-Signature-256"], secret)  # the app agrees
    assert post.headers["Content-Type"] == "application/json"
    assert post.path == "/webhooks/facebook/?x=1"
    assert post.body.isascii()
    assert b"Ol\\u00e1\\/Zo\\u00eb \\u2764 \\ud83d\\udeb2" in post.body
    # re-serialising the parsed JSON gives other bytes: the signature must be checked first
    assert json.dumps(post.json(), separators=(",", ":")).encode() != post.body
    body = post.json()
    assert body["object"] == "page"
    [entry] = body["entry"]
    assert entry["id"] == server.page_id
    assert abs(entry["time"] - time.time() * 1000) < 60_000
    [item] = entry["messaging"]
    assert item["message"] == {"mid": result["events"][0]["mid"], "text": "Olá/Zoë ❤ 🚲"}


def test_the_signature_uses_the_configured_app_secret(make_graph_sandbox, receiver):
    rec = receiver()
    server = make_graph_sandbox(conversations=5, seed=3, app_secret="s3cret")
    server.sandbox.configure_webhooks(rec.url)
    server.sandbox.send_webhooks(server.page_id, "read")
    wait(server)
    assert signed(rec.posts[0], "s3cret")


def test_the_webhook_mid_and_timestamp_are_the_graph_message_id_and_time(sandbox_to):
    server, rec = sandbox_to(subscribed=ALL_FIELDS)
    [conv_id] = server.sandbox.add_messages(server.page_id, n_conversations=1)
    wait(server)
    [item] = rec.items()
    newest = graph_messages(server, conv_id)[0]
    psid = newest["from"]["id"]
    assert item["message"]["mid"] == newest["id"]
    assert item["timestamp"] == epoch_ms(newest["created_time"])
    assert item["sender"] == {"id": psid}
    assert item["recipient"] == {"id": server.page_id}
    assert item["message"].get("text", "") == newest["message"]


@pytest.mark.parametrize("kind", ["image", "file", "audio", "video", "sticker"])
def test_an_attachment_is_the_one_graph_serves(sandbox_to, kind):
    server, rec = sandbox_to()
    [event] = server.sandbox.send_webhooks(server.page_id, attachment=kind)["events"]
    wait(server)
    [item] = rec.items()
    [attachment] = item["message"]["attachments"]
    assert attachment["type"] == kind
    assert "text" not in item["message"]
    newest = graph_messages(server, event["conversation_id"])[0]
    assert newest["id"] == event["mid"]
    [graph] = newest["attachments"]["data"]
    url = {"image": "image_data", "sticker": "image_data", "video": "video_data"}.get(kind)
    graph_url = graph[url]["url"] if url else graph["file_url"]
    # each read signs a fresh URL (graph_sandbox/media.py): the same file, another query
    assert attachment["payload"]["url"].split("?")[0] == graph_url.split("?")[0]
    if kind == "sticker":
        assert attachment["payload"]["sticker_id"] == int(graph["id"])
        assert newest["sticker"]


def test_echo_quick_reply_and_reply_to(sandbox_to):
    server, rec = sandbox_to()
    sandbox, page = server.sandbox, server.page_id
    app_id = int(sandbox.app_credentials()["app_id"])
    [echo] = sandbox.send_webhooks(page, "echo", text="Yes, we ship 📦")["events"]
    conv = echo["conversation_id"]
    sandbox.send_webhooks(page, conversation_id=conv, quick_reply="SIZE_M", reply_to=True)
    wait(server)
    first, second = sorted(rec.items(), key=lambda item: item["timestamp"])
    assert first["sender"] == {"id": page}
    assert first["recipient"] == {"id": echo["psid"]}
    assert first["message"] == {
        "mid": echo["mid"],
        "is_echo": True,
        "app_id": app_id,
        "text": "Yes, we ship 📦",
    }
    assert second["message"]["quick_reply"] == {"payload": "SIZE_M"}
    assert second["message"]["reply_to"] == {"mid": echo["mid"]}
    graph = graph_messages(server, conv)
    assert [m["id"] for m in graph[:2]] == [second["message"]["mid"], echo["mid"]]
    assert graph[1]["from"]["id"] == page
    assert graph[1]["message"] == "Yes, we ship 📦"


def test_reads_deliveries_reactions_postbacks_and_edits_point_at_graph_messages(sandbox_to):
    server, rec = sandbox_to(concurrency=1)  # in order: the later reaction is the unreact
    sandbox, page = server.sandbox, server.page_id
    [echo] = sandbox.send_webhooks(page, "echo")["events"]
    conv = echo["conversation_id"]
    for kind in ("read", "delivery", "reaction", "message_edit"):
        sandbox.send_webhooks(page, kind, conversation_id=conv, text="new text")
    sandbox.send_webhooks(page, "reaction", conversation_id=conv, action="unreact")
    [postback] = sandbox.send_webhooks(page, "postback", new_conversation=True)["events"]
    wait(server)
    items = {
        next(k for k in item if k not in ("sender", "recipient", "timestamp")): item
        for item in rec.items()
    }
    graph = {m["id"]: m for m in graph_messages(server, conv)}
    echo_ms = epoch_ms(graph[echo["mid"]]["created_time"])
    assert items["read"]["read"] == {"watermark": echo_ms}
    assert items["delivery"]["delivery"] == {"mids": [echo["mid"]], "watermark": echo_ms}
    assert items["reaction"]["reaction"]["action"] == "unreact"
    assert items["reaction"]["sender"] == {"id": echo["psid"]}
    edit = items["message_edit"]["message_edit"]
    assert graph[edit["mid"]]["message"] == edit["text"] == "new text"
    assert graph[edit["mid"]]["from"]["id"] == echo["psid"]
    assert edit["num_edit"] == 1
    assert items["postback"]["postback"] == {
        "mid": postback["mid"],
        "title": "Get Started",
        "payload": "GET_STARTED",
    }
    [graph_postback] = graph_messages(server, postback["conversation_id"])
    assert graph_postback["id"] == postback["mid"]
    assert graph_postback["message"] == "Get Started"


def test_an_unknown_kind_and_standby_items(sandbox_to):
    server, rec = sandbox_to(standby=True)
    server.sandbox.send_webhooks(server.page_id, "unknown")
    wait(server)
    [entry] = rec.posts[0].json()["entry"]
    assert "messaging" not in entry
    [item] = entry["standby"]
    assert set(item) == {"sender", "recipient", "timestamp", "sandbox_unknown_event"}


# -- when the data changes ------------------------------------------------------------------


def test_new_conversations_send_messages_and_echoes_from_people_never_seen(sandbox_to):
    server, rec = sandbox_to(subscribed=ALL_FIELDS)
    known = {c["participant"]["id"] for c in server.sandbox.truth()["conversations"]}
    ids = server.sandbox.add_conversations(server.page_id, 4, messages=3)
    log = wait(server)
    expected = {m["id"]: m for conv in ids for m in graph_messages(server, conv)}
    assert {item["message"]["mid"] for item in rec.items()} == set(expected)
    assert len(log) == 12
    for item in rec.items():
        graph = expected[item["message"]["mid"]]
        from_page = graph["from"]["id"] == server.page_id
        assert item["message"].get("is_echo", False) is from_page
        person = item["recipient" if from_page else "sender"]["id"]
        assert person not in known
    assert Counter(kind for entry in log for kind in entry["kinds"]) == Counter(
        "echo" if m["from"]["id"] == server.page_id else "message" for m in expected.values()
    )


@pytest.mark.parametrize(
    ("fields", "kinds"),
    [
        (None, set()),  # not subscribed: nothing
        (["messages"], {"message"}),
        (["message_echoes"], {"echo"}),
        (["feed"], set()),
    ],
)
def test_data_changes_respect_the_subscribed_fields(sandbox_to, fields, kinds):
    server, rec = sandbox_to(subscribed=fields)
    server.sandbox.add_conversations(server.page_id, 6, messages=3)
    server.sandbox.add_messages(server.page_id, n_conversations=2)
    wait(server)
    sent = {"echo" if item["message"].get("is_echo") else "message" for item in rec.items()}
    assert sent == kinds


def test_a_page_subscribed_through_graph_gets_its_new_messages(sandbox_to):
    server, rec = sandbox_to()
    url = f"{server.url}/v26.0/{server.page_id}/subscribed_apps"
    params = {"access_token": server.access_token, "subscribed_fields": "messages"}
    assert requests.post(url, params=params, timeout=5).json() == {"success": True}
    [conv_id] = server.sandbox.add_messages(server.page_id, n_conversations=1)
    wait(server)
    [item] = rec.items()
    assert item["message"]["mid"] == graph_messages(server, conv_id)[0]["id"]
    assert requests.delete(url, params=params, timeout=5).json() == {"success": True}
    server.sandbox.add_messages(server.page_id, n_conversations=1)
    assert len(wait(server)) == 1


def test_standby_deliveries_need_the_standby_field(sandbox_to):
    server, rec = sandbox_to(subscribed=["messages"], standby=True)
    server.sandbox.add_messages(server.page_id, n_conversations=2)
    wait(server)
    assert rec.posts == []
    server.sandbox.subscriptions[server.page_id] = ["standby"]
    server.sandbox.add_messages(server.page_id, n_conversations=2)
    wait(server)
    assert len(rec.posts) == 2
    assert all("standby" in p.json()["entry"][0] for p in rec.posts)


def test_without_subscriptions_every_page_gets_everything(sandbox_to):
    server, rec = sandbox_to()
    del server.sandbox.subscriptions  # a sandbox from before subscribed_apps existed
    server.sandbox.add_messages(server.page_id, n_conversations=3, per_conversation=2)
    assert len(wait(server)) == 6


def test_no_url_no_webhooks_no_thread(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5)
    server.sandbox.subscriptions[server.page_id] = ALL_FIELDS
    server.sandbox.add_messages(server.page_id, n_conversations=2)
    assert server.sandbox.webhook_log() == []
    assert not [t for t in threading.enumerate() if t.name.startswith("sandbox-webhook")]
    with pytest.raises(ValueError, match="configure_webhooks"):
        server.sandbox.send_webhooks(server.page_id)


# -- batching, order, duplicates, retries ---------------------------------------------------


def test_batches_hold_up_to_the_maximum_of_events(sandbox_to):
    server, rec = sandbox_to(max_events_per_delivery=3, items_per_entry=2, concurrency=1)
    [conv] = server.sandbox.add_conversations(server.page_id, 1, messages=1)
    result = server.sandbox.send_webhooks(server.page_id, n=7, conversation_id=conv)
    log = wait(server)
    assert [entry["events"] for entry in log] == [3, 3, 1]
    assert len(result["deliveries"]) == 3
    assert [[len(e["messaging"]) for e in p.json()["entry"]] for p in rec.posts] == [
        [2, 1],
        [2, 1],
        [1],
    ]
    assert [i["message"]["mid"] for i in rec.items()] == [e["mid"] for e in result["events"]]


def test_one_post_can_hold_several_pages():
    events = [Event(page, "read", {"n": n}) for n, page in enumerate("aabba")]
    [(body, chunk)] = envelopes(events, 1000, 5, False, 1)
    assert [(e["id"], len(e["messaging"])) for e in body["entry"]] == [("a", 2), ("b", 2), ("a", 1)]
    assert chunk == events


def test_shuffle_sends_out_of_order_and_order_is_kept_without_it(sandbox_to):
    for shuffle in (False, True):
        server, rec = sandbox_to(shuffle=shuffle, concurrency=1)
        [conv] = server.sandbox.add_conversations(server.page_id, 1, messages=1)
        result = server.sandbox.send_webhooks(server.page_id, n=30, conversation_id=conv)
        wait(server)
        created = [e["mid"] for e in result["events"]]
        arrived = [i["message"]["mid"] for i in rec.items()]
        assert sorted(arrived) == sorted(created)
        assert (arrived == created) is not shuffle


def test_duplicates_are_the_same_bytes_sent_twice(sandbox_to):
    server, rec = sandbox_to(duplicate_rate=1.0)
    server.sandbox.send_webhooks(server.page_id, n=3)
    log = wait(server)
    assert len(rec.posts) == 6
    assert set(Counter(p.body for p in rec.posts).values()) == {2}
    copies = [e for e in log if e["duplicated"]]
    assert len(copies) == 3
    assert {c["duplicate_of"] for c in copies} == {e["id"] for e in log if not e["duplicated"]}
    server, rec = sandbox_to(duplicate_rate=0.5)
    server.sandbox.send_webhooks(server.page_id, n=40)
    assert 0 < sum(e["duplicated"] for e in wait(server)) < 40


def test_a_failed_delivery_is_retried_at_once_then_with_growing_delays(sandbox_to):
    server, rec = sandbox_to(receiver_options={"fail_first": 3}, retry_delay_seconds=0.1)
    server.sandbox.send_webhooks(server.page_id)
    [entry] = wait(server)
    assert entry["attempts"] == 4
    assert entry["statuses"] == [500, 500, 500, 200]
    assert entry["state"] == "delivered"
    assert entry["status"] == 200
    assert len({p.body for p in rec.posts}) == 1
    assert all(signed_posts(server, rec))
    gaps = [b.at - a.at for a, b in zip(rec.posts, rec.posts[1:], strict=False)]
    assert gaps[0] < 0.1 <= gaps[1] < gaps[2]
    assert gaps[2] >= 0.2


def test_a_delivery_gives_up_after_its_retries(sandbox_to, receiver):
    server, rec = sandbox_to(receiver_options={"fail_first": 99, "status": 503}, retries=2)
    server.sandbox.send_webhooks(server.page_id)
    [entry] = wait(server)
    assert entry["state"] == "failed"
    assert entry["attempts"] == 3
    assert entry["status"] == 503
    closed = receiver()
    url = closed.url
    closed.stop()
    server.sandbox.configure_webhooks(url, retries=1, retry_delay_seconds=0.01)
    server.sandbox.send_raw_webhook({"object": "page", "entry": []})
    entry = wait(server)[-1]
    assert entry["state"] == "failed"
    assert entry["status"] is None
    assert "ConnectionRefused" in entry["error"]
    assert entry["attempts"] == 2


def test_a_slow_answer_times_out_and_is_retried(sandbox_to):
    options = {"slow_first": 1, "delay": 1.0}
    server, rec = sandbox_to(receiver_options=options, timeout_seconds=0.2)
    server.sandbox.send_webhooks(server.page_id)
    [entry] = wait(server)
    assert entry["statuses"] == [None, 200]
    assert entry["state"] == "delivered"
    assert entry["attempts"] == 2
    assert entry["error"] is None
    assert list(rec.tries.values()) == [2]  # the same body again, while the first still waits


def signed_posts(server, rec) -> list[bool]:
    secret = server.sandbox.app_credentials()["app_secret"]
    return [signed(p, secret) for p in rec.posts]


def test_a_thousand_deliveries_in_parallel_all_arrive(sandbox_to):
    server, rec = sandbox_to(concurrency=16, receiver_options={"hold": 0.002})
    [conv] = server.sandbox.add_conversations(server.page_id, 1, messages=1)
    result = server.sandbox.send_webhooks(server.page_id, n=1000, conversation_id=conv)
    log = wait(server)
    assert len(rec.posts) == 1000
    assert all(signed_posts(server, rec))
    assert {i["message"]["mid"] for i in rec.items()} == {e["mid"] for e in result["events"]}
    assert all(e["attempts"] == 1 and e["status"] == 200 for e in log)
    assert 1 < rec.max_active <= 16
    assert len(graph_messages(server, conv)) == 100  # the first Graph page of 1,001 messages


def test_a_thousand_events_in_one_delivery(sandbox_to):
    server, rec = sandbox_to(max_events_per_delivery=1000)
    server.sandbox.send_webhooks(server.page_id, n=1000)
    [entry] = wait(server)
    assert entry["events"] == 1000
    assert len(rec.posts[0].json()["entry"]) == 1000


# -- raw payloads, waiting, stopping --------------------------------------------------------


def test_raw_payloads_signed_unsigned_or_forged(sandbox_to):
    server, rec = sandbox_to()
    sandbox = server.sandbox
    sandbox.send_raw_webhook({"object": "page", "entry": [{"id": "1", "url": "a/b"}]})
    sandbox.send_raw_webhook("not json", sign=False)
    sandbox.send_raw_webhook("{}", signature="sha256=00")
    wait(server)
    by_body = {post.body: post for post in rec.posts}
    signed_one = by_body[b'{"object":"page","entry":[{"id":"1","url":"a\\/b"}]}']
    assert signed(signed_one, sandbox.app_credentials()["app_secret"])
    assert signed_posts(server, rec).count(True) == 1
    assert "X-Hub-Signature-256" not in by_body[b"not json"].headers
    assert by_body[b"{}"].headers["X-Hub-Signature-256"] == "sha256=00"
    assert all(e["raw"] for e in sandbox.webhook_log())


def test_wait_for_webhooks_times_out_while_a_delivery_is_in_flight(sandbox_to):
    server, rec = sandbox_to(receiver_options={"slow_first": 1, "delay": 0.5})
    server.sandbox.send_webhooks(server.page_id)
    assert server.sandbox.wait_for_webhooks(0.05) is False
    assert server.sandbox.webhook_log()[0]["state"] == "sending"
    assert server.sandbox.wait_for_webhooks(5) is True
    assert server.sandbox.webhook_log()[0]["state"] == "delivered"


def test_the_sender_stops_with_the_server_and_leaves_no_thread(sandbox_to):
    server, rec = sandbox_to(receiver_options={"fail_first": 99}, retry_delay_seconds=30)
    server.sandbox.send_webhooks(server.page_id, n=3)
    deadline = time.monotonic() + 5
    while len(rec.posts) < 6 and time.monotonic() < deadline:  # two tries each, then waiting
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert not [t for t in threading.enumerate() if t.name.startswith("sandbox-webhook")]
    assert {e["state"] for e in server.sandbox.webhook_log()} == {"stopped"}
    assert server.sandbox.wait_for_webhooks(0)


def test_a_new_pool_size_takes_over_once_the_old_pool_has_posted_its_deliveries(sandbox_to):
    server, rec = sandbox_to(concurrency=2, receiver_options={"hold": 0.005})
    server.sandbox.send_webhooks(server.page_id, n=20)
    server.sandbox.configure_webhooks(rec.url, concurrency=6, retry_delay_seconds=0.01)
    server.sandbox.send_webhooks(server.page_id, n=20)
    log = wait(server)
    assert len(rec.posts) == 40
    assert {e["state"] for e in log} == {"delivered"}
    senders = [t for t in threading.enumerate() if t.name.startswith("sandbox-webhook")]
    assert 0 < len(senders) <= 6


def test_bad_configuration_is_refused():
    sandbox = Sandbox(3)
    for bad in (
        {"url": "ftp://x"},
        {"url": "http://x", "duplicate_rate": 2},
        {"url": "http://x", "max_events_per_delivery": 1001},
        {"url": "http://x", "concurrency": 0},
        {"url": "http://x", "timeout_seconds": 0},
    ):
        with pytest.raises(ValueError, match="must be"):
            sandbox.configure_webhooks(**bad)
    sandbox.configure_webhooks("http://x")
    with pytest.raises(ValueError, match="kind"):
        sandbox.send_webhooks(kind="optin")
    with pytest.raises(ValueError, match="new_conversation"):
        sandbox.send_webhooks(kind="read", new_conversation=True)


# -- over HTTP and from the command line ----------------------------------------------------


def test_control_routes_over_http(sandbox_to):
    server, rec = sandbox_to()
    control = SandboxControl(server.url)
    config = control.configure_webhooks(rec.url, max_events_per_delivery=2, retries=0)
    assert config["max_events_per_delivery"] == 2
    assert config["retries"] == 0
    result = control.send_webhooks(server.page_id, "message", n=3, new_conversation=True)
    assert len(result["deliveries"]) == 2
    assert len(result["events"]) == 3
    assert isinstance(control.send_raw_webhook({"object": "page", "entry": []}), int)
    assert control.wait_for_webhooks(5) is True
    assert [e["events"] for e in control.webhook_log()] == [2, 1, 0]
    assert [e["id"] for e in control.webhook_log(since=2)] == [3]
    with pytest.raises(SandboxControlError, match="400"):
        control.configure_webhooks(rec.url, concurrency=1000)


def test_management_command_posts_webhooks(receiver):
    rec = receiver()
    script = (
        "import django; from django.conf import settings;"
        "settings.configure(INSTALLED_APPS=['graph_sandbox']); django.setup();"
        "from django.core.management import call_command;"
        f"call_command('graph_sandbox', '--port', '0', '--conversations', '5', '--webhook-url',"
        f" {rec.url!r}, '--webhook-batch', '2', '--webhook-retry-delay', '0.01')"
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
        control = SandboxControl(info["url"])
        control.send_webhooks(info["pages"][0]["id"], "message", n=3)
        assert control.wait_for_webhooks(5)
        assert sorted(len(p.items()) for p in rec.posts) == [1, 2]
        assert signed(rec.posts[0], info["app"]["app_secret"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
