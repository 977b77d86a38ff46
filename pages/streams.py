"""daphne's side of live progress: the SSE stream of a page's channel, and the loop that
wakes streams when a worker (another process) published.

Without REDIS_URL, a worker's events reach daphne only through the database: the loop polls
the event counters of the channels that have listeners and wakes those streams, which then
read the new events from storage. With REDIS_URL we run django-eventstream's Redis listener
ourselves, under a supervisor, because its own does not come back after a Redis outage. The
same loop runs the reaper (pages.schedule), so the card shows Resume even when no worker is
left alive to notice a dead run.
"""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django_eventstream.channelmanager import DefaultChannelManager
from django_eventstream.utils import get_storage
from django_eventstream.views import RedisListener, events, get_listener_manager

from pages.progress import channel_for
from pages.schedule import reap_and_publish

logger = logging.getLogger(__name__)


class StaffChannelManager(DefaultChannelManager):
    """Only staff users may read a page's progress channel."""

    def can_read_channel(self, user, channel: str) -> bool:
        return bool(user is not None and user.is_active and user.is_staff)


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
                await sync_to_async(reap_and_publish)()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("Live progress loop error", exc_info=True)


def stream_response(request, page_id: int):
    """django-eventstream's SSE response for one page's channel."""
    return events(request, channels=[channel_for(page_id)])
