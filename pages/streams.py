"""daphne's side of live progress: the SSE stream of a page's channel, and the loop that
wakes streams when a worker (another process) published.

Without REDIS_URL, a worker's events reach daphne only through the database: the loop polls
the event counters of the channels that have listeners and wakes those streams, which then
read the new events from storage. With REDIS_URL we run django-eventstream's Redis listener
ourselves, under a supervisor, because its own does not come back after a Redis outage. The
same loop runs the reaper (pages.schedule), so the card shows Resume even when no worker is
left alive to notice a dead run, and re-publishes the card of a run that waits for a worker
too long (`publish_changed_waits`): that card changes with time alone, no sync event says so.

An open stream holds no database connection: each read of storage closes its thread's
connection (StreamStorage), so a daphne process keeps one connection (the background loop)
however many tabs are open. Streams are capped per user and per process (429 beyond), and each
re-checks every SSE_RECHECK_SECONDS that its session still belongs to an active staff user.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_eventstream.channelmanager import DefaultChannelManager
from django_eventstream.models import EventCounter
from django_eventstream.storage import DjangoModelStorage
from django_eventstream.utils import sse_encode_error
from django_eventstream.views import RedisListener, events, get_listener_manager

from fbsync.access import can_use_inbox
from pages import panel, progress
from pages.models import SyncRun
from pages.progress import channel_for
from pages.schedule import reap_and_publish

logger = logging.getLogger(__name__)


class StaffChannelManager(DefaultChannelManager):
    """Only staff with access to the inbox may read a channel: a page's progress, or the
    conversation changes (conversations.live)."""

    def can_read_channel(self, user, channel: str) -> bool:
        return can_use_inbox(user)


def close_db_connections() -> None:
    """Close this thread's database connections, unless a transaction is open in it (a
    caller's atomic block, or a test's)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


class StreamStorage(DjangoModelStorage):
    """django-eventstream's database storage, whose reads give their connection back.

    A stream reads storage through sync_to_async in its request's own thread; the connection
    that read opened stayed open as long as the stream did: one PostgreSQL connection per open
    tab. Writes (workers publishing) keep theirs: they are not tied to a stream."""

    def get_events(self, channel, last_id, limit=100):
        try:
            return super().get_events(channel, last_id, limit=limit)
        finally:
            close_db_connections()

    def get_current_id(self, channel):
        try:
            return super().get_current_id(channel)
        finally:
            close_db_connections()


_loop_tasks: list[asyncio.Task] = []


def ensure_background_loop() -> None:
    """Start (once per event loop) the tasks that wake streams, keep the Redis listener alive
    and reap dead runs. Called by the stream view before it registers its listener."""
    loop = asyncio.get_running_loop()
    if _loop_tasks and all(not t.done() and t.get_loop() is loop for t in _loop_tasks):
        return
    # A fresh context: inheriting the request's would run the loop's database work in that
    # stream's thread, sharing (and closing) its connection.
    _loop_tasks[:] = [loop.create_task(_background_loop(), context=contextvars.Context())]
    if getattr(settings, "EVENTSTREAM_REDIS", None):
        # We run the Redis listener ourselves: django-eventstream's does not come back after
        # a Redis outage.
        manager = get_listener_manager()
        with manager.lock:
            manager.redis_listener_started = True
        _loop_tasks.append(
            loop.create_task(_supervise_redis_listener(), context=contextvars.Context())
        )


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


def current_event_id(page_id: int) -> int:
    """The id of the last event stored for the page's channel (0: none yet)."""
    counter = EventCounter.objects.filter(name=channel_for(page_id)).values_list("value")
    return next(iter(counter), (0,))[0]


# How often the loop looks for runs that wait for a worker (pages.panel.wait_state).
WAIT_CHECK_SECONDS = 2.0
WAITING_STATUSES = (SyncRun.Status.QUEUED, SyncRun.Status.PAUSED)


def publish_changed_waits(page_ids: list[int], shown: dict[int, str]) -> None:
    """Publish the card of every watched run whose wait for a worker changed since this loop
    last looked (queued for 15 s with no worker alive, say): `shown` is run pk → the wait
    state the card last had, as far as this process knows."""
    now = timezone.now()
    workers = panel.Workers.now(now)
    waiting = SyncRun.objects.filter(page_id__in=page_ids, status__in=WAITING_STATUSES)
    still_waiting = set()
    for run in waiting:
        state = panel.wait_state(run, now, workers)
        if not state:
            continue
        still_waiting.add(run.pk)
        # A run first seen here just queued needs nothing: its card already says "waiting".
        if shown.get(run.pk, "waiting") != state:
            progress.publish(run.page_id, final=True)
        shown[run.pk] = state
    for run_pk in set(shown) - still_waiting:
        del shown[run_pk]


def _current_ids(channels: list[str]) -> dict[str, int]:
    """The channels' event counters in one query, on the loop's own connection (kept open:
    it is polled several times a second)."""
    counters = dict(EventCounter.objects.filter(name__in=channels).values_list("name", "value"))
    return {channel: counters.get(channel, 0) for channel in channels}


