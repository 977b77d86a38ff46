"""The sync engine against the Graph sandbox over real HTTP (in-process, fake time)."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings

from conversations.models import Contact, Conversation, InteractionEvent, Message
from conversations.parsing import parse_time
from pages.connect import connect_page
from pages.models import FacebookPage, SyncRun
from pages.sync.engine import FOLDERS
from pages.sync.runs import SyncAlreadyRunning, claim, create_run
from tests.helpers import (
    FakeTime,
    connect,
    point_settings_at,
    stored_state,
    sync,
    synced_page_with_new_messages,
)
from tests.truth import NEWEST, assert_matches_truth, expected_counts, truth_of


def test_full_sync_stores_every_conversation_of_every_folder_once(page, sandbox):
    truth = truth_of(sandbox, page)
    assert {c["folder"] for c in truth["conversations"]} == set(FOLDERS)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert_matches_truth(page, truth)
    expected = expected_counts(truth)
    assert (run.current, run.inserted, run.updated, run.skipped) == (
        expected["conversations"],
        expected["conversations"],
        0,
        0,
    )
    assert run.events == expected["events"] == InteractionEvent.objects.count()
    page.refresh_from_db()
    assert page.sync_checkpoint["status"] == "complete"
    assert page.sync_checkpoint["inserted"] == expected["conversations"]
    assert page.sync_checkpoint["eventsCreated"] == expected["events"]
    assert page.full_sync_completed_at is not None
    assert set(page.high_water_marks) == set(FOLDERS)


def test_full_sync_twice_writes_nothing_new(page, sandbox):
    sync(page)
    before = stored_state(page)

    again = sync(page, full=True)

    assert again.mode == SyncRun.Mode.FULL
    assert (again.inserted, again.updated, again.events) == (0, 0, 0)
    assert again.skipped == again.current == Conversation.objects.count()
    assert stored_state(page) == before


def test_full_sync_messages_are_chronological_with_direction(page, sandbox):
    sync(page)
    conversation = Conversation.objects.filter(message_count__gte=3).first()
    times = list(conversation.messages.values_list("created_time", flat=True))
    assert times == sorted(times)
    directions = set(Message.objects.values_list("direction", flat=True))
    assert directions == {"in", "out"}
    outbound = Message.objects.filter(direction="out").first()
    assert outbound.sender_id == page.facebook_id


def http_requests(stats) -> int:
    return stats["total"] - stats["batch_items"] + stats["batch"]


def below_folder_tops(truth) -> list[str]:
    """Conversations an incremental walk does not reach: older than their folder's top by
    more than the overlap, oldest first."""
    overlap = timedelta(seconds=django_settings.SYNC_INCREMENTAL_OVERLAP_SECONDS)
    tops: dict[str, datetime] = {}
    for c in truth["conversations"]:
        updated = parse_time(c["updated_time"])
        tops[c["folder"]] = max(tops.get(c["folder"], updated), updated)
    old = [
        c
        for c in truth["conversations"]
        if parse_time(c["updated_time"]) < tops[c["folder"]] - overlap * 2
    ]
    return [c["id"] for c in sorted(old, key=lambda c: parse_time(c["updated_time"]))]


def test_incremental_sync_on_day_two_counts_exactly_and_uses_few_calls(
    make_graph_sandbox, settings, db
):
    sandbox = make_graph_sandbox(conversations=800, seed=21)
    point_settings_at(settings, sandbox)
    page = connect(sandbox)
    full = sync(page)
    server = sandbox.sandbox
    server.add_conversations(page.facebook_id, 30)
    touched = server.add_messages(page.facebook_id, n_conversations=40, per_conversation=2)
    renamed_walked = server.rename_participant(page.facebook_id, conversation_ids=touched[:2])
    renamed_unwalked = server.rename_participant(
        page.facebook_id, conversation_ids=below_folder_tops(server.truth(page.facebook_id))[:3]
    )
    server.reset_stats()

    run = sync(page)

    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert run.status == SyncRun.Status.COMPLETE
    assert (run.inserted, run.updated) == (30, 40)
    incremental_calls = http_requests(server.stats(page.facebook_id))
    assert incremental_calls < full.graph_calls / 3
    for conversation_id in touched:
        stored = Message.objects.filter(conversation__facebook_id=conversation_id)
        truth = next(
            c for c in server.truth(page.facebook_id)["conversations"] if c["id"] == conversation_id
        )
        assert (
            list(stored.order_by("-created_time", "-id").values_list("facebook_id", flat=True))[:2]
            == truth["message_ids"][:2]
        )
    names = dict(Contact.objects.values_list("conversations__facebook_id", "name"))
    for conversation_id, name in renamed_walked:
        assert names[conversation_id] == name
    for conversation_id, name in renamed_unwalked:
        assert names[conversation_id] != name

    full_again = sync(page, full=True)
    names = dict(Contact.objects.values_list("conversations__facebook_id", "name"))
    for conversation_id, name in renamed_unwalked:
        assert names[conversation_id] == name
    assert (full_again.inserted, full_again.updated) == (0, 3)


def test_incremental_sync_of_unchanged_page_is_one_request(page, sandbox):
    sync(page)
    sandbox.sandbox.reset_stats()

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert (run.inserted, run.updated) == (0, 0)
    stats = sandbox.sandbox.stats(page.facebook_id)
    # Two calls: the tops of all folders (the conversations edge expanded per folder on the
    # Page node), then the closing pass over them.
    assert (stats["page"], stats["conversations"], stats["batch"], stats["total"]) == (2, 0, 0, 2)


def test_incremental_sync_falls_back_to_a_batch_when_expansion_is_refused(page, sandbox):
    sync(page)
    sandbox.sandbox.reset_stats()
    sandbox.sandbox.inject("object_error", endpoint="page")

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert (run.inserted, run.updated) == (0, 0)
    stats = sandbox.sandbox.stats(page.facebook_id)
    # The refused call, one round trip with five batched list calls, the closing pass.
    assert (stats["page"], stats["batch"], stats["batch_items"]) == (2, 1, 5)


def test_conversations_moved_to_top_during_sync_are_neither_lost_nor_duplicated(
    make_graph_sandbox, settings, db
):
    server = make_graph_sandbox(conversations=120, seed=3)
    point_settings_at(settings, server)
    page = connect(server)
    settings.SYNC_PAGE_SIZE = 10
    inbox = [c["id"] for c in server.sandbox.truth(page.facebook_id)["conversations"]]
    moved: list[str] = []

    def move_some(progress):
        if progress.current == 15 and not moved:
            # Two already walked and three not yet reached jump to the top.
            walked = list(Conversation.objects.values_list("facebook_id", flat=True)[:2])
            pending = [c for c in inbox if c not in set(walked)][-3:]
            moved.extend(walked)
            server.sandbox.add_messages(page.facebook_id, conversation_ids=walked + pending)

    run = sync(page, on_progress=move_some)

    assert len(moved) == 2
    assert run.status == SyncRun.Status.COMPLETE
    truth = server.sandbox.truth(page.facebook_id)
    # Walked ones keep the 25 messages stored first plus the new one.
    assert_matches_truth(page, truth, more=dict.fromkeys(moved, 1))
    assert run.inserted == len(truth["conversations"]) == Conversation.objects.count()
    assert run.events == InteractionEvent.objects.count()


def test_transient_faults_complete_with_the_right_data(make_graph_sandbox, settings, db):
    server = make_graph_sandbox(conversations=60, seed=7, transient_error_rate=0.2)
    point_settings_at(settings, server)
    page = connect(server)
    settings.FACEBOOK_MAX_RETRIES = 8
    time = FakeTime()

    run = sync(page, fake_time=time)

    assert run.status == SyncRun.Status.COMPLETE
    assert server.sandbox.stats()["errors"] > 0
    assert time.sleeps  # it backed off
    assert_matches_truth(page, server.sandbox.truth(page.facebook_id))


def test_too_much_data_asks_for_smaller_pages_and_completes(page, sandbox, settings):
    # 100 conversations × 50 nested messages is more than Graph serves in one answer: it
    # says code 1, "please reduce the amount of data you're asking for", however often asked.
    settings.SYNC_PAGE_SIZE = 100
    settings.SYNC_MESSAGES_PER_CONVERSATION = 50
    settings.FACEBOOK_MAX_RETRIES = 2

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert_matches_truth(page, truth_of(sandbox, page), newest=50)
    lists = [r for r in sandbox.sandbox.stats()["requests"] if r["kind"] == "conversations"]
    assert {r["params"]["limit"] for r in lists if r["error_code"] == 1} == {"100"}
    assert {r["params"]["limit"] for r in lists if r["error_code"] is None} == {"50"}


@pytest.mark.parametrize("code", [4, 17, 32, 341, 613, 80001, 80006])
def test_rate_limit_error_waits_as_told_and_continues(page, sandbox, code):
    sandbox.sandbox.inject("rate_limit", code=code, estimated_minutes=3, after_calls=2)
    time = FakeTime()

    run = sync(page, fake_time=time)

    assert run.status == SyncRun.Status.COMPLETE
    assert time.slept == 180
    assert_matches_truth(page, sandbox.sandbox.truth(page.facebook_id))


def test_token_expiry_stops_at_once_keeps_checkpoint_and_resumes_after_reconnect(page, sandbox):
    server = sandbox.sandbox
    server.inject("token_expired", after_calls=2)

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert "reconnect" in run.error.lower()
    assert page.access_token not in run.error
    assert server.stats(page.facebook_id)["total"] == 3  # no call after the refused one
    page.refresh_from_db()
    assert page.token_status == FacebookPage.TokenStatus.NEEDS_RECONNECT
    saved = page.sync_checkpoint
    assert saved["status"] == "failed"
    assert saved["current"] == run.current > 0

    server.set_token(page.facebook_id, "EAAB-new-token")
    connect_page(page.facebook_id, "EAAB-new-token")
    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE
    assert resumed.resumed
    truth = server.truth(page.facebook_id)
    assert resumed.inserted == len(truth["conversations"])
    assert_matches_truth(page, truth)


def test_stop_flag_interrupts_between_conversations_and_resume_completes(page, sandbox):
    truth = truth_of(sandbox, page)
    stops = iter([False] * 20 + [True])

    run = sync(page, should_stop=lambda: next(stops, True))

    assert run.status == SyncRun.Status.INTERRUPTED
    assert 0 < run.current < len(truth["conversations"])
    assert Conversation.objects.count() == run.current

    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE
    assert resumed.inserted == len(truth["conversations"])
    assert resumed.events == expected_counts(truth)["events"]
    assert_matches_truth(page, truth)


@pytest.mark.parametrize(
    "kind", ["invalid_json", "html_200", "server_error_html", "drop_connection"]
)
def test_garbage_response_is_retried(page, sandbox, kind):
    sandbox.sandbox.inject(kind, count=2, after_calls=1)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert_matches_truth(page, sandbox.sandbox.truth(page.facebook_id))


def test_persistent_garbage_fails_clearly_and_writes_nothing(page, sandbox, settings):
    settings.FACEBOOK_MAX_RETRIES = 3
    sandbox.sandbox.inject("invalid_json", count=None)

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert "not JSON" in run.error
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0


def test_unreadable_conversation_is_recorded_and_skipped(make_graph_sandbox, settings, db):
    server = make_graph_sandbox(conversations=60, seed=7)
    page, long_thread = synced_page_with_new_messages(server, settings, in_thread_of=61, new=30)
    server.sandbox.inject("object_error", object_id=long_thread["id"], count=10)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert [p["id"] for p in run.problems] == [long_thread["id"]]
    assert run.skipped >= 1


def test_long_thread_pages_until_a_known_message(make_graph_sandbox, settings, db):
    server = make_graph_sandbox(conversations=60, seed=7)
    page, long_thread = synced_page_with_new_messages(server, settings, in_thread_of=200, new=40)

    run = sync(page)

    assert run.updated == 1
    new_truth = next(
        c
        for c in server.sandbox.truth(page.facebook_id)["conversations"]
        if c["id"] == long_thread["id"]
    )
    stored = list(
        Message.objects.filter(conversation__facebook_id=long_thread["id"])
        .order_by("-created_time", "-id")
        .values_list("facebook_id", flat=True)
    )
    assert stored == new_truth["message_ids"][: 40 + NEWEST]
    assert server.sandbox.stats(page.facebook_id)["messages"] == 1


def test_second_sync_while_one_is_active_is_refused(page, sandbox):
    first = create_run(page, trigger=SyncRun.Trigger.COMMAND)
    claim(first)
    with pytest.raises(SyncAlreadyRunning) as refused:
        create_run(page, trigger=SyncRun.Trigger.WEB)
    assert refused.value.run == first
    assert SyncRun.objects.count() == 1
