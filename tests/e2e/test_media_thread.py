"""Kept media in the thread view, in a real browser (Chromium) at a laptop's size and a 390 px
phone's, against a real daphne and a real worker fed by the Graph sandbox: while a Page's
attachments wait for the worker the thread shows placeholders; once the worker kept them a
picture shows inline and a file is a download link, both served by our own media view, and
the browser never asks the sandbox's (Facebook's) media host for anything. A browser that is
not logged in gets no media. Screenshots go to test-artifacts/e2e/media-*.png."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from conversations.models import Message
from media.models import MediaAttachment
from tests.e2e.helpers import CHILD_ENV, VIEWPORTS
from tests.helpers import connect, manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
STORED = MediaAttachment.State.STORED


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def first_carrying(page, kind: str) -> Message:
    """The Page's first stored message with an attachment of this kind."""
    return next(
        message
        for message in Message.objects.filter(page=page).exclude(attachments=[]).order_by("id")
        if any(isinstance(a, dict) and a.get("type") == kind for a in message.attachments)
    )


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_the_thread_shows_kept_pictures_and_files_through_our_media_view(
    size,
    make_graph_sandbox,
    start_daphne,
    start_worker,
    open_screen,
    new_context,
    artifacts,
    tmp_path,
):
    env = {**CHILD_ENV, "MEDIA_ROOT": str(tmp_path / "media-store")}
    server = make_graph_sandbox(conversations=20, seed=4)
    shop = connect(server)
    synced = manage(server, "sync_page", shop.facebook_id, **env)
    assert synced.returncode == 0, synced.stderr
    image = first_carrying(shop, "image")
    document = first_carrying(shop, "file")
    daphne = start_daphne(server, **env)

    # No worker yet: the attachments wait for their download, and the thread says so.
    screen, errors = open_screen(daphne, size)
    asked_the_cdn = []
    screen.on(
        "request",
        lambda request: request.url.startswith(server.url) and asked_the_cdn.append(request.url),
    )
    screen.goto(f"{daphne.url}{reverse('conversations:detail', args=[image.conversation_id])}")
    pending = screen.locator(".attachment-image .media-placeholder").first
    expect(pending).to_be_visible()
    expect(screen.locator(".attachment-image .media-status").first).to_have_text("Downloading…")
    expect(screen.locator(".attachment-image img")).to_have_count(0)
    assert screen.evaluate(SIDEWAYS) <= 0
    screen.screenshot(path=artifacts(f"media-pending-{size}.png"), full_page=True)
    assert server.url not in screen.content()

    start_worker(server, **env)
    kept = MediaAttachment.objects.filter(page=shop, state=STORED)
    wait_until(lambda: kept.filter(message__in=[image, document]).count() >= 2)

    # A picture: inline, from our origin, really decoded by the browser.
    screen.reload()
    picture = screen.locator(".attachment-image img").first
    expect(picture).to_be_visible()
    row = kept.filter(message=image, kind="image").first()
    ours = f"{daphne.url}{reverse('media:file', args=[row.pk])}"
    assert picture.evaluate("img => img.currentSrc") == ours
    picture.scroll_into_view_if_needed()
    screen.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    expect(screen.locator(".attachment-image .media-placeholder")).to_have_count(0)
    assert server.url not in screen.content()
    assert screen.evaluate(SIDEWAYS) <= 0
    screen.screenshot(path=artifacts(f"media-image-{size}.png"), full_page=True)

    # A file: a download link to our media view, and the download arrives whole.
    screen.goto(f"{daphne.url}{reverse('conversations:detail', args=[document.conversation_id])}")
    row = kept.filter(message=document, kind="file").first()
    link = screen.locator(f'.attachment-file a[href="{reverse("media:file", args=[row.pk])}"]')
    expect(link).to_be_visible()
    expect(link).to_have_attribute("download", "")
    with screen.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.url == f"{daphne.url}{reverse('media:file', args=[row.pk])}"
    assert download.failure() is None
    with open(download.path(), "rb") as got:
        assert len(got.read()) == row.file.size
    assert server.url not in screen.content()
    assert screen.evaluate(SIDEWAYS) <= 0
    screen.screenshot(path=artifacts(f"media-file-{size}.png"), full_page=True)
    assert asked_the_cdn == []
    errors.assert_none()

    # A browser not logged in gets the login page, never the bytes.
    anonymous = new_context(viewport=VIEWPORTS[size])
    answer = anonymous.request.get(ours, max_redirects=0)
    assert answer.status == 302
    assert answer.headers["location"].startswith(reverse("login"))
    tab = anonymous.new_page()
    tab.goto(ours)
    assert tab.url.startswith(f"{daphne.url}{reverse('login')}")
    expect(tab.get_by_label("Password")).to_be_visible()
