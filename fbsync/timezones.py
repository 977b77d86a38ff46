"""The reader's timezone. static/js/timezone.js stores the browser's IANA timezone in the `tz`
cookie; this middleware makes it the active timezone for the request, so every time on a
screen (`{{ t|stamp }}`, labelled with its zone) and the activity heat map's hours are the
reader's own. Without the cookie, or with a value that is not a known zone name, the
server's TIME_ZONE applies: a cookie is user input and never makes a request fail."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils import timezone

TIMEZONE_COOKIE = "tz"
# The longest IANA name is about 30 characters; anything much longer is not one.
MAX_NAME_LENGTH = 64


@cache
def known_timezones() -> frozenset[str]:
    """The zone names this machine knows (read once: listing them walks the tz database)."""
    return frozenset(available_timezones())


def reader_timezone(name: str | None) -> ZoneInfo | None:
    """The zone called `name`, or None when it is not a known zone name. Only names from the
    tz database's own list are opened, so a crafted value never reaches the filesystem."""
    if not name or len(name) > MAX_NAME_LENGTH or name not in known_timezones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ReaderTimezoneMiddleware:
    """Activates the `tz` cookie's timezone around the view (sync and async alike: the SSE
    stream runs in daphne's async chain)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        with timezone.override(reader_timezone(request.COOKIES.get(TIMEZONE_COOKIE))):
            return self.get_response(request)

    async def __acall__(self, request):
        with timezone.override(reader_timezone(request.COOKIES.get(TIMEZONE_COOKIE))):
            return await self.get_response(request)
