"""The engine under a field Graph removed (issue 8, item 4).

Meta removes fields between versions: Graph then refuses every call asking for one ("(#100)
Tried accessing nonexisting field"). A sync drops the field, asks again, records the field on
the Page and goes on; a field it cannot do without (ids, times) fails the run with a clear
message instead. Under each removed field a full sync, an interrupted and resumed sync and an
incremental sync end with the sandbox's truth.
"""

from __future__ import annotations

import pytest

from conversations.models import Contact, Conversation, Message
from pages.models import SyncRun
from pages.sync.findings import degraded_fields
from tests.helpers import sync
from tests.pages.sync.real_graph import (
    http_requests,
    interrupted_sync,
    requests_of,
    switched_sandbox,
)
from tests.truth import assert_matches_visible_truth, truth_of

LONG_THREAD = 160
NEW_IN_LONG_THREAD = 130

# The removed field as the switch names it, and as the Page records it.
REMOVED = [
    pytest.param("snippet", "snippet", id="snippet"),
    pytest.param("UnifiedThread.participants", "participants", id="participants"),
    pytest.param("Message.message", "message", id="message-text"),
]


def assert_degraded_as_graph_is(field: str) -> None:
    """What the removed field held is absent, and only that."""
    if field == "snippet":
        assert set(Conversation.objects.values_list("snippet", flat=True)) == {""}
    else:
        assert Conversation.objects.exclude(snippet="").exists()
    if field == "message":
        assert set(Message.objects.values_list("text", flat=True)) == {""}
    else:
        assert Message.objects.exclude(text="").exists()


def removed_field_sandbox(make_graph_sandbox, settings, removed: str) -> tuple:
    server, page = switched_sandbox(make_graph_sandbox, settings, removed_fields=[removed])
    (long_thread,) = server.sandbox.add_conversations(page.facebook_id, 1, messages=LONG_THREAD)
    return server, page, long_thread


@pytest.mark.parametrize(("removed", "field"), REMOVED)
def test_full_sync_drops_the_field_and_completes(make_graph_sandbox, settings, db, removed, field):
    server, page, _ = removed_field_sandbox(make_graph_sandbox, settings, removed)
    truth = truth_of(server, page)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.inserted == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)
    assert_degraded_as_graph_is(field)
    page.refresh_from_db()
    assert degraded_fields(page) == [field]
    # Refused once, then asked without it.
    assert len([r for r in requests_of(server, page) if r["error_code"] == 100]) == 1

    again = sync(page)

    assert again.status == SyncRun.Status.COMPLETE, again.error
    assert (again.inserted, again.updated, again.events) == (0, 0, 0)
    assert_matches_visible_truth(page, truth)


@pytest.mark.parametrize(
    "removed",
    [
        pytest.param(None, id="no-field-removed"),
        pytest.param("UnifiedThread.participants", id="participants-removed"),
    ],
)
def test_each_conversation_keeps_its_person(make_graph_sandbox, settings, db, removed):
    server, page = switched_sandbox(
        make_graph_sandbox, settings, removed_fields=[removed] if removed else []
    )
    truth = truth_of(server, page)

    assert sync(page).status == SyncRun.Status.COMPLETE

    people = {
        c.facebook_id: (c.contact.psid, c.contact.name) if c.contact else None
        for c in Conversation.objects.select_related("contact")
    }
    # Graph still names the person in each message's from/to.
    assert people == {
        c["id"]: (c["participant"]["id"], c["participant"]["name"]) for c in truth["conversations"]
    }
    assert Contact.objects.count() == len(truth["conversations"])


@pytest.mark.parametrize(("removed", "field"), REMOVED)
def test_interrupted_sync_resumes_without_the_field(
    make_graph_sandbox, settings, db, removed, field
):
    server, page, _ = removed_field_sandbox(make_graph_sandbox, settings, removed)
    truth = truth_of(server, page)

    interrupted_sync(page, after=15)
    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    assert resumed.inserted == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)
    assert_degraded_as_graph_is(field)
    page.refresh_from_db()
    assert degraded_fields(page) == [field]


@pytest.mark.parametrize(("removed", "field"), REMOVED)
def test_incremental_sync_without_the_field(make_graph_sandbox, settings, db, removed, field):
    server, page, long_thread = removed_field_sandbox(make_graph_sandbox, settings, removed)
    sandbox, page_id = server.sandbox, page.facebook_id
    assert sync(page).status == SyncRun.Status.COMPLETE
    sandbox.add_messages(page_id, conversation_ids=[long_thread], per_conversation=130)
    touched = sandbox.add_messages(page_id, n_conversations=5)
    sandbox.add_conversations(page_id, 3)
    truth = truth_of(server, page)
    sandbox.reset_stats()

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert (run.inserted, run.updated) == (3, 6)
    assert_matches_visible_truth(
        page, truth, more={long_thread: NEW_IN_LONG_THREAD, **dict.fromkeys(touched, 1)}
    )
    assert_degraded_as_graph_is(field)
    assert sandbox.stats(page_id)["messages"] == 2
    page.refresh_from_db()
    assert degraded_fields(page) == [field]


@pytest.mark.parametrize(("removed", "field"), REMOVED)
def test_a_later_run_does_not_ask_for_a_removed_field_again(
    make_graph_sandbox, settings, db, removed, field
):
    server, page, _ = removed_field_sandbox(make_graph_sandbox, settings, removed)
    assert sync(page).status == SyncRun.Status.COMPLETE
    server.sandbox.reset_stats()

    again = sync(page)

    assert again.status == SyncRun.Status.COMPLETE, again.error
    assert [r for r in requests_of(server, page) if r["error_code"]] == []
    assert http_requests(server, page) <= 2


@pytest.mark.parametrize(
    "removed", ["updated_time", "UnifiedThread.updated_time", "Message.created_time", "id"]
)
def test_a_required_field_removed_fails_the_run_clearly(make_graph_sandbox, settings, db, removed):
    server, page = switched_sandbox(make_graph_sandbox, settings, removed_fields=[removed])
    field = removed.rsplit(".", 1)[-1]

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert f"no longer returns the field {field!r}" in run.error
    assert Conversation.objects.count() == 0
    page.refresh_from_db()
    assert degraded_fields(page) == []
