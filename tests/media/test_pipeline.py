"""Attachments kept, against the Graph sandbox over real HTTP: a sync's attachments queued on
commit and downloaded into the storage once per distinct file, the size cap and the type
check (a file lying about its type is refused), expired URLs renewed by reading the message
again, failures recorded and retried by housekeeping, unreferenced files removed."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations.models import Message
from media import work
from media.download import fetch as download_fetch
from media.download import url_expired
from media.housekeeping import housekeeping, remove_unreferenced_files
from media.models import MediaAttachment, StoredFile
from media.pipeline import note_new_messages
from media.tasks import collect_task, download_task
from tests.media.media_helpers import (
    assert_storage_matches_rows,
    files_in,
    rows,
    run_downloads,
    synced,
)

pytestmark = pytest.mark.django_db
KIND_TYPES = {"image": "image/jpeg", "sticker": "image/png", "video": "video/mp4"}


def test_a_syncs_attachments_are_queued_on_commit_and_kept_once_per_distinct_file(
    page, sandbox, media_root, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    created = work.collect(page.pk)
    with_media = Message.objects.filter(page=page).exclude(attachments=[])
    expected = sum(
        1 for m in with_media for a in m.attachments if a.get("type") in work.KINDS and a.get("url")
    )
    assert created == expected >= 5
    assert work.collect(page.pk) == 0  # the watermark: nothing twice
    assert set(rows(page).values_list("state", flat=True)) == {"pending"}
    assert work.download_due(page.pk, seconds=120)
    assert set(rows(page).values_list("state", flat=True)) == {"stored"}
    for row in rows(page).select_related("file"):
        if row.kind in KIND_TYPES:
            assert row.file.content_type == KIND_TYPES[row.kind]
        assert row.attempts == 1
        assert row.last_error == ""
    assert StoredFile.objects.count() == len(set(rows(page).values_list("file", flat=True)))
    assert_storage_matches_rows(media_root)

    # The same picture in another message (a sticker sent twice): a row, not a second file.
    original = Message.objects.filter(page=page, attachments__0__type="image").first()
    files_before = files_in(media_root)
    copy = Message.objects.create(
        page=page,
        conversation=original.conversation,
        facebook_id="m_same_picture_again",
        sender_id=original.sender_id,
        direction=original.direction,
        attachments=original.attachments,
        created_time=original.created_time,
    )
    run_downloads(page)
    again = rows(page, message=copy, index=0).get()
    first = rows(page, message=original, index=0).get()
    assert (again.state, again.file_id) == ("stored", first.file_id)
    assert files_in(media_root) == files_before
    assert_storage_matches_rows(media_root)


def test_collect_tasks_are_coalesced_per_page(page, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            note_new_messages(page.pk)
    assert DBTaskResult.objects.filter(task_path=collect_task.module_path).count() == 1
    collect_task.call(page.pk)  # clears the request first: new messages queue another
    with django_capture_on_commit_callbacks(execute=True):
        note_new_messages(page.pk)
    assert DBTaskResult.objects.filter(task_path=collect_task.module_path).count() == 2


def test_the_size_cap_refuses_larger_files(
    page, sandbox, settings, media_root, django_capture_on_commit_callbacks
):
    settings.MEDIA_MAX_BYTES = 100_000
    synced(page, django_capture_on_commit_callbacks)
    sandbox.sandbox.configure(media_large=150_000)
    run_downloads(page)
    refused = rows(page)
    assert set(refused.values_list("state", flat=True)) == {"refused"}
    assert all("larger than the 97.7\xa0KB cap" in r.last_error for r in refused)
    assert StoredFile.objects.count() == 0
    assert files_in(media_root) == []


def test_a_file_lying_about_its_type_is_refused(
    page, sandbox, media_root, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    sandbox.sandbox.configure(media_lies=True)  # an HTML page served as image/jpeg and others
    run_downloads(page)
    assert set(rows(page).values_list("state", flat=True)) == {"refused"}
    assert set(rows(page).values_list("last_error", flat=True)) == {
        "its content is not a type we keep"
    }
    assert StoredFile.objects.count() == 0
    assert files_in(media_root) == []


def test_an_expired_url_is_renewed_by_reading_the_message_again(
    page, sandbox, media_root, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    work.collect(page.pk)
    old_urls = dict(rows(page).values_list("pk", "source_url"))
    sandbox.sandbox.expire_media()  # every URL handed out answers "URL signature expired"
    calls = sandbox.sandbox.stats(page.facebook_id)["total"]
    assert work.download_due(page.pk, seconds=120)
    assert set(rows(page).values_list("state", flat=True)) == {"stored"}
    for pk, url in rows(page).values_list("pk", "source_url"):
        assert urlsplit(url).path == urlsplit(old_urls[pk]).path
        assert url != old_urls[pk]
    messages = rows(page).values("message").distinct().count()
    assert sandbox.sandbox.stats(page.facebook_id)["total"] - calls == messages  # one read each
    assert_storage_matches_rows(media_root)


def test_a_url_past_its_expiry_is_renewed_before_any_download(
    page, sandbox, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    sandbox.sandbox.configure(media_url_ttl_seconds=0)  # expired as soon as handed out
    synced(page, django_capture_on_commit_callbacks)
    work.collect(page.pk)
    assert all(url_expired(url) for url in rows(page).values_list("source_url", flat=True))
    sandbox.sandbox.configure(media_url_ttl_seconds=3 * 86400)
    fetched = []

    def fetch(url, *args):
        fetched.append(url_expired(url))
        return download_fetch(url, *args)

    monkeypatch.setattr(work, "fetch", fetch)
    calls = sandbox.sandbox.stats(page.facebook_id)["total"]
    assert work.download_due(page.pk, seconds=120)
    assert set(rows(page).values_list("state", flat=True)) == {"stored"}
    assert fetched
    assert not any(fetched)
    messages = rows(page).values("message").distinct().count()
    assert sandbox.sandbox.stats(page.facebook_id)["total"] - calls == messages


def test_a_failure_is_recorded_then_retried_by_housekeeping(
    page, sandbox, media_root, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    sandbox.sandbox.configure(media_fail_rate=1.0)
    run_downloads(page)
    failed = rows(page)
    assert set(failed.values_list("state", "attempts", "last_error")) == {
        ("failed", 1, "the server answered HTTP 500")
    }
    soon = timezone.now() + timedelta(seconds=50)
    assert all(soon < r.next_try_at < soon + timedelta(seconds=20) for r in failed)
    sandbox.sandbox.clear_faults()
    assert housekeeping() == 0  # not due yet
    failed.update(next_try_at=timezone.now() - timedelta(minutes=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert housekeeping() == 1
    queued = DBTaskResult.objects.filter(task_path=collect_task.module_path)
    assert queued.filter(args_kwargs__args=[page.pk]).exists()
    collect_task.call(page.pk)
    assert set(rows(page).values_list("state", "attempts")) == {("stored", 2)}
    assert_storage_matches_rows(media_root)


def test_a_download_that_keeps_failing_is_given_up(
    page, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_MAX_ATTEMPTS = 2
    synced(page, django_capture_on_commit_callbacks)
    sandbox.sandbox.configure(media_fail_rate=1.0)
    run_downloads(page)
    rows(page).update(next_try_at=timezone.now())
    assert download_task.call(page.pk)
    assert set(rows(page).values_list("state", "attempts", "next_try_at")) == {("failed", 2, None)}


def test_unreferenced_files_are_removed(
    page, sandbox, media_root, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    run_downloads(page)
    kept = StoredFile.objects.count()
    assert kept >= 5
    assert remove_unreferenced_files() == 0  # all referenced (and young)
    doomed = Message.objects.filter(media__isnull=False).distinct()[:3]
    files = set(MediaAttachment.objects.filter(message__in=doomed).values_list("file", flat=True))
    still_used = set(
        MediaAttachment.objects.exclude(message__in=doomed).values_list("file", flat=True)
    )
    Message.objects.filter(pk__in=[m.pk for m in doomed]).delete()  # cascades to the rows
    assert remove_unreferenced_files(grace=timedelta(0)) == len(files - still_used) > 0
    assert StoredFile.objects.count() == kept - len(files - still_used)
    assert_storage_matches_rows(media_root)
