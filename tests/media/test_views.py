"""The media view and the thread view: kept files only through our authenticated view (login
redirect for anonymous users, 403 for others, the checked type, nosniff, Content-Disposition),
and no CDN URL in any page we render."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation
from media import work
from media.models import MediaAttachment
from tests.helpers import create_inbox_staff
from tests.media.media_helpers import rows, run_downloads, synced

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(create_inbox_staff())
    return client


def thread_html(client: Client, conversation: Conversation) -> str:
    response = client.get(reverse("conversations:detail", args=[conversation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def with_media(page, **filters) -> list[Conversation]:
    pks = rows(page, **filters).values_list("message__conversation", flat=True).distinct()
    return list(Conversation.objects.filter(pk__in=pks))


def test_the_media_view_is_refused_to_anonymous_and_non_staff_users(
    page, sandbox, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    run_downloads(page)
    url = reverse("media:file", args=[rows(page).first().pk])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    for user in (
        User.objects.create_user("someone", password="pw"),  # logged in, not staff
        User.objects.create_user("bare-staff", password="pw", is_staff=True),  # no inbox right
    ):
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_the_media_view_serves_the_checked_type_inline_or_as_a_download(
    page, sandbox, media_root, staff_client, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    run_downloads(page)
    kinds = set()
    for row in rows(page).select_related("file"):
        response = staff_client.get(reverse("media:file", args=[row.pk]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert body == (media_root / row.file.storage_name).read_bytes()
        assert response["Content-Type"] == row.file.content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        disposition = response["Content-Disposition"]
        inline = row.kind in ("image", "sticker")
        assert disposition.startswith("inline;" if inline else "attachment;"), disposition
        assert "filename" in disposition
        kinds.add(row.kind)
    assert {"image", "file"} <= kinds
    assert staff_client.post(reverse("media:file", args=[row.pk])).status_code == 405


def test_a_file_not_kept_is_not_found(
    page, sandbox, staff_client, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    work.collect(page.pk)  # rows pending: nothing stored yet
    pending = rows(page).first()
    assert staff_client.get(reverse("media:file", args=[pending.pk])).status_code == 404
    assert staff_client.get(reverse("media:file", args=[999999])).status_code == 404


def assert_no_cdn_url(html: str, sandbox) -> None:
    assert sandbox.url not in html
    assert "/_media/" not in html
    assert not re.search(r"fbcdn|fbsbx|oe=|oh=", html)


def test_the_thread_shows_kept_media_and_never_a_cdn_url(
    page, sandbox, staff_client, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    conversations = Conversation.objects.filter(page=page)
    # Before any collect: placeholders only.
    work.collect(page.pk)
    pending_threads = with_media(page)
    assert pending_threads
    for conversation in pending_threads:
        html = thread_html(staff_client, conversation)
        assert "Downloading…" in html
        assert_no_cdn_url(html, sandbox)
    assert work.download_due(page.pk, seconds=120)
    shown = 0
    for conversation in conversations:
        html = thread_html(staff_client, conversation)
        assert_no_cdn_url(html, sandbox)
        assert "Downloading…" not in html
        for row in rows(page, message__conversation=conversation):
            url = reverse("media:file", args=[row.pk])
            if row.kind == "sticker":
                assert f'<img class="sticker" src="{url}" loading="lazy" alt="Sticker"' in html
            elif row.kind == "image":
                assert re.search(rf'<img src="{url}" loading="lazy" alt="[^"]+">', html)
            else:
                assert re.search(rf'<a href="{url}" download>.*\(.+, [\d.]+\xa0(bytes|KB)\)', html)
            shown += 1
    assert shown == rows(page).count()


def test_the_thread_says_why_a_file_was_not_kept(
    page, sandbox, staff_client, django_capture_on_commit_callbacks
):
    synced(page, django_capture_on_commit_callbacks)
    sandbox.sandbox.configure(media_lies=True)
    run_downloads(page)
    conversation = with_media(page, state=MediaAttachment.State.REFUSED)[0]
    html = thread_html(staff_client, conversation)
    assert "Could not be kept: its content is not a type we keep" in html
    assert_no_cdn_url(html, sandbox)
    sandbox.sandbox.configure(media_lies=False, media_fail_rate=1.0)
    rows(page).update(state="pending", next_try_at="2000-01-01T00:00:00Z", attempts=0)
    run_downloads(page)
    html = thread_html(staff_client, conversation)
    assert "Could not be kept yet (the server answered HTTP 500); trying again later" in html
