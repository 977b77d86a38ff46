"""Live progress: the only module that talks to django-eventstream (design.md §7).

- Every event is a full snapshot: the rendered sync panel of a page, so a lost event is healed
  by the next one and a fresh page load renders the same HTML on the server.
- Publishing is coalesced (at most SYNC_PROGRESS_MAX_PER_SECOND per page, the final state
  always sent) and never fails a sync.
- Events are stored (DjangoModelStorage), so a reconnecting browser replays what it missed.
  With REDIS_URL, django-eventstream fans events out through Redis pub/sub. Without it, a
  worker's events reach daphne only through the database: `ensure_background_loop` polls the
  event counters of the channels that have listeners and wakes those streams, which then read
  the new events from storage.
- The same background loop reaps runs whose worker died, so the panel shows Resume even when
  no worker is left alive to notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.template.loader import render_to_string
from django_eventstream import send_event
from django_eventstream.channelmanager import DefaultChannelManager
from django_eventstream.utils import get_storage
from django_eventstream.views import RedisListener, get_listener_manager
from redis.exceptions import RedisError

from pages.models import FacebookPage, SyncRun

logger = logging.getLogger(__name__)

EVENT_TYPE = "progress"
PANEL_TEMPLATE = "pages/page_detail.html#sync-panel"

_last_sent: dict[int, float] = {}
_last_sent_lock = threading.Lock()


def channel_for(page_id: int) -> str:
    return f"page-{page_id}"


class StaffChannelManager(DefaultChannelManager):
    """Only staff users may read a page's progress channel."""

    def can_read_channel(self, user, channel: str) -> bool:
        return bool(user is not None and user.is_active and user.is_staff)


def panel_context(page: FacebookPage) -> dict:
    """What the Page screen shows: the page, its latest run, history and checkpoint."""
    runs = list(page.sync_runs.order_by("-created_at", "-id")[:20])
    run = runs[0] if runs else None
    checkpoint = page.sync_checkpoint or {}
    total = run.total if run else None
    current = run.current if run else 0
    if run and run.status == SyncRun.Status.COMPLETE:
        percent = 100
    elif total:
        percent = min(99, current * 100 // total)
    else:
        percent = None
    resumable = (
        run is not None
        and run.status
        in (SyncRun.Status.INTERRUPTED, SyncRun.Status.CANCELLED, SyncRun.Status.FAILED)
        and checkpoint.get("runId") == run.pk
        and not page.needs_reconnect
    )
    return {
        "page": page,
        "run": run,
        "runs": runs,
        "checkpoint": checkpoint,
        "checkpoint_json": json.dumps(checkpoint, indent=2, ensure_ascii=False),
        "conversation_count": page.conversations.count(),
        "percent": percent,
        "resumable": resumable,
    }


def render_panel(page: FacebookPage, request=None) -> str:
    return render_to_string(PANEL_TEMPLATE, panel_context(page), request=request)


def render_event(page: FacebookPage, notice: str = "") -> str:
    """One live update: the panel, plus out-of-band swaps for the count, history and
    checkpoint around it, so nothing on the screen contradicts the panel."""
    context = {**panel_context(page), "oob": True, "notice": notice}
    return "".join(
        render_to_string(f"pages/page_detail.html#{name}", context)
        for name in ("sync-panel", "conversation-count", "sync-history", "sync-checkpoint")
    )


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


# -- daphne side -------------------------------------------------------------------------------

_loop_tasks: list[asyncio.Task] = []


def ensure_background_loop() -> None:
    """Start (once per event loop) the tasks that wake streams, keep the Redis listener alive
    and reap dead runs. Called by the stream view before it registers its listener."""
    loop = asyncio.get_running_loop()
    if _loop_tasks and all(not t.done() and t.get_loop() is loop for t in _loop_tasks):
        return
    _loop_tasks[:] = [loop.create_task(_background_loop())]
    if getattr(settings, "EVENTSTREAM_REDIS", None):
        # We run the Redis listener ourselves: django-eventstream's does not come back after
        # a Redis outage.
        manager = get_listener_manager()
        with manager.lock:
            manager.redis_listener_started = True
        _loop_tasks.append(loop.create_task(_supervise_redis_listener()))


async def _supervise_redis_listener() -> None:
    manager = get_listener_manager()
    while True:
        listener = RedisListener()
        try:
            await listener.pubsub.subscribe("events_channel")
            # (Re)connected: streams catch up on anything published while we were away.
            for channel in _channels_with_listeners():
                _wake(channel)
            manager.redis_listener = listener
            await listener.listen()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("Redis listener lost (%s); reconnecting", type(exc).__name__)
        finally:
            try:
                await listener.redis_client.aclose()
            except Exception:
                logger.debug("Closing the Redis client failed", exc_info=True)
        await asyncio.sleep(1)


def _channels_with_listeners() -> list[str]:
    manager = get_listener_manager()
    with manager.lock:
        return list(manager.listeners_by_channel)


def _wake(channel: str) -> None:
    """Make the channel's streams re-read storage (the `overflow` path of the stream loop)."""
    manager = get_listener_manager()
    with manager.lock:
        listeners = list(manager.listeners_by_channel.get(channel, ()))
        for listener in listeners:
            listener.overflow = True
            listener.wake_threadsafe()


def _current_ids(channels: list[str]) -> dict[str, int]:
    storage = get_storage()
    return {channel: storage.get_current_id(channel) for channel in channels}


def _reap_and_publish() -> None:
    from pages.runs import reap_stale_runs

    for run in reap_stale_runs():
        publish(run.page_id, final=True)


async def _background_loop() -> None:
    seen: dict[str, int] = {}
    next_reap = 0.0
    # With Redis, storage polling is only the safety net for Redis outages.
    interval = settings.SYNC_PROGRESS_POLL_SECONDS
    if getattr(settings, "EVENTSTREAM_REDIS", None):
        interval = max(interval, 1.0)
    while True:
        try:
            await asyncio.sleep(interval)
            channels = _channels_with_listeners()
            if channels:
                current = await sync_to_async(_current_ids)(channels)
                for channel, event_id in current.items():
                    if seen.get(channel) != event_id:
                        seen[channel] = event_id
                        _wake(channel)
            if time.monotonic() >= next_reap:
                next_reap = time.monotonic() + settings.SYNC_REAPER_INTERVAL_SECONDS
                await sync_to_async(_reap_and_publish)()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("Live progress loop error", exc_info=True)


def stream_response(request, page_id: int):
    """django-eventstream's SSE response for one page's channel."""
    from django_eventstream.views import events

    return events(request, channels=[channel_for(page_id)])
