"""Live conversation screens: telling the browsers that show conversations that some changed
(a webhook delivered a message, a read, a reaction…).

An event is a small notice, not HTML: `{"page": 3, "conversations": [12, 15]}`
(`"conversations": null` when too many changed to name them). A screen that shows one of them
fetches its part again through its normal view, which checks access and renders it with the
reader's filters and timezone, and morphs it in (static/js/conversations-live.js).

- One channel for every Page (`CHANNEL`): the list of all Pages needs every Page's events, and
  a stream may read at most 10 channels. The notices are tiny; a screen ignores other Pages'.
- Coalesced per Page: the first change is sent at once; the changes that come within
  MIN_GAP_SECONDS of a send are gathered and sent together when the gap ends (a timer thread),
  so a burst of 1,000 deliveries is a few events a second, and the last one is never left out.
- The Page screen's card is published with it (pages.progress): its "Last webhook received"
  and conversation count change with deliveries.
- Never raises into the caller: the data is already committed; a live update is best-effort.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections
from django_eventstream import send_event
from django_eventstream.models import EventCounter
from django_eventstream.utils import get_storage
from redis.exceptions import RedisError

from pages import progress

logger = logging.getLogger(__name__)

CHANNEL = "conversations"
EVENT_TYPE = "changed"
# At most one event per Page this often (a lone change is sent at once).
MIN_GAP_SECONDS = 0.25
# Beyond this many changed conversations in one event, it says "many" (null) instead.
MAX_NAMED = 50
REDIS_RETRY_SECONDS = 5.0


@dataclass
class _PageState:
    last_sent: float = float("-inf")
    # The conversations changed since the last send; None: too many, or unknown ones.
    pending: set[int] | None = field(default_factory=set)
    dirty: bool = False
    timer: threading.Timer | None = None

    def add(self, conversation_pk: int | None) -> None:
        self.dirty = True
        if self.pending is None:
            return
        if conversation_pk is None or len(self.pending) >= MAX_NAMED:
            self.pending = None
        else:
            self.pending.add(conversation_pk)

    def take(self, now: float) -> list[int] | None:
        """The notice's conversations, and a clean slate."""
        named = None if self.pending is None else sorted(self.pending)
        self.pending, self.dirty, self.timer, self.last_sent = set(), False, None, now
        return named


_lock = threading.Lock()
_pages: dict[int, _PageState] = {}
_redis_down_until = 0.0


def publish_conversation_changed(page_pk: int, conversation_pk: int | None) -> None:
    """Tell the Page's live screens that a conversation changed (None: some, or many).
    Call it after the change is committed. Coalesced; never raises."""
    try:
        now = time.monotonic()
        with _lock:
            state = _pages.setdefault(page_pk, _PageState())
            state.add(conversation_pk)
            if state.timer is not None:
                return  # a send is already due: it takes this change along
            wait = state.last_sent + MIN_GAP_SECONDS - now
            if wait > 0:
                state.timer = threading.Timer(wait, _send_later, args=(page_pk,))
                state.timer.start()
                return
            named = state.take(now)
        _send(page_pk, named)
    except Exception:
        logger.warning("Could not publish a conversation change of page %s", page_pk, exc_info=True)


def flush_pending() -> None:
    """Send every gathered change now (tests; a process about to exit)."""
    due = []
    with _lock:
        for page_pk, state in _pages.items():
            if state.dirty:
                if state.timer is not None:
                    state.timer.cancel()
                due.append((page_pk, state.take(time.monotonic())))
    for page_pk, named in due:
        _send(page_pk, named)


def _send_later(page_pk: int) -> None:
    """The timer's end of a gap: send what was gathered, on this thread's own connection,
    closed afterwards (the thread ends; its connection would linger)."""
    try:
        with _lock:
            state = _pages[page_pk]
            if not state.dirty:
                return  # flush_pending sent it
            named = state.take(time.monotonic())
        _send(page_pk, named)
    finally:
        connections.close_all()


def _send(page_pk: int, named: list[int] | None) -> None:
    global _redis_down_until
    notice = {"page": page_pk, "conversations": named}
    try:
        if getattr(settings, "EVENTSTREAM_REDIS", None) and time.monotonic() < _redis_down_until:
            # Redis is down: store the event only; daphne's storage poll delivers it.
            get_storage().append_event(CHANNEL, EVENT_TYPE, json.dumps(notice))
        else:
            send_event(CHANNEL, EVENT_TYPE, notice)
    except RedisError:
        # send_event stores the event before it publishes it: nothing is lost. Don't wait on
        # a dead Redis for every delivery (each attempt costs a connect timeout).
        _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        logger.warning("Redis unavailable; conversation changes go through the database")
    except Exception:
        logger.warning("Could not publish a conversation change of page %s", page_pk, exc_info=True)
    progress.publish(page_pk, final=True)  # never raises


def current_event_id() -> int:
    """The id of the last stored event of CHANNEL (0: none yet): a screen's stream starts
    after it, so a change made while the screen renders is replayed, never lost."""
    counter = EventCounter.objects.filter(name=CHANNEL).values_list("value", flat=True)
    return next(iter(counter), 0)
