"""Verify mode (issue 10, item 2): compare what is stored with Graph, report what is missing,
and with repair fetch it, never storing anything twice."""

from __future__ import annotations

import threading

import pytest
from django.utils import timezone

from conversations.models import Conversation, ErasedContact, InteractionEvent, Message
from pages.harness import RunHarness
from pages.models import FacebookPage, SyncRun
from pages.sync import runs
from pages.sync.checkpoint import Checkpoint
from pages.sync.controls import RunControls
from pages.sync.runs import Start, SyncAlreadyRunning, create_run
from pages.sync.verify import run_verify
from pages.sync.verify_report import VerifyReport
from tests.helpers import stored_state, sync, synced_page_with_new_messages
from tests.truth import assert_matches_truth, truth_of

pytestmark = pytest.mark.django_db


def verify(page, *, repair: bool = False, on_progress=None, stop=None) -> SyncRun:
    run = create_run(
        page, trigger=SyncRun.Trigger.COMMAND, mode=Start.REPAIR if repair else Start.VERIFY
    )
    harness = RunHarness(
        run, stop=stop or threading.Event(), park_after_seconds=None, on_progress=on_progress
    )
    run = harness.execute()
    run.refresh_from_db()
    return run


def report_of(run: SyncRun) -> VerifyReport:
    return VerifyReport.from_json(run.report)


def test_verify_after_a_complete_sync_finds_nothing(sandbox, page):
    assert sync(page).status == SyncRun.Status.COMPLETE
    snapshots = []

    run = verify(page, on_progress=snapshots.append)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    report = report_of(run)
    assert run.mode == SyncRun.Mode.VERIFY
    assert (report.listed, report.checked, report.stored) == (60, 60, 60)
    assert report.found == report.outstanding == 0
    assert run.current == run.total == 60
    assert run.report["summary"].startswith("Nothing missing: 60 of 60 conversations checked")
    checking = [s for s in snapshots if s.phase == "verify"]
    assert checking
    assert (checking[-1].current, checking[-1].total) == (60, 60)
    assert all(s.mode == "verify" for s in snapshots)


def damage(page, truth):
    """Delete one whole conversation, two messages of a long thread (its newest and the
    oldest stored one) and one of a short thread; returns what was deleted."""
    conversations = truth["conversations"]
    gone = conversations[0]["id"]
    long = next(c for c in conversations[1:] if len(c["message_ids"]) > 25)
    short = next(c for c in conversations[1:] if 1 < len(c["message_ids"]) <= 25)
    Conversation.objects.get(page=page, facebook_id=gone).delete()
    deleted = [long["message_ids"][0], long["message_ids"][24], short["message_ids"][-1]]
    assert Message.objects.filter(page=page, facebook_id__in=deleted).delete()[0] == 3
    return gone, {long["id"]: 2, short["id"]: 1}


