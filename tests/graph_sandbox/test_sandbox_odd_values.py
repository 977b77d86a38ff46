"""The `odd_values` switch: odd values served in some conversations, reported in the truth."""

from __future__ import annotations

import json

import pytest
import requests

from graph_sandbox import SandboxControl
from graph_sandbox.control import SandboxControlError
from graph_sandbox.management.commands.graph_sandbox import Command
from graph_sandbox.odd_values import KINDS
from tests.graph_sandbox.sandbox_helpers import V, get

ENGINE_FIELDS = (
    "id,updated_time,message_count,unread_count,snippet,can_reply,participants,"
    "messages.limit(25){id,created_time,from,to,message,"
    "attachments{id,mime_type,name,size,file_url,image_data,video_data},sticker,"
    "shares{link,name,description}}"
)
FOLDERS = ("inbox", "other", "page_done", "pending", "spam")
# How each kind shows in a body's text (Graph writes ASCII JSON, "/" escaped).
IN_BODY_TEXT = {
    "nul_text": r"Hello\u0000 there\u0000!",
    "nul_name": r"\u0000",
    "nul_snippet": r"\u0000",
    "nul_attachment": r"odd\u0000.png",
    "surrogate_text": r"Cut emoji \ud83d here \ude00",
    "surrogate_name": r' \ud83d"',
    "surrogate_snippet": "x" * 99 + r"\ud83d",
    "huge_counts": '"unread_count":9223372036854775808',
    "infinite_count": '"message_count":1e400,"unread_count":-1e400',
    "giant_count": '"message_count":' + "9" * 5000,
    "deep_json": '"layers":' + "[" * 5000 + "]" * 5000,
    "long_conversation_id": "_" + "9" * 200,
    "long_message_id": "x" * 300,
    "long_contact_id": "1" * 100,
    "far_future_time": "9999-12-31T23:59:59-0100",
    "ancient_time": "0001-01-01T00:00:00+0100",
}


def served_text(server) -> dict[str, str]:
    """The raw body of each folder's conversations, as the engine reads them."""
    return {
        folder: get(
            server,
            f"{server.page_id}/conversations",
            folder=folder,
            limit=100,
            fields=ENGINE_FIELDS,
        ).text
        for folder in FOLDERS
    }


def body_of(server, conversation_id: str, folders: dict[str, str]) -> str:
    """The text of one conversation's item in the list bodies (between its id and the next)."""
    for text in folders.values():
        start = text.find(f'{{"id":"{conversation_id}"')
        if start >= 0:
            end = text.find('{"id":"t_', start + 1)
            return text[start : end if end > 0 else len(text)]
    raise AssertionError(f"{conversation_id} is not served")


def test_off_by_default(make_graph_sandbox):
    server = make_graph_sandbox(conversations=60, seed=7)

    assert server.sandbox.truth()["odd"] == []
    assert server.sandbox.config.odd_values == ()
    for text in served_text(server).values():
        assert r"\u0000" not in text
        assert "1e400" not in text


def test_every_kind_is_served_in_its_conversation_and_reported(make_graph_sandbox):
    server = make_graph_sandbox(conversations=60, seed=7, odd_values=True)
    truth = server.sandbox.truth()
    folders = served_text(server)

    assert sorted(entry["kind"] for entry in truth["odd"]) == sorted(KINDS)
    assert len({entry["id"] for entry in truth["odd"]}) == len(KINDS)
    for entry in truth["odd"]:
        assert entry["outcome"] == KINDS[entry["kind"]]
        assert IN_BODY_TEXT[entry["kind"]] in body_of(server, entry["served_id"], folders)
    # Only the odd conversations are odd.
    odd_ids = {entry["id"] for entry in truth["odd"]}
    for conversation in truth["conversations"]:
        if conversation["id"] not in odd_ids:
            assert r"\u0000" not in body_of(server, conversation["id"], folders)


def test_the_reported_expectations(make_graph_sandbox):
    server = make_graph_sandbox(conversations=60, seed=7, odd_values=True)
    odd = {entry["kind"]: entry for entry in server.sandbox.truth()["odd"]}
    by_id = {c["id"]: c for c in server.sandbox.truth()["conversations"]}

    assert odd["surrogate_snippet"]["expected"] == {"snippet": "x" * 99 + "\ufffd"}
    assert odd["huge_counts"]["expected"] == {"message_count": 2**31 - 1, "unread_count": 2**31 - 1}
    name = by_id[odd["nul_name"]["id"]]["participant"]["name"]
    assert odd["nul_name"]["expected"] == {"contact_name": name}
    message_ids = by_id[odd["nul_text"]["id"]]["message_ids"]
    assert odd["nul_text"]["expected"]["message"] == {"id": message_ids[0], "text": "Hello there!"}
    long_id = odd["long_conversation_id"]
    assert long_id["served_id"].startswith(long_id["id"])
    assert len(long_id["served_id"]) > 200
    assert odd["far_future_time"]["expected"] == {}


def test_odd_values_are_served_on_every_endpoint_and_in_batches(make_graph_sandbox):
    server = make_graph_sandbox(conversations=60, seed=7, odd_values=True)
    odd = {entry["kind"]: entry for entry in server.sandbox.truth()["odd"]}
    conversation_id, deep_id = odd["nul_text"]["id"], odd["deep_json"]["id"]

    messages = get(server, f"{conversation_id}/messages", fields="id,message", limit=100)
    single = get(server, odd["infinite_count"]["id"], fields="id,message_count")
    batch = requests.post(
        f"{server.url}/{V}/",
        data={
            "access_token": server.access_token,
            "batch": json.dumps(
                [{"method": "GET", "relative_url": f"{deep_id}/messages?fields=id,attachments"}]
            ),
        },
        timeout=10,
    )

    assert r"Hello\u0000 there\u0000!" in messages.text
    assert single.text.startswith('{"id":')
    assert '"message_count":1e400' in single.text
    item_body = batch.json()[0]["body"]  # the envelope itself is plain JSON
    assert "[" * 5000 in item_body


def test_the_choice_is_deterministic_by_seed(make_graph_sandbox):
    def odd_ids(seed: int) -> list[str]:
        server = make_graph_sandbox(conversations=60, seed=seed, odd_values=True)
        return [entry["id"] for entry in server.sandbox.truth()["odd"]]

    assert odd_ids(7) == odd_ids(7)
    assert odd_ids(7) != odd_ids(8)


def test_switched_over_http_by_kind_and_reset_by_clear_faults(make_graph_sandbox):
    server = make_graph_sandbox(conversations=60, seed=7)
    control = SandboxControl(server.url)

    assert control.configure(odd_values=["nul_text", "deep_json"])["odd_values"] == [
        "nul_text",
        "deep_json",
    ]
    assert [e["kind"] for e in control.truth(server.page_id)["odd"]] == ["nul_text", "deep_json"]
    with pytest.raises(SandboxControlError, match="unknown odd value kind"):
        control.configure(odd_values=["nul_everything"])

    control.clear_faults()

    assert control.truth(server.page_id)["odd"] == []


def test_the_command_line_flag():
    parser = Command().create_parser("manage.py", "graph_sandbox")

    assert parser.parse_args([]).odd_values is False
    assert parser.parse_args(["--odd-values"]).odd_values is True
    assert parser.parse_args(["--odd-values", "nul_text,deep_json"]).odd_values == (
        "nul_text,deep_json"
    )
