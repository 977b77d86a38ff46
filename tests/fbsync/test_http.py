"""HTTP hygiene: static files through the real ASGI app, quiet 403s, no caching of private
pages, HEAD on read-only views."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from conversations.models import Conversation
from fbsync.asgi import application
from tests.helpers import sync


def asgi_request(path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request to fbsync.asgi.application, the app daphne serves (path as sent, raw)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),  # daphne hands the app the decoded path, as here
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict] = []

    async def run() -> None:
        requested = False
        done = asyncio.Event()

        async def receive():
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays connected until the response is complete
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await application(scope, receive, send)

    asyncio.run(run())
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body


def test_static_files_are_served_by_the_asgi_app():
    status, headers, body = asgi_request("/static/css/app.css")
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert b".progress" in body
    status, _, body = asgi_request("/static/js/progress.js", method="HEAD")
    assert status == 200
    assert body == b""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/static/%2e%2e/fbsync/settings.py", "/static/../manage.py", "/static/css/missing.css"],
)
def test_static_path_tricks_answer_404_not_500(path):
    status, _, body = asgi_request(path)
    assert status == 404
    assert b"SECRET_KEY" not in body


def test_forbidden_is_logged_in_one_line_without_a_traceback(client, db, caplog):
    client.force_login(User.objects.create_user("visitor"))  # logged in, not staff
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("conversations:list"))
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().startswith("Forbidden")
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_private_pages_are_not_stored_by_caches(staff_client):
    response = staff_client.get(reverse("conversations:list"))
    assert response.status_code == 200
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= cache_control


@pytest.mark.django_db
def test_read_only_conversation_views_answer_head(staff_client, page):
    sync(page)
    conversation = Conversation.objects.filter(page=page).first()
    for url in (
        reverse("conversations:list"),
        reverse("conversations:detail", args=[conversation.pk]),
        reverse("conversations:activity", args=[page.pk]),
    ):
        response = staff_client.head(url)
        assert response.status_code == 200, url
        assert response.content == b""
        assert staff_client.post(url).status_code == 405, url


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_icon_through_the_asgi_app():
    status, headers, _ = asgi_request("/favicon.ico")
    assert status == 301
    assert headers["location"] == "/static/favicon.ico"
    status, headers, body = asgi_request(headers["location"])
    assert status == 200
    assert headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    status, headers, body = asgi_request("/static/favicon.svg")
    assert status == 200
    assert body.startswith(b"<svg")


def test_every_page_names_its_icons(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.ico" sizes="32x32">' in html
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