def test_verify_reports_exactly_what_was_deleted_and_repair_restores_it(sandbox, page):
    truth = truth_of(sandbox, page)
    sync(page)
    before = stored_state(page)
    gone, thinned = damage(page, truth)

    run = verify(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    report = report_of(run)
    assert report.missingConversations == 1
    assert report.missingMessages == 3
    assert report.conversationsMissingMessages == 2
    found = {e["id"]: e.get("messages") for e in report.examples}
    assert found == {gone: None, **thinned}
    assert report.repairedConversations == report.repairedMessages == 0
    assert report.outstanding == 4
    assert "Missing: 1 conversation and 3 messages in 2 conversations" in report.summary()
    # A verify stores nothing.
    assert Conversation.objects.filter(page=page).count() == 59

    repair = verify(page, repair=True)

    assert repair.status == SyncRun.Status.COMPLETE, repair.error
    fixed = report_of(repair)
    assert (fixed.missingConversations, fixed.missingMessages) == (1, 3)
    assert (fixed.repairedConversations, fixed.repairedMessages) == (1, 3)
    assert fixed.outstanding == 0
    assert (repair.inserted, repair.updated) == (1, 2)
    # The thinned threads were read again: what was there is not stored twice.
    assert fixed.duplicatesPrevented == repair.duplicates_prevented > 0
    assert stored_state(page) == before
    assert_matches_truth(page, truth)
    assert InteractionEvent.objects.filter(page=page, backfill=True).count() == 0

    again = verify(page)

    assert report_of(again).found == 0
    assert stored_state(page) == before


def test_a_resync_counts_the_messages_it_saw_again_as_duplicates_prevented(sandbox, settings):
    page, thread = synced_page_with_new_messages(sandbox, settings, in_thread_of=5, new=2)
    first = SyncRun.objects.get(page=page)
    assert first.duplicates_prevented == 0

    again = sync(page)

    assert again.status == SyncRun.Status.COMPLETE, again.error
    # The thread's newest messages come nested in the list: the 2 new ones are stored, the
    # others were already held and are not stored twice.
    nested = min(25, len(thread["message_ids"]) + 2)
    assert (again.inserted, again.updated) == (0, 1)
    assert again.duplicates_prevented == nested - 2
    assert Checkpoint.saved_now(page).duplicatesPrevented == nested - 2
    assert Message.objects.filter(page=page).count() == len(
        set(Message.objects.filter(page=page).values_list("facebook_id", flat=True))
    )


def test_verify_does_not_count_what_a_sync_does_not_keep(sandbox, page):
    """A thread longer than a sync stores is not missing its older messages (the history
    backfill fetches them); one whose history is complete is checked whole; messages older
    than the Page's retention are never expected."""
    truth = truth_of(sandbox, page)
    sync(page)
    long = next(c for c in truth["conversations"] if len(c["message_ids"]) > 30)
    conversation = Conversation.objects.get(page=page, facebook_id=long["id"])
    assert conversation.messages.count() == 25

    assert report_of(verify(page)).found == 0

    # A complete history that lacks the thread's older messages is missing them.
    Conversation.objects.filter(pk=conversation.pk).update(history_complete=True)
    report = report_of(verify(page))
    assert report.missingMessages == len(long["message_ids"]) - 25
    assert report.examples == [
        {"id": long["id"], "missing": "messages", "messages": len(long["message_ids"]) - 25}
    ]

    # Unless the Page keeps only messages newer than the oldest one stored.
    oldest = conversation.messages.order_by("created_time").first().created_time
    days = (timezone.now() - oldest).days
    FacebookPage.objects.filter(pk=page.pk).update(retention_days=max(days, 1))
    page.refresh_from_db()
    report = report_of(verify(page))
    assert report.missingMessages < len(long["message_ids"]) - 25
    assert report.pastRetention >= 1


def test_the_conversation_of_an_erased_person_is_not_missing(sandbox, page):
    truth = truth_of(sandbox, page)
    sync(page)
    conversation = Conversation.objects.select_related("contact").get(
        page=page, facebook_id=truth["conversations"][3]["id"]
    )
    ErasedContact.objects.create(page=page, psid=conversation.contact.psid)
    conversation.delete()

    run = verify(page, repair=True)

    report = report_of(run)
    assert (report.found, report.erased, report.repairedConversations) == (0, 1, 0)
    assert not Conversation.objects.filter(facebook_id=truth["conversations"][3]["id"]).exists()


def test_a_stopped_verify_says_how_far_it_got_and_stores_nothing_more(sandbox, page):
    truth = truth_of(sandbox, page)
    sync(page)
    damage(page, truth)
    stop = threading.Event()

    def stop_at_ten(snapshot) -> None:
        if snapshot.phase == "verify" and snapshot.current >= 10:
            stop.set()

    run = verify(page, on_progress=stop_at_ten, stop=stop)

    assert run.status == SyncRun.Status.INTERRUPTED
    assert (run.current, run.total) == (10, 60)
    assert run.error == (
        "Interrupted after 10 of 60 conversations were checked; a new verify starts from the "
        "beginning."
    )
    assert report_of(run).phase == "checking"


def test_a_cancelled_repair_ends_cancelled(sandbox, page):
    sync(page)

    def cancel_at_five(snapshot) -> None:
        if snapshot.phase == "verify" and snapshot.current == 5:
            runs.request_cancel(page)

    run = create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.REPAIR)
    runs.claim(run)
    # What the harness lends a run: a cancel request read from the database stops it.
    controls = RunControls(
        should_stop=lambda: runs.cancel_requested(run.pk), on_progress=cancel_at_five
    )

    run = run_verify(run, controls)

    assert run.status == SyncRun.Status.CANCELLED
    assert run.error.startswith("Cancelled after ")
    assert 5 <= run.current < 60


def test_a_verify_reaped_meanwhile_writes_nothing_more(sandbox, page):
    truth = truth_of(sandbox, page)
    sync(page)
    gone, _ = damage(page, truth)
    before = stored_state(page)

    def reaped_while_listing(snapshot) -> None:
        if snapshot.phase == "verify" and snapshot.current == 0:
            SyncRun.objects.filter(pk=snapshot.run_id).update(status="interrupted")

    run = verify(page, repair=True, on_progress=reaped_while_listing)

    assert run.status == SyncRun.Status.INTERRUPTED
    assert run.current == 0  # the reaper's row stays as it was
    assert stored_state(page) == before  # the repair never ran
    assert not Conversation.objects.filter(facebook_id=gone).exists()


def test_verify_is_a_main_run(sandbox, page):
    """Never at the same time as a sync of the Page, in either order."""
    sync(page)
    queued = create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.VERIFY)
    with pytest.raises(SyncAlreadyRunning):
        create_run(page, trigger=SyncRun.Trigger.WEB)
    runs.request_cancel(page)
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.CANCELLED
    create_run(page, trigger=SyncRun.Trigger.WEB)
    with pytest.raises(SyncAlreadyRunning):
        create_run(page, trigger=SyncRun.Trigger.WEB, mode=Start.REPAIR)


def test_new_messages_on_facebook_are_not_missing_and_a_repair_brings_them(sandbox, settings):
    page, thread = synced_page_with_new_messages(sandbox, settings, in_thread_of=5, new=2)

    report = report_of(verify(page))

    assert (report.found, report.changedSinceSync) == (0, 1)
    assert "1 conversation changed since the last sync" in report.summary()

    repair = verify(page, repair=True)

    assert (repair.updated, repair.skipped, repair.inserted) == (1, 59, 0)
    assert report_of(repair).found == 0
    assert "(brought up to date)" in report_of(repair).summary()
    truth = truth_of(sandbox, page)
    assert_matches_truth(
        page, truth, more={thread["id"]: 2} if len(thread["message_ids"]) >= 25 else None
    )
    after = sync(page)
    assert (after.inserted, after.updated) == (0, 0)
