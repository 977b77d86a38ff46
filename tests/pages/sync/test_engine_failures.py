"""Ways a run can end that must never turn into an endless loop: a list that does not move
on, a thread whose paging repeats itself, a run that keeps calling Graph, a token nobody can
decrypt. Each ends resumably or explained, and the next run picks up."""

import pytest
from cryptography.fernet import Fernet

from pages.models import FacebookPage, SyncRun
from pages.schedule import enqueue_due_syncs, resume_reaped_runs
from pages.sync import listing
from pages.sync.checkpoint import Checkpoint
from pages.sync.engine import MAX_EMPTY_PAGES
from tests.helpers import sync, synced_page_with_new_messages
from tests.truth import assert_matches_truth, truth_of

pytestmark = pytest.mark.django_db


def test_a_list_that_repeats_its_cursor_is_restarted_once_then_fails_resumably(page, sandbox):
    sandbox.sandbox.inject("empty_page", count=None, endpoint="conversations")
    sandbox.sandbox.reset_stats()

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert "without moving on" in run.error
    assert "resume later" in run.error
    lists = sandbox.sandbox.stats()["conversations"]
    # The folder's walk and its one restart: a handful of calls, not an endless loop.
    assert lists <= 4
    page.refresh_from_db()
    assert Checkpoint.of(page).unfinished

    sandbox.sandbox.clear_faults()
    resumed = sync(page, resume=True)
    assert resumed.status == SyncRun.Status.COMPLETE
    assert_matches_truth(page, truth_of(sandbox, page))


def test_page_after_empty_page_counts_as_not_moving_on(page, sandbox, monkeypatch):
    """Empty pages with a `next` are normal now and then; MAX_EMPTY_PAGES in a row are not.
    (The sandbox's empty pages repeat the cursor; here each one gets a new cursor.)"""
    served = {"empty": 0}
    real_fetch = listing.ConversationLists.fetch

    def fetch(self, folder, after):
        if folder == "inbox" and after is not None:
            served["empty"] += 1
            cursor = f"moving-{served['empty']}"
            return {"data": [], "paging": {"cursors": {"after": cursor}, "next": "https://x"}}
        return real_fetch(self, folder, after)

    monkeypatch.setattr(listing.ConversationLists, "fetch", fetch)

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert "without moving on" in run.error
    assert served["empty"] == 2 * MAX_EMPTY_PAGES


def test_a_thread_whose_paging_repeats_itself_ends_instead_of_looping(
    make_graph_sandbox, settings, db
):
    settings.SYNC_MAX_GRAPH_CALLS_PER_RUN = 200  # a loop fails the test instead of hanging it
    server = make_graph_sandbox(conversations=60, seed=7)
    page, _ = synced_page_with_new_messages(server, settings, in_thread_of=200, new=40)
    server.sandbox.inject("empty_page", count=None, endpoint="messages")
    server.sandbox.reset_stats()

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert run.updated == 1
    assert server.sandbox.stats(page.facebook_id)["messages"] == 1


def test_a_run_stops_at_its_call_budget_and_resumes(page, sandbox, settings):
    settings.SYNC_MAX_GRAPH_CALLS_PER_RUN = 1

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert "budget of 1 Graph calls" in run.error
    assert run.graph_calls <= 1

    settings.SYNC_MAX_GRAPH_CALLS_PER_RUN = 1000
    resumed = sync(page, resume=True)
    assert resumed.status == SyncRun.Status.COMPLETE
    assert_matches_truth(page, truth_of(sandbox, page))


def test_a_token_nobody_can_decrypt_is_a_final_explained_state_not_a_crash_loop(
    page, sandbox, settings
):
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    page.access_token = sandbox.pages[0][2]
    page.save()
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is lost
    settings.SECRET_KEY_FALLBACKS = []
    settings.SYNC_SCHEDULE_INTERVAL_SECONDS = 60

    run = sync(page)

    assert run.status == SyncRun.Status.FAILED
    assert "TOKEN_ENCRYPTION_KEYS" in run.error
    assert "reconnect the Page" in run.error
    assert run.reaped_at is None
    page.refresh_from_db()
    assert page.needs_reconnect
    # Nobody starts it again until someone fixes the key or reconnects.
    assert resume_reaped_runs() == []
    assert enqueue_due_syncs() == []
    assert SyncRun.objects.count() == 1


def test_a_token_under_a_rotated_secret_key_is_still_read_through_the_fallbacks(settings):
    settings.TOKEN_ENCRYPTION_KEYS = []
    settings.SECRET_KEY = "old-secret-key-for-this-test"
    page = FacebookPage(facebook_id="1")
    page.access_token = "EAAB-secret"
    page.save()

    settings.SECRET_KEY = "new-secret-key-for-this-test"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-for-this-test"]

    assert FacebookPage.objects.get().access_token == "EAAB-secret"
