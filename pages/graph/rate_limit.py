"""The per-Page Graph call rate, shared by every process that talks to a Page (design.md §5,
issue "fair use of Facebook's limits across workers").

`reserve(units)` books the next free slot(s) for a Page and returns how long the caller must
wait before its call may go. The slot clock lives in Redis when REDIS_URL is set (an atomic
script using Redis' own clock) and otherwise in the database (a row lock on the page), so
workers on several machines share it. If Redis fails, the database takes over: a sync never
fails because Redis is down.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings
from django.db import transaction

from pages.models import FacebookPage

logger = logging.getLogger(__name__)

# KEYS[1] = slot key; ARGV[1] = seconds per unit; ARGV[2] = units. Returns the wait in µs.
RESERVE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, next_free)
local cost = math.floor(tonumber(ARGV[1]) * 1000000 * tonumber(ARGV[2]))
redis.call('SET', KEYS[1], start + cost, 'PX', math.floor((start + cost - now) / 1000) + 60000)
return start - now
"""


# A booked slot is when a call may start, but it reaches Meta later by a variable delay (a
# database round trip, a busy or preempted worker: up to ~0.1 s seen on a loaded 2-core box).
# 10 % more room per call absorbs that; a call refused anyway costs a 60 s pause (613).
SAFETY_MARGIN = 1.1
REDIS_RETRY_SECONDS = 5.0


class DatabaseCallSpacing:
    def __init__(self, page_pk: int, calls_per_second: float) -> None:
        self.page_pk = page_pk
        self.seconds_per_call = SAFETY_MARGIN / calls_per_second

    def reserve(self, units: int = 1) -> float:
        with transaction.atomic():
            page = (
                FacebookPage.objects.select_for_update()
                .only("graph_next_call_at")
                .get(pk=self.page_pk)
            )
            now = time.time()
            start = max(now, page.graph_next_call_at or 0.0)
            page.graph_next_call_at = start + self.seconds_per_call * units
            page.save(update_fields=["graph_next_call_at"])
        return start - now


class RedisCallSpacing:
    """Spacing on Redis' clock; while Redis is unreachable, the database's (a circuit
    breaker: after a failure Redis is left alone for REDIS_RETRY_SECONDS, so an outage costs
    one connect timeout and one log line, not one of each per call)."""

    def __init__(self, page_pk: int, calls_per_second: float, client) -> None:
        self.key = f"fbsync:graph-slot:{page_pk}"
        self.seconds_per_call = SAFETY_MARGIN / calls_per_second
        self.script = client.register_script(RESERVE_SCRIPT)
        self.fallback = DatabaseCallSpacing(page_pk, calls_per_second)
        self._redis_down_until = 0.0

    def reserve(self, units: int = 1) -> float:
        if time.monotonic() < self._redis_down_until:
            return self.fallback.reserve(units)
        try:
            return int(self.script(keys=[self.key], args=[self.seconds_per_call, units])) / 1e6
        except redis.RedisError as exc:
            self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning(
                "Redis unavailable for call spacing (%s); using the database for %.0f s",
                type(exc).__name__,
                REDIS_RETRY_SECONDS,
            )
            return self.fallback.reserve(units)


@cache
def _redis_client(url: str):
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def call_spacing_for(page_pk: int | None):
    """The shared spacing for a stored Page at FACEBOOK_CALLS_PER_SECOND (None: unlimited, or
    a page not stored yet, which the client spaces in memory)."""
    rate = settings.FACEBOOK_CALLS_PER_SECOND
    if not page_pk or rate <= 0:
        return None
    if settings.REDIS_URL:
        return RedisCallSpacing(page_pk, rate, _redis_client(settings.REDIS_URL))
    return DatabaseCallSpacing(page_pk, rate)
