"""Meta's deauthorize callback: the Pages the user connected lose their token and their sync,
and keep their data."""

from __future__ import annotations

import pytest
from django.utils import timezone

from pages.connect import connect_page
from pages.models import FacebookPage, SyncRun
from pages.sync import runs
from pages.tasks import PageNotConnected, queue_sync
from privacy.callbacks import DEAUTHORIZED
from privacy.models import DeletionRequest
from tests.privacy.privacy_helpers import DEAUTHORIZE_URL, rows, signed

S = SyncRun.Status


def deauthorize(client, user_id: str):
    response = client.post(DEAUTHORIZE_URL, {"signed_request": signed(user_id)})
    assert response.status_code == 200
    return response.json()


def test_the_users_pages_are_disconnected_and_keep_their_data(client, inboxes):
    first, second = inboxes
    other_user = "900000000000009"
    FacebookPage.objects.filter(pk=second.pk).update(
        facebook_user_id=other_user,
        webhook_fields=["messages", "message_echoes"],
    )
    FacebookPage.objects.filter(pk=first.pk).update(
        webhook_fields=["messages"], webhook_checked_at=timezone.now()
    )
    before = rows()

    assert deauthorize(client, first.facebook_user_id) == {"pages_disconnected": 1}

    first.refresh_from_db()
    assert first.access_token == ""
    assert not first.is_connected
    assert first.connection_label == "Not connected"
    assert first.token_error == DEAUTHORIZED
    assert first.webhook_fields == []
    assert first.webhook_checked_at is None
    # Kept, so that a deletion request that follows still finds the Page.
    assert first.facebook_user_id == "900000000000000"
    assert rows() == before
    assert DeletionRequest.objects.count() == 0
    second.refresh_from_db()
    assert second.is_connected
    assert second.webhook_fields == ["messages", "message_echoes"]
    with pytest.raises(PageNotConnected):
        queue_sync(first, trigger=SyncRun.Trigger.WEB)


def test_every_page_of_the_user_is_disconnected(client, inboxes):
    FacebookPage.objects.update(facebook_user_id="4242")
    assert deauthorize(client, "4242") == {"pages_disconnected": 2}
    assert not FacebookPage.objects.exclude(encrypted_access_token="").exists()


def test_active_syncs_are_stopped_through_the_run_state_machine(client, inboxes):
    first, second = inboxes
    FacebookPage.objects.update(facebook_user_id="4242")
    queued = runs.create_run(first, trigger=SyncRun.Trigger.WEB)
    running = runs.create_run(second, trigger=SyncRun.Trigger.WEB)
    assert runs.claim(running)

    deauthorize(client, "4242")

    queued.refresh_from_db()
    running.refresh_from_db()
    # Nothing ran the queued one: cancelled at once. The running one stops after the
    # conversation in flight (its process sees `cancelling`).
    assert (queued.status, queued.cancel_requested) == (S.CANCELLED, True)
    assert queued.finished_at is not None
    assert (running.status, running.cancel_requested) == (S.CANCELLING, True)


def test_a_parked_run_is_cancelled(client, inboxes):
    page = inboxes[0]
    run = runs.create_run(page, trigger=SyncRun.Trigger.SCHEDULE)
    runs.claim(run)
    assert runs.park(run, resume_at=timezone.now(), message="Rate limited")

    deauthorize(client, page.facebook_user_id)

    run.refresh_from_db()
    assert run.status == S.CANCELLED


def test_it_is_idempotent_and_an_unknown_user_is_fine(client, inboxes):
    page = inboxes[0]
    deauthorize(client, page.facebook_user_id)
    before = rows()
    assert deauthorize(client, page.facebook_user_id) == {"pages_disconnected": 1}
    page.refresh_from_db()
    assert not page.is_connected
    assert deauthorize(client, "31337") == {"pages_disconnected": 0}
    assert rows() == before
    assert FacebookPage.objects.exclude(encrypted_access_token="").count() == 1


def test_pages_connected_without_facebook_login_are_never_matched(client, inboxes):
    """A pasted token leaves facebook_user_id blank: no user id can match it."""
    FacebookPage.objects.update(facebook_user_id="")
    assert deauthorize(client, "0") == {"pages_disconnected": 0}
    assert FacebookPage.objects.exclude(encrypted_access_token="").count() == 2


def test_a_page_reconnected_afterwards_syncs_again(client, inboxes, inbox_server):
    page = inboxes[0]
    deauthorize(client, page.facebook_user_id)
    connected = connect_page(page.facebook_id, inbox_server.pages[0][2])
    assert connected.page.is_connected
    assert connected.page.token_error == ""
    assert queue_sync(connected.page, trigger=SyncRun.Trigger.WEB).status == S.QUEUED


def test_the_log_names_no_user(client, inboxes, caplog):
    caplog.set_level("INFO", logger="privacy")
    deauthorize(client, inboxes[0].facebook_user_id)
    assert "1 page(s) disconnected" in caplog.text
    assert inboxes[0].facebook_user_id not in caplog.text


def test_the_pages_screens_are_told_after_the_commit(
    client, inboxes, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(
        "privacy.callbacks.progress.publish",
        lambda page_id, final=False: published.append((page_id, final)),
    )
    FacebookPage.objects.update(facebook_user_id="4242")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deauthorize(client, "4242")
    assert len(callbacks) == 1
    assert sorted(published) == sorted((page.pk, True) for page in inboxes)
