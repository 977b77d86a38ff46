"""`GET /{message-id}` (graph_sandbox/message_node.py): a Page's message read as a node, with
the fields a messages edge gives and fresh media URLs, for messages generated, appended by a
webhook or unknown; the token's Page only. Over real HTTP."""

from __future__ import annotations

from graph_sandbox import SandboxControl
from tests.graph_sandbox.sandbox_helpers import get
from tests.graph_sandbox.test_webhook_sender import Receiver

FIELDS = "id,created_time,from,message,attachments{id,mime_type,name,file_url,image_data},sticker"


def unsigned(value):
    """The value with every URL's query (its signature and expiry) dropped."""
    if isinstance(value, dict):
        return {k: unsigned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsigned(v) for v in value]
    return value.split("?")[0] if isinstance(value, str) and "/_media/" in value else value


def messages_of(server, limit: int = 100) -> list[dict]:
    out = []
    for conversation in get(server, f"{server.page_id}/conversations", limit=50).json()["data"]:
        body = get(server, f"{conversation['id']}/messages", fields=FIELDS, limit=limit).json()
        out += body["data"]
    return out


def test_each_message_reads_as_a_node_like_in_its_edge(make_graph_sandbox):
    server = make_graph_sandbox(conversations=12, seed=3, latency_ms=0)
    messages = messages_of(server)
    assert len(messages) > 50
    assert any("attachments" in m for m in messages)
    for message in messages:
        node = get(server, message["id"], fields=FIELDS)
        assert node.status_code == 200
        assert unsigned(node.json()) == unsigned(message)  # each read signs URLs anew
    default = get(server, messages[0]["id"]).json()
    assert set(default) == {"id", "created_time"}


def test_a_node_gives_fresh_media_urls_after_they_expired(make_graph_sandbox):
    server = make_graph_sandbox(conversations=12, seed=3, latency_ms=0)
    message = next(m for m in messages_of(server) if "image_data" in str(m.get("attachments")))
    old = message["attachments"]["data"][0]["image_data"]["url"]
    SandboxControl(server.url).expire_media()
    node = get(server, message["id"], fields=FIELDS).json()
    fresh = node["attachments"]["data"][0]["image_data"]["url"]
    assert fresh.split("?")[0] == old.split("?")[0]
    assert fresh != old


def test_a_message_appended_later_is_found_and_unknown_ids_are_errors(make_graph_sandbox):
    server = make_graph_sandbox(conversations=4, seed=3, latency_ms=0)
    messages_of(server)  # index built before the new message exists
    receiver = Receiver()
    try:
        server.sandbox.configure_webhooks(receiver.url, retry_delay_seconds=0.01)
        [event] = server.sandbox.send_webhooks(server.page_id, attachment="file")["events"]
    finally:
        receiver.stop()
    node = get(server, event["mid"], fields=FIELDS).json()
    assert node["id"] == event["mid"]
    assert node["attachments"]["data"][0]["file_url"].startswith(f"{server.url}/_media/")
    missing = get(server, "m_no_such_message").json()
    assert (missing["error"]["code"], missing["error"]["error_subcode"]) == (100, 33)
    assert get(server, f"{event['mid']}/reactions").json()["error"]["code"] == 100


def test_another_pages_token_cannot_read_a_message(make_graph_sandbox):
    server = make_graph_sandbox(conversations=4, seed=3, pages=2, latency_ms=0)
    message = messages_of(server, limit=1)[0]
    other_token = server.pages[1][2]
    answer = get(server, message["id"], access_token=other_token).json()
    assert "error" in answer
