"""Live progress: publishing a page's sync card to the browsers that watch it (with
conversations.live, the only modules that send to django-eventstream, design.md §7).

- Every event is a full snapshot (pages.panel renders it), so a lost event is healed by the
  next one and a fresh page load renders the same HTML.
- Publishing is coalesced (at most SYNC_PROGRESS_MAX_PER_SECOND per page, the final state
  always sent) and never fails a sync.
- Events are stored (DjangoModelStorage), so a reconnecting browser replays what it missed.
  With REDIS_URL they are also fanned out through Redis pub/sub; daphne's side of the stream
  is pages.streams.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django_eventstream import send_event
from django_eventstream.utils import get_storage
from redis.exceptions import RedisError

from pages.models import FacebookPage
from pages.panel import render_event

logger = logging.getLogger(__name__)

EVENT_TYPE = "progress"

_last_sent: dict[int, float] = {}
_last_sent_lock = threading.Lock()


CHANNEL_PREFIX = "page-"


def channel_for(page_id: int) -> str:
    return f"{CHANNEL_PREFIX}{page_id}"


def page_id_of(channel: str) -> int | None:
    """The page a channel is for (None: not a page's channel)."""
    number = channel.removeprefix(CHANNEL_PREFIX)
    return int(number) if channel.startswith(CHANNEL_PREFIX) and number.isdigit() else None


REDIS_RETRY_SECONDS = 5.0
_redis_down_until = 0.0


def publish(page_id: int, *, final: bool = False) -> None:
    """Send the page's current panel to its live viewers. Coalesced; never raises."""
    global _redis_down_until
    now = time.monotonic()
    min_gap = 1.0 / settings.SYNC_PROGRESS_MAX_PER_SECOND
    with _last_sent_lock:
        if not final and now - _last_sent.get(page_id, 0.0) < min_gap:
            return
        _last_sent[page_id] = now
    try:
        page = FacebookPage.objects.get(pk=page_id)
        html = render_event(page)
        if getattr(settings, "EVENTSTREAM_REDIS", None) and now < _redis_down_until:
            # Redis is down: store the event only; daphne's storage poll delivers it.
            get_storage().append_event(channel_for(page_id), EVENT_TYPE, html)
            return
        send_event(channel_for(page_id), EVENT_TYPE, html, json_encode=False)
    except RedisError:
        # send_event stores the event before publishing it, so nothing is lost; don't wait
        # on a dead Redis for every update (each attempt costs a connect timeout).
        _redis_down_until = now + REDIS_RETRY_SECONDS
        logger.warning("Redis unavailable; progress goes through the database for now")
    except Exception:
        # Live updates are best-effort: the data and checkpoint are already in the database.
        logger.warning("Could not publish progress for page %s", page_id, exc_info=True)