async def _background_loop() -> None:
    seen: dict[str, int] = {}
    waits: dict[int, str] = {}
    next_reap = next_wait_check = 0.0
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
            if channels and time.monotonic() >= next_wait_check:
                next_wait_check = time.monotonic() + WAIT_CHECK_SECONDS
                page_ids = [p for c in channels if (p := progress.page_id_of(c)) is not None]
                await sync_to_async(publish_changed_waits)(page_ids, waits)
            if time.monotonic() >= next_reap:
                next_reap = time.monotonic() + settings.SYNC_REAPER_INTERVAL_SECONDS
                await sync_to_async(reap_and_publish)()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("Live progress loop error", exc_info=True)
            # A broken connection (database restart) is not reused: the next poll reconnects.
            await sync_to_async(close_db_connections)()


class _Slots:
    """The streams open in this process, per user (SSE_MAX_STREAMS_PER_USER and
    SSE_MAX_STREAMS_PER_PROCESS)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_user: Counter = Counter()

    def _has_room(self, user_pk) -> bool:
        return (
            self._per_user.total() < settings.SSE_MAX_STREAMS_PER_PROCESS
            and self._per_user[user_pk] < settings.SSE_MAX_STREAMS_PER_USER
        )

    def available(self, user_pk) -> bool:
        with self._lock:
            return self._has_room(user_pk)

    def take(self, user_pk) -> Callable[[], None] | None:
        """A slot's release function (safe to call twice), or None when none is free."""
        with self._lock:
            if not self._has_room(user_pk):
                return None
            self._per_user[user_pk] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._per_user[user_pk] -= 1
                    if self._per_user[user_pk] <= 0:
                        del self._per_user[user_pk]

        return release


_slots = _Slots()


class _Access:
    """What a stream was opened with, to re-check that its reader may still read it: the
    session still exists and names the user, the user is still active and staff, and the
    password has not changed since the login (Django's session hash)."""

    def __init__(self, request: HttpRequest, user) -> None:
        self.session_class = type(request.session)
        self.session_key = request.session.session_key
        self.user_pk = user.pk

    def still_allowed(self) -> bool:
        try:
            return self._check()
        finally:
            close_db_connections()

    def _check(self) -> bool:
        if not self.session_key:
            return False
        # A fresh store, read-only: django.contrib.auth.get_user could flush or cycle it.
        session = self.session_class(self.session_key)
        if str(session.get(SESSION_KEY)) != str(self.user_pk):
            return False
        user = get_user_model()._default_manager.filter(pk=self.user_pk).first()
        if not can_use_inbox(user):
            return False
        session_hash = session.get(HASH_SESSION_KEY) or ""
        hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        return any(constant_time_compare(session_hash, known) for known in hashes)


def too_many_streams() -> HttpResponse:
    return HttpResponse("Too many open live streams.", status=429, content_type="text/plain")


async def open_stream(request: HttpRequest, page_id: int, user) -> HttpResponse:
    """The SSE response for one page's channel (its sync card)."""
    return await open_channel_stream(request, channel_for(page_id), user)


async def open_channel_stream(request: HttpRequest, channel: str, user) -> HttpResponse:
    """The SSE response for one channel (a page's card, or conversations.live's) to an
    authenticated staff user: within the caps, holding no database connection, and ended
    once its user may no longer read it."""
    if not _slots.available(user.pk):
        return too_many_streams()
    ensure_background_loop()
    request.user = user  # already loaded: django-eventstream need not look it up again
    response = await sync_to_async(stream_response)(request, channel)
    if not response.streaming:
        return response  # django-eventstream's answer to a bad request
    release = _slots.take(user.pk)
    if release is None:
        return too_many_streams()
    content = _guarded(response.streaming_content, release, _Access(request, user))
    # _guarded frees the slot when the stream ends; a response dropped before its stream
    # started (the browser left at once) frees it when the generator is collected.
    weakref.finalize(content, release)
    response.streaming_content = content
    return response


def stream_response(request: HttpRequest, channel: str) -> HttpResponse:
    """django-eventstream's SSE response for one channel."""
    try:
        return events(request, channels=[channel])
    finally:
        close_db_connections()


_END = object()


async def _next_chunk(content: AsyncIterator):
    try:
        return await anext(content)
    except StopAsyncIteration:
        return _END


async def _guarded(
    content: AsyncIterator, release: Callable[[], None], access: _Access
) -> AsyncIterator:
    """The stream's chunks, until its reader may no longer read it; frees the slot when the
    stream ends, whether the server or the browser ends it.

    The next chunk is awaited in a task of its own so that the re-check also happens while
    the stream waits for events (django-eventstream waits up to 20 s between keep-alives)."""
    loop = asyncio.get_running_loop()
    interval = settings.SSE_RECHECK_SECONDS
    next_check = loop.time() + interval
    pending: asyncio.Task | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next_chunk(content))
            await asyncio.wait({pending}, timeout=max(0.0, next_check - loop.time()))
            if pending.done():
                chunk = pending.result()
                pending = None
                if chunk is _END:
                    return
                yield chunk
            if loop.time() >= next_check:
                try:
                    allowed = await sync_to_async(access.still_allowed)()
                except Exception:
                    # Fail closed, but quietly: the browser reconnects (resuming where it
                    # was) and the view checks it again. A stream-error would stop it for good.
                    logger.warning("Could not re-check a stream's user; closing it", exc_info=True)
                    return
                if not allowed:
                    yield sse_encode_error("forbidden", "Access to this stream has ended.")
                    return
                next_check = loop.time() + interval
    finally:
        release()
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})
        await content.aclose()
