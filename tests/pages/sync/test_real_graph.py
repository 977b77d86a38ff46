"""The engine under the real Graph's folder behaviours (issue 8, items 1 and 2).

Graph leaves an empty expanded edge out of its node, refuses some folder values (#100) and may
silently ignore one (answering with the inbox). Under each switch of the sandbox a full sync,
an interrupted and resumed sync and an incremental sync end with the sandbox's truth: every
conversation Graph lists stored once in its folder, nothing filed under a refused or ignored
folder, the folder recorded on the Page, and later runs still cheap (no call Graph refuses).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conversations.models import Conversation
from pages.models import SyncRun
from pages.sync.checkpoint import FOLDERS
from pages.sync.findings import unavailable_folders
from tests.helpers import sync
from tests.pages.sync.real_graph import (
    before_folder,
    http_requests,
    interrupted_sync,
    requests_of,
    switched_sandbox,
)
from tests.truth import assert_matches_visible_truth, truth_of

LONG_THREAD = 160  # messages of a thread made before the first sync
NEW_IN_LONG_THREAD = 130  # more than the nested page and one page of older messages


@dataclass(frozen=True)
class Case:
    switches: dict
    unavailable: dict[str, str] = field(default_factory=dict)
    empty: tuple[str, ...] = ()  # folders emptied before the first sync
    # The folder a resume test stops before (the one the switch is about).
    stop_before: str = "pending"


CASES = {
    "omitted-empty-edges": Case(
        {"omit_empty_edges": True}, empty=("pending", "spam"), stop_before="pending"
    ),
    "refused-spam": Case({"refused_folders": ["spam"]}, {"spam": "refused"}, stop_before="spam"),
    "refused-page_done": Case(
        {"refused_folders": ["page_done"]}, {"page_done": "refused"}, stop_before="page_done"
    ),
    "ignored-pending": Case({"ignored_folders": ["pending"]}, {"pending": "ignored"}),
    "all-together": Case(
        {"omit_empty_edges": True, "refused_folders": ["spam"], "ignored_folders": ["pending"]},
        {"spam": "refused", "pending": "ignored"},
        empty=("other",),
    ),
}
CASE_PARAMS = [pytest.param(case, id=name) for name, case in CASES.items()]


def prepared(make_graph_sandbox, settings, case: Case) -> tuple:
    """A sandbox with the case's switches, its empty folders emptied, a long thread at the top
    of the inbox and, when empty edges are left out, a thread with no messages left. Returns
    (server, page, every conversation by folder as Graph holds them, hidden ones included)."""
    server, page = switched_sandbox(make_graph_sandbox, settings)
    sandbox, page_id = server.sandbox, page.facebook_id
    for conversation in sandbox.truth(page_id)["conversations"]:
        if conversation["folder"] in case.empty:
            sandbox.move_folder(page_id, conversation["id"], "inbox")
    if case.switches.get("omit_empty_edges"):
        sandbox.add_conversations(page_id, 1, messages=0)
    sandbox.add_conversations(page_id, 1, messages=LONG_THREAD)
    held: dict[str, list[str]] = {}
    for conversation in sandbox.truth(page_id)["conversations"]:
        held.setdefault(conversation["folder"], []).append(conversation["id"])
    assert not set(case.empty) & set(held)
    sandbox.configure(**case.switches)
    return server, page, held


def marked_folders(truth) -> set[str]:
    """The folders a complete run stores a high-water mark for: those Graph lists threads of."""
    return {c["folder"] for c in truth["conversations"]}


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_full_sync_then_an_unchanged_incremental_one(make_graph_sandbox, settings, db, case):
    server, page, _ = prepared(make_graph_sandbox, settings, case)
    truth = truth_of(server, page)
    assert truth["hidden_folders"] == case.unavailable

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.inserted == run.current == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)
    page.refresh_from_db()
    assert unavailable_folders(page) == case.unavailable
    # No mark for a folder Graph does not list (an ignored one would carry the inbox's top).
    assert set(page.high_water_marks) == marked_folders(truth)

    server.sandbox.reset_stats()
    again = sync(page)

    assert again.mode == SyncRun.Mode.INCREMENTAL
    assert again.status == SyncRun.Status.COMPLETE, again.error
    assert (again.inserted, again.updated, again.events) == (0, 0, 0)
    requests = requests_of(server, page)
    # What was learned is used: the one-call tops leave a refused folder out (with it, the
    # whole call fails), so they are not refused again. A refused folder's own list is asked
    # once more (Graph may accept it again), and refused again; nothing else is refused.
    refused = {f for f, state in case.unavailable.items() if state == "refused"}
    assert [r for r in requests if r["kind"] == "page" and r["error_code"]] == []
    assert sorted(r["params"].get("folder") for r in requests if r["error_code"]) == sorted(refused)
    assert http_requests(server, page) <= 2 + len(refused)
    assert_matches_visible_truth(page, truth)
    page.refresh_from_db()
    assert unavailable_folders(page) == case.unavailable


@pytest.mark.parametrize("case", CASE_PARAMS)
@pytest.mark.parametrize("stop", ["mid-inbox", "before-the-folder"])
def test_interrupted_sync_resumes_to_the_truth(make_graph_sandbox, settings, db, case, stop):
    server, page, _ = prepared(make_graph_sandbox, settings, case)
    truth = truth_of(server, page)
    after = 15 if stop == "mid-inbox" else before_folder(truth, case.stop_before)

    first = interrupted_sync(page, after=after)

    assert first.current == after
    assert Conversation.objects.count() == after

    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    assert resumed.resumed
    assert resumed.inserted == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)
    page.refresh_from_db()
    assert unavailable_folders(page) == case.unavailable
    assert set(page.high_water_marks) == marked_folders(truth)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_incremental_sync_after_new_messages(make_graph_sandbox, settings, db, case):
    server, page, held = prepared(make_graph_sandbox, settings, case)
    sandbox, page_id = server.sandbox, page.facebook_id
    assert sync(page).status == SyncRun.Status.COMPLETE
    long_thread = next(
        c["id"]
        for c in truth_of(server, page)["conversations"]
        if len(c["message_ids"]) == LONG_THREAD
    )
    # New messages in the long thread, in older inbox threads and in one thread of every
    # folder (those Graph hides too); new threads in every folder, the empty ones included.
    more: dict[str, int] = {}

    def add_messages(per_conversation: int = 1, **which) -> None:
        for conversation_id in sandbox.add_messages(
            page_id, per_conversation=per_conversation, **which
        ):
            more[conversation_id] = more.get(conversation_id, 0) + per_conversation

    add_messages(NEW_IN_LONG_THREAD, conversation_ids=[long_thread])
    add_messages(n_conversations=5)
    for folder in FOLDERS:
        if held.get(folder):
            add_messages(conversation_ids=held[folder][-1:])
        sandbox.add_conversations(page_id, 2, folder=folder)
    truth = truth_of(server, page)
    sandbox.reset_stats()

    run = sync(page)

    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert run.status == SyncRun.Status.COMPLETE, run.error
    visible = {c["id"] for c in truth["conversations"]}
    assert run.inserted == 2 * len(marked_folders(truth))
    assert run.updated == len(set(more) & visible)
    assert_matches_visible_truth(page, truth, more=more)
    # The long thread's new messages were paged (25 nested, then pages of 100).
    assert server.sandbox.stats(page_id)["messages"] == 2
    page.refresh_from_db()
    assert unavailable_folders(page) == case.unavailable

    # An incremental run stopped half-way resumes to the truth too.
    add_messages(2, n_conversations=4)
    sandbox.add_conversations(page_id, 3)
    truth = truth_of(server, page)

    interrupted_sync(page, after=3)
    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    assert resumed.mode == SyncRun.Mode.INCREMENTAL
    assert_matches_visible_truth(page, truth, more=more)
    page.refresh_from_db()
    assert unavailable_folders(page) == case.unavailable
