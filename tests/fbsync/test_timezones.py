"""The reader's timezone: the `tz` cookie (set by static/js/timezone.js) is the active timezone
of the request when it names a known zone; anything else falls back to TIME_ZONE, never to an
error. Sync and async middleware chains alike."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from fbsync.timezones import TIMEZONE_COOKIE, ReaderTimezoneMiddleware, reader_timezone
from tests.helpers import ROOT


@pytest.mark.parametrize("name", ["Asia/Tokyo", "America/Argentina/Buenos_Aires", "UTC"])
def test_a_known_zone_name_is_the_readers_timezone(name):
    assert reader_timezone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "Mars/Olympus_Mons",
        "asia/tokyo",  # names are case-sensitive in the tz database
        "../../../../etc/passwd",
        "/etc/localtime",
        "Asia/Tokyo\x00",
        "Europe/" + "x" * 200,
        "%2F",
    ],
)
def test_anything_else_is_ignored(value):
    assert reader_timezone(value) is None


def active_zone_name(request) -> HttpResponse:
    return HttpResponse(timezone.get_current_timezone_name())


def request_with(cookie: str | None):
    request = RequestFactory().get("/")
    if cookie is not None:
        request.COOKIES[TIMEZONE_COOKIE] = cookie
    return request


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [("Asia/Tokyo", "Asia/Tokyo"), (None, "Europe/Lisbon"), ("Nowhere/Land", "Europe/Lisbon")],
)
def test_the_middleware_activates_the_cookie_or_the_default(settings, cookie, expected):
    settings.TIME_ZONE = "Europe/Lisbon"
    middleware = ReaderTimezoneMiddleware(active_zone_name)

    assert middleware(request_with(cookie)).content.decode() == expected
    # Only for that request: the next code sees the default again.
    assert timezone.get_current_timezone_name() == "Europe/Lisbon"


def test_the_middleware_works_in_an_async_chain(settings):
    settings.TIME_ZONE = "UTC"

    async def view(request):
        await asyncio.sleep(0)
        return active_zone_name(request)

    middleware = ReaderTimezoneMiddleware(view)
    assert iscoroutinefunction(middleware)
    response = asyncio.run(middleware(request_with("Pacific/Auckland")))
    assert response.content.decode() == "Pacific/Auckland"


def test_every_page_loads_the_script_that_sets_the_cookie(client, db):
    html = client.get("/login/").content.decode()
    assert '<script src="/static/js/timezone.js" defer></script>' in html
    script = (ROOT / "static" / "js" / "timezone.js").read_text()
    assert "resolvedOptions().timeZone" in script
    assert '"tz=" + zone' in script
    assert "SameSite=Lax" in script
