"""One odd value from Graph never stops a Page (issue 11, items 1 and 4).

The sandbox's `odd_values` switch serves NULs, lone surrogates, ids longer than their columns,
counts past 32 bits and `1e400`, times no database gives back and deep JSON in some
conversations (graph_sandbox/odd_values.py). Every kind of sync completes, every other
conversation is stored as Graph has it, and each odd one is stored cleaned or listed in the
run's problems, on SQLite and PostgreSQL.

Two kinds break the JSON decoder itself (an integer of 5,000 digits, nesting 5,000 levels
deep): they are handled once the client decodes bodies with pages.graph.payload.parse_json,
so they are tested separately ("all-kinds").
"""

from __future__ import annotations

import re

import pytest

from conversations.models import Contact, Conversation, Message
from graph_sandbox.odd_values import KINDS
from pages.models import SyncRun
from tests.helpers import stored_state, sync

NEWEST = 25
DECODER_KINDS = ("giant_count", "deep_json")
PARSING_KINDS = tuple(kind for kind in KINDS if kind not in DECODER_KINDS)
KIND_SETS = [
    pytest.param(PARSING_KINDS, id="parsing-kinds"),
    pytest.param(True, id="all-kinds"),
]
# What a problem's reason says for each kind that cannot be stored.
PROBLEM_REASONS = {
    "long_conversation_id": "longer than",
    "long_message_id": "longer than",
    "long_contact_id": "longer than",
    "far_future_time": "outside 1970",
    "ancient_time": "outside 1970",
}
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def serve_odd_values(sandbox, page, kinds) -> dict:
    sandbox.sandbox.configure(odd_values=kinds)
    truth = sandbox.sandbox.truth(page.facebook_id)
    assert truth["odd"], "the switch serves odd values"
    return truth


def assert_handled(page, truth, problems, *, more=None):
    """Each conversation of `truth` is stored as Graph has it (the odd ones with their cleaned
    values), or, for an odd one that cannot be stored, listed in `problems` and absent."""
    more = more or {}
    odd = {entry["id"]: entry for entry in truth["odd"]}
    stored = [c for c in truth["conversations"] if odd.get(c["id"], {}).get("outcome") != "problem"]
    state = stored_state(page)

    assert {cid: folder for cid, (folder, _, _) in state["conversations"].items()} == {
        c["id"]: c["folder"] for c in stored
    }
    expected_events = []
    for conversation in stored:
        newest = conversation["message_ids"][: NEWEST + more.get(conversation["id"], 0)]
        assert state["messages"].get(conversation["id"], []) == newest
        expected_events += [conversation["id"], *newest]
    assert sorted(source_id for _, source_id in state["events"]) == sorted(expected_events)

    for entry in odd.values():
        if entry["outcome"] == "problem":
            reasons = [p["error"] for p in problems if entry["served_id"].startswith(p["id"])]
            assert reasons, f"{entry['kind']} is listed in the problems"
            assert PROBLEM_REASONS[entry["kind"]] in reasons[0]
        else:
            assert_stored_as_expected(entry)
    assert_nothing_unstorable_is_stored()


def assert_stored_as_expected(entry: dict) -> None:
    conversation = Conversation.objects.select_related("contact").get(facebook_id=entry["id"])
    expected = entry["expected"]
    for name in ("snippet", "message_count", "unread_count"):
        if name in expected:
            assert getattr(conversation, name) == expected[name], entry["kind"]
    if "contact_name" in expected:
        assert conversation.contact.name == expected["contact_name"], entry["kind"]
    if "message" in expected:
        message = Message.objects.get(facebook_id=expected["message"]["id"])
        if "text" in expected["message"]:
            assert message.text == expected["message"]["text"], entry["kind"]
        if "attachment" in expected["message"]:
            shown = [{"name": a.get("name"), "url": a.get("url")} for a in message.attachments]
            assert expected["message"]["attachment"] in shown, entry["kind"]


def assert_nothing_unstorable_is_stored() -> None:
    texts = [
        *Conversation.objects.values_list("snippet", flat=True),
        *Contact.objects.exclude(name=None).values_list("name", flat=True),
    ]
    for text, sender_name, attachments in Message.objects.values_list(
        "text", "sender_name", "attachments"
    ):
        texts += [text, sender_name or "", repr(attachments)]
    assert not [text for text in texts if UNSTORABLE.search(text)]


@pytest.mark.parametrize("kinds", KIND_SETS)
def test_full_sync_with_odd_values_completes_and_stores_or_lists_each(page, sandbox, kinds):
    truth = serve_odd_values(sandbox, page, kinds)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.current == len(truth["conversations"])
    problems = [entry for entry in truth["odd"] if entry["outcome"] == "problem"]
    assert run.inserted == len(truth["conversations"]) - len(problems)
    assert_handled(page, truth, run.problems)

    # Cleaned values are stable: a second walk finds nothing changed and the same problems.
    again = sync(page, full=True)

    assert again.status == SyncRun.Status.COMPLETE, again.error
    assert (again.inserted, again.updated, again.events) == (0, 0, 0)
    assert_handled(page, truth, again.problems)


@pytest.mark.parametrize("kinds", KIND_SETS)
def test_interrupted_sync_with_odd_values_resumes_to_completion(page, sandbox, kinds):
    truth = serve_odd_values(sandbox, page, kinds)
    stops = iter([False] * 30 + [True])

    first = sync(page, should_stop=lambda: next(stops, True))

    assert first.status == SyncRun.Status.INTERRUPTED, first.error
    assert 0 < first.current < len(truth["conversations"])

    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    # Counted once each, problems included, however the run was cut.
    assert resumed.current == len(truth["conversations"])
    assert_handled(page, truth, [*first.problems, *resumed.problems])


@pytest.mark.parametrize("kinds", KIND_SETS)
def test_incremental_sync_with_odd_values_completes(page, sandbox, kinds):
    truth = serve_odd_values(sandbox, page, kinds)
    full = sync(page)
    server = sandbox.sandbox
    kind_of = {entry["kind"]: entry for entry in truth["odd"]}
    odd_ids = {entry["id"] for entry in truth["odd"]}
    touched_stored = [kind_of[k]["id"] for k in ("nul_text", "surrogate_snippet", "huge_counts")]
    touched_problems = [kind_of[k]["id"] for k in ("far_future_time", "long_message_id")]
    normal = [c["id"] for c in truth["conversations"] if c["id"] not in odd_ids][:2]
    server.add_messages(
        page.facebook_id, conversation_ids=[*touched_stored, *touched_problems, *normal]
    )
    server.add_conversations(page.facebook_id, 3)

    run = sync(page)

    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert (run.inserted, run.updated) == (3, len(touched_stored) + len(normal))
    listed = {p["id"] for p in run.problems}
    for conversation_id in touched_problems:
        assert any(served_id_of(truth, conversation_id).startswith(p) for p in listed)
    truth = server.truth(page.facebook_id)
    added = dict.fromkeys([*touched_stored, *normal], 1)
    assert_handled(page, truth, [*full.problems, *run.problems], more=added)


def served_id_of(truth: dict, conversation_id: str) -> str:
    """The id a conversation is served under."""
    return next(e["served_id"] for e in truth["odd"] if e["id"] == conversation_id)
