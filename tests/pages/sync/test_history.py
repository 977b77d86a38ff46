"""The history backfill (pages.sync.history) against the sandbox: whole threads of every size,
resumable per page of messages, where and why history ended, second to the main sync."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, InteractionEvent, Message
from pages.models import SyncRun
from pages.schedule import resume_reaped_runs
from pages.sync import runs
from pages.sync.controls import RunControls
from pages.sync.history import run_history
from pages.sync.runs import Start, SyncAlreadyRunning, create_run
from pages.tasks import queue_history_after
from tests.helpers import FakeTime, connect, point_settings_at, stored_state, sync

ENDS = Conversation.HistoryEnd


def backfill(page, *, should_stop=None, sleep=None, park_after_seconds=None) -> SyncRun:
    """Create, claim and run a history run in-process, as the harness does."""
    page.refresh_from_db()
    run = create_run(page, trigger=SyncRun.Trigger.COMMAND, mode=Start.HISTORY)
    assert runs.claim(run)
    fake = FakeTime()
    controls = RunControls(
        sleep=sleep or fake.sleep,
        clock=fake.clock,
        should_stop=should_stop or (lambda: False),
        park_after_seconds=park_after_seconds,
    )
    return run_history(run, controls)


@pytest.fixture
def threads(make_graph_sandbox, settings, db):
    """A Page with threads of exactly 1, 25, 26 and 2,000 messages, synced once."""
    server = make_graph_sandbox(conversations=0, seed=3)
    point_settings_at(settings, server)
    page = connect(server)
    server.sandbox.add_threads(page.facebook_id, [1, 25, 26, 2000], span_days=200)
    assert sync(page).status == SyncRun.Status.COMPLETE
    return server, page


def whole_truth(server, page) -> dict[str, list[str]]:
    """Every message of every conversation Graph has, newest first."""
    return {
        c["id"]: c["message_ids"] for c in server.sandbox.truth(page.facebook_id)["conversations"]
    }


def test_threads_of_1_25_26_and_2000_messages_are_stored_whole(threads):
    server, page = threads
    truth = whole_truth(server, page)
    assert sorted(len(ids) for ids in truth.values()) == [1, 25, 26, 2000]
    # The sync stored the newest 25 of each.
    assert Message.objects.count() == 1 + 25 + 25 + 25

    run = backfill(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert stored_state(page)["messages"] == truth
    assert (run.current, run.total, run.inserted) == (4, 4, 1 + 1975)
    # Threads of 1 and 25 were whole already (no call); 26: one page of 100; 2,000: 20.
    assert run.graph_calls == 1 + 20
    # The pages read again what the sync had stored: not stored twice, counted.
    assert run.duplicates_prevented == 25 + 25
    assert set(Conversation.objects.values_list("history_complete", "history_end")) == {
        (True, ENDS.FIRST_MESSAGE)
    }
    assert "4 of 4 conversations (4 reached their first message)" in run_summary(page)


def run_summary(page) -> str:
    page.refresh_from_db()
    return page.history_checkpoint["message"]


def test_backfilled_events_are_marked_and_the_conversation_starts_at_its_first_message(threads):
    server, page = threads
    long = Conversation.objects.get(message_count=2000)
    started = InteractionEvent.objects.get(kind="conversation_started", source_id=long.facebook_id)
    newest_25_start = started.occurred_at

    backfill(page)

    events = InteractionEvent.objects.exclude(kind="conversation_started")
    assert events.count() == Message.objects.count() == 2052
    assert events.filter(backfill=True).count() == 1 + 1975
    assert set(events.filter(backfill=True).values_list("source_id", flat=True)).isdisjoint(
        set(events.filter(backfill=False).values_list("source_id", flat=True))
    )
    started.refresh_from_db()
    first = Message.objects.filter(conversation=long).order_by("created_time").first()
    assert started.occurred_at == first.created_time < newest_25_start


def test_a_stopped_backfill_resumes_at_the_page_in_flight_without_duplicates(threads):
    server, page = threads
    truth = whole_truth(server, page)
    calls = {"n": 0}

    def stop_after_five_pages() -> bool:
        calls["n"] += 1
        return calls["n"] > 8

    stopped = backfill(page, should_stop=stop_after_five_pages)

    assert stopped.status == SyncRun.Status.INTERRUPTED
    long = Conversation.objects.get(message_count=2000)
    assert not long.history_complete
    assert long.history_after
    held = Message.objects.filter(conversation=long).count()
    assert 25 < held < 2000
    server.sandbox.reset_stats()

    resumed = backfill(page)

    assert resumed.status == SyncRun.Status.COMPLETE
    assert stored_state(page)["messages"] == truth
    # It went on from the saved position: not from the top of the thread.
    assert resumed.graph_calls == 20 - held // 100  # pages of 100 from the top
    assert resumed.duplicates_prevented == 0
    assert InteractionEvent.objects.exclude(kind="conversation_started").count() == 2052


def test_the_page_retention_ends_history_at_its_horizon(threads):
    server, page = threads
    page.retention_days = 30
    page.save(update_fields=["retention_days"])
    horizon = timezone.now() - timedelta(days=30)

    run = backfill(page)

    assert run.status == SyncRun.Status.COMPLETE
    long = Conversation.objects.get(message_count=2000)
    assert long.history_end == ENDS.RETENTION
    kept = Message.objects.filter(conversation=long)
    # Spread over 200 days: about 30 days' worth (a page's margin), nothing older.
    assert 250 <= kept.count() <= 320
    assert not kept.filter(created_time__lt=horizon - timedelta(minutes=1)).exists()


def test_the_backfill_waits_while_a_main_run_of_the_page_works(threads):
    server, page = threads
    main = create_run(page, trigger=SyncRun.Trigger.WEB)
    assert runs.claim(main)
    server.sandbox.reset_stats()
    waits = []

    def sleep(seconds: float) -> None:
        # While it waits, it makes no call; the main run ends after a few waits.
        waits.append(len(server.sandbox.stats()["requests"]))
        if len(waits) == 3:
            runs.finish(main, SyncRun.Status.COMPLETE, message="done")

    run = backfill(page, sleep=sleep)

    assert waits == [0, 0, 0]
    assert run.status == SyncRun.Status.COMPLETE
    assert Message.objects.count() == 2052


def test_a_backfill_in_a_worker_steps_aside_for_a_main_run_waiting_for_a_worker(threads):
    server, page = threads
    queued = create_run(page, trigger=SyncRun.Trigger.SCHEDULE)  # no worker has taken it
    server.sandbox.reset_stats()

    run = backfill(page, park_after_seconds=60)

    assert run.status == SyncRun.Status.PAUSED
    assert run.error.startswith("Waiting for the Page's sync")
    assert timedelta(0) < run.resume_at - timezone.now() <= timedelta(seconds=6)
    assert server.sandbox.stats()["requests"] == []
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.QUEUED


def test_history_runs_beside_a_main_run_but_never_twice(threads):
    server, page = threads
    main = create_run(page, trigger=SyncRun.Trigger.WEB)
    history = create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.HISTORY)
    with pytest.raises(SyncAlreadyRunning, match="history fetch"):
        create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.HISTORY)
    with pytest.raises(SyncAlreadyRunning, match="A sync of this page"):
        create_run(page, trigger=SyncRun.Trigger.WEB)

    runs.request_cancel(page, background=True)

    main.refresh_from_db()
    history.refresh_from_db()
    assert (main.status, history.status) == (SyncRun.Status.QUEUED, SyncRun.Status.CANCELLED)


def test_a_completed_sync_queues_the_history_of_a_page_that_fetches_it(threads, settings):
    server, page = threads
    completed = page.sync_runs.get()
    assert queue_history_after(completed) is None  # the Page does not fetch history

    page.fetch_history = True
    page.save(update_fields=["fetch_history"])
    queued = queue_history_after(completed)

    assert queued is not None
    assert queued.mode == SyncRun.Mode.HISTORY
    assert queue_history_after(completed) is None  # one is queued already
    queued.delete()
    backfill(page)
    assert queue_history_after(completed) is None  # nothing left to fetch


def test_a_thread_graph_no_longer_has_ends_and_the_others_go_on(threads):
    server, page = threads
    gone = Conversation.objects.get(message_count=26)
    server.sandbox.inject("object_error", count=None, object_id=gone.facebook_id)

    run = backfill(page)

    assert run.status == SyncRun.Status.COMPLETE
    gone.refresh_from_db()
    assert (gone.history_complete, gone.history_end) == (True, ENDS.GRAPH_STOPPED)
    assert Message.objects.filter(conversation__message_count=2000).count() == 2000


def test_the_activity_screen_can_leave_out_backfilled_events(threads, staff_client):
    server, page = threads
    backfill(page)
    url = f"/conversations/activity/{page.pk}/"

    everything = staff_client.get(url).content.decode()
    without = staff_client.get(url, {"history": "hide"}).content.decode()

    assert "1,976 of these events are older messages fetched with the full history" in everything
    assert 'data-total="grid">2056<' in everything  # 2,052 messages and 4 starts
    assert 'data-total="grid">80<' in without  # 76 synced messages and 4 starts
    assert "Leaving out 1,976 events" in without


def test_a_thread_screen_says_how_much_of_its_history_is_stored(threads, staff_client):
    server, page = threads
    long = Conversation.objects.get(message_count=2000)
    url = f"/conversations/{long.pk}/"

    before = staff_client.get(url).content.decode()
    short = Conversation.objects.get(message_count=1)
    whole_before_backfill = staff_client.get(f"/conversations/{short.pk}/").content.decode()
    backfill(page)
    after = staff_client.get(url).content.decode()

    assert "25 stored of 2000 on Facebook" in before
    assert "The newest messages only" in before
    assert "Every message Facebook counts is stored" in whole_before_backfill
    assert "2000 stored" in after
    assert "on Facebook" not in after.split("2000 stored")[1][:30]
    assert "Reached the first message" in after, after[after.find("thread-history") - 20 :][:300]


def test_a_backfill_reaped_during_a_stall_writes_nothing_more(threads):
    server, page = threads
    held_before = {}

    def stall_then_get_reaped(seconds: float) -> None:
        # The Page's main run keeps the backfill waiting; meanwhile it is taken for dead.
        run = page.sync_runs.get(mode="history")
        held_before["messages"] = Message.objects.count()
        assert runs.move(run.pk, "reap", SyncRun.Status.INTERRUPTED)
        runs.finish(main, SyncRun.Status.COMPLETE, message="done")

    messages_before = Message.objects.count()
    main = create_run(page, trigger=SyncRun.Trigger.WEB)
    assert runs.claim(main)

    run = backfill(page, sleep=stall_then_get_reaped)

    assert run.status == SyncRun.Status.INTERRUPTED
    assert Message.objects.count() == messages_before == held_before["messages"]
    # Threads held whole (1 and 25 messages) were marked before it waited; no other.
    assert set(
        Conversation.objects.filter(history_complete=True).values_list("message_count", flat=True)
    ) == {1, 25}


def test_housekeeping_resumes_a_reaped_backfill_of_a_worker(threads, settings):
    server, page = threads
    reaped = create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.HISTORY)
    assert runs.claim(reaped)
    SyncRun.objects.filter(pk=reaped.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    resumed = resume_reaped_runs()

    assert [r.mode for r in resumed] == [SyncRun.Mode.HISTORY]
    reaped.refresh_from_db()
    assert reaped.status == SyncRun.Status.INTERRUPTED
    assert reaped.reaped_at


def test_where_graph_keeps_no_older_messages_the_thread_ends_and_says_why(threads):
    server, page = threads
    server.sandbox.configure(history_horizon_messages=700)

    run = backfill(page)

    assert run.status == SyncRun.Status.COMPLETE
    ends = dict(Conversation.objects.values_list("message_count", "history_end"))
    assert ends == {
        1: ENDS.FIRST_MESSAGE,
        25: ENDS.FIRST_MESSAGE,
        26: ENDS.FIRST_MESSAGE,
        2000: ENDS.GRAPH_STOPPED,
    }
    # What Graph still gives is stored whole: the newest 700 of the long thread.
    assert stored_state(page)["messages"] == whole_truth(server, page)
    assert Message.objects.filter(conversation__message_count=2000).count() == 700
    assert "1 where Facebook returned no older messages" in run_summary(page)


def test_the_admin_queues_a_history_fetch_and_shows_its_progress(threads, admin_client):
    server, page = threads
    backfill(page)
    changelist = "/admin/pages/facebookpage/"

    answer = admin_client.post(
        changelist, {"action": "fetch_full_history", "_selected_action": [page.pk]}, follow=True
    )
    detail = admin_client.get(f"{changelist}{page.pk}/change/").content.decode()

    assert "Queued 1 sync(s)." in answer.content.decode()
    assert page.sync_runs.filter(mode="history", status="queued").count() == 1
    assert "History backfill" in detail
    assert "History complete: 4 of 4 conversations" in detail


def test_a_saved_position_graph_no_longer_accepts_restarts_the_thread_from_its_top(threads):
    # Graph: "your app shouldn't store cursors or assume that they will be valid in the future".
    server, page = threads
    long = Conversation.objects.get(message_count=2000)
    Conversation.objects.filter(pk=long.pk).update(history_after="not-a-cursor-any-more")

    run = backfill(page)

    assert run.status == SyncRun.Status.COMPLETE
    long.refresh_from_db()
    assert long.history_end == ENDS.FIRST_MESSAGE
    assert stored_state(page)["messages"] == whole_truth(server, page)
