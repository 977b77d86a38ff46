"""The engine under the real Graph's paging without cursors (issue 8, item 3).

Graph may page the messages edge, and conversation lists, with `paging.next` alone (`until`
and `__paging_token` in its URL, no `cursors`). Under each switch a full sync, an interrupted
and resumed sync and an incremental sync (a long thread whose new messages need paging) end
with the sandbox's truth, and what a resume trusts holds the paging parameters, never the token.
"""

from __future__ import annotations

import pytest

from conversations.models import Conversation
from pages.models import SyncRun
from tests.helpers import sync
from tests.pages.sync.real_graph import (
    PAGE_SIZE,
    interrupted_sync,
    requests_of,
    switched_sandbox,
)
from tests.truth import assert_matches_visible_truth, truth_of

LONG_THREAD = 160
NEW_IN_LONG_THREAD = 130  # more than the nested page and one page of older messages

SWITCHES = [
    pytest.param({"cursorless_messages": True}, id="messages"),
    pytest.param({"cursorless_conversations": True}, id="conversations"),
    pytest.param({"cursorless_messages": True, "cursorless_conversations": True}, id="both"),
]


def cursorless_sandbox(make_graph_sandbox, settings, switches) -> tuple:
    """A sandbox with `switches` and a long thread at the top of the inbox; returns (server,
    page, the long thread's id)."""
    server, page = switched_sandbox(make_graph_sandbox, settings, **switches)
    (long_thread,) = server.sandbox.add_conversations(page.facebook_id, 1, messages=LONG_THREAD)
    return server, page, long_thread


def assert_walked_every_page(server, page, truth) -> None:
    """Each folder's list was read page by page to its end (not its first page only)."""
    lists = [r for r in requests_of(server, page) if r["kind"] in ("conversations", "page")]
    pages_needed = sum(-(-n // PAGE_SIZE) for n in truth["totals"].values())
    assert len(lists) >= pages_needed - len(truth["totals"])


@pytest.mark.parametrize("switches", SWITCHES)
def test_full_sync_reads_every_page(make_graph_sandbox, settings, db, switches):
    server, page, _ = cursorless_sandbox(make_graph_sandbox, settings, switches)
    truth = truth_of(server, page)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.inserted == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)
    assert_walked_every_page(server, page, truth)


@pytest.mark.parametrize("switches", SWITCHES)
def test_interrupted_sync_resumes_from_the_saved_position(
    make_graph_sandbox, settings, db, switches
):
    server, page, _ = cursorless_sandbox(make_graph_sandbox, settings, switches)
    truth = truth_of(server, page)

    interrupted_sync(page, after=PAGE_SIZE + 5)

    page.refresh_from_db()
    saved = page.sync_checkpoint["after"]
    assert saved
    if switches.get("cursorless_conversations"):
        # The position is the paging parameters of `next`, never its access token.
        assert saved.startswith("?")
        assert "__paging_token=" in saved
        assert "until=" in saved
        assert "access_token" not in saved
        assert page.access_token not in saved
    assert Conversation.objects.count() == PAGE_SIZE + 5

    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    assert resumed.inserted == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)


@pytest.mark.parametrize("switches", SWITCHES)
def test_incremental_sync_pages_a_long_thread_to_its_known_messages(
    make_graph_sandbox, settings, db, switches
):
    server, page, long_thread = cursorless_sandbox(make_graph_sandbox, settings, switches)
    sandbox, page_id = server.sandbox, page.facebook_id
    assert sync(page).status == SyncRun.Status.COMPLETE
    more: dict[str, int] = {}

    def add_messages(per_conversation: int = 1, **which) -> None:
        for conversation_id in sandbox.add_messages(
            page_id, per_conversation=per_conversation, **which
        ):
            more[conversation_id] = more.get(conversation_id, 0) + per_conversation

    add_messages(NEW_IN_LONG_THREAD, conversation_ids=[long_thread])
    add_messages(2, n_conversations=12)  # more than a page of the inbox moves to its top
    sandbox.add_conversations(page_id, 3)
    sandbox.add_conversations(page_id, 2, folder="spam")
    truth = truth_of(server, page)
    sandbox.reset_stats()

    run = sync(page)

    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert (run.inserted, run.updated) == (5, len(more))
    assert_matches_visible_truth(page, truth, more=more)
    # 25 nested, then two pages of older messages (the second reaches a known one).
    assert sandbox.stats(page_id)["messages"] == 2

    # Stopped between two pages of the long thread's messages: that thread was not stored
    # half-read, and the resumed run reads it again to its known messages.
    add_messages(NEW_IN_LONG_THREAD, conversation_ids=[long_thread])
    add_messages(n_conversations=3)
    truth = truth_of(server, page)
    sandbox.reset_stats()

    interrupted_sync(page, when=lambda: sandbox.stats(page_id)["messages"] >= 1)
    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    assert resumed.mode == SyncRun.Mode.INCREMENTAL
    assert_matches_visible_truth(page, truth, more=more)
    assert sandbox.stats(page_id)["messages"] == 3
