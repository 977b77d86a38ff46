"""The history horizon: Messenger may stop returning a thread's older messages (issue 10), and
threads of exact sizes to test a history backfill against.

Two options of :class:`graph_sandbox.faults.FaultConfig` (constructor kwarg, ``configure()``,
a ``--flag`` of ``manage.py graph_sandbox``), off by default and reset by ``clear_faults()``:

* ``history_horizon_days=N``: a message created before now − N days (the wall clock at the
  call) is never returned, neither on ``/{conversation}/messages`` nor in a nested
  ``messages{…}``: paging simply ends (the last page reachable has no ``next``) although
  ``message_count`` still counts every message. A cursor or ``until`` beyond the horizon
  gives ``{"data": []}``.
* ``history_horizon_messages=N``: only the newest N messages of each thread are reachable.

Both on: the stricter wins. ``truth()`` then lists, per conversation, only the reachable
``message_ids`` (what a complete backfill ends with) and their number as
``reachable_message_count``; ``message_count`` stays Graph's count, and
``truth()["history_horizon"]`` says where the horizon is and how many messages it hides.

:class:`History` adds ``add_threads(page_id, sizes, folder, span_days)``: one new
conversation per size, with exactly that many messages and a ``message_count`` that is exact.
"""

from __future__ import annotations

import bisect
import random
import time
from typing import TYPE_CHECKING, Any

from .content import format_time
from .dataset import FOLDERS

if TYPE_CHECKING:
    import threading

    from .dataset import Conversation, Dataset, Page
    from .faults import FaultConfig

DAY = 86400
OPTIONS = ("history_horizon_days", "history_horizon_messages")


def check_options(options: dict[str, Any]) -> None:
    """Validate (and normalise, in place) the horizon options of a ``configure()`` call."""
    days = options.get("history_horizon_days")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int | float | str):
            raise ValueError("history_horizon_days must be a number of days")
        days = float(days)
        if not days > 0:
            raise ValueError("history_horizon_days must be > 0 (None: off)")
        options["history_horizon_days"] = days
    count = options.get("history_horizon_messages")
    if count is not None:
        if isinstance(count, bool) or int(count) != float(count) or int(count) < 1:
            raise ValueError("history_horizon_messages must be a whole number >= 1 (None: off)")
        options["history_horizon_messages"] = int(count)


def is_on(config: FaultConfig) -> bool:
    return config.history_horizon_days is not None or config.history_horizon_messages is not None


def cutoff(config: FaultConfig, now: float | None = None) -> int | None:
    """Epoch seconds: messages created strictly before it are beyond the horizon."""
    if config.history_horizon_days is None:
        return None
    now = time.time() if now is None else now
    return int(now - config.history_horizon_days * DAY)


def floor(ds: Dataset, conv: Conversation, config: FaultConfig, now: float | None = None) -> int:
    """The index of the oldest message of ``conv`` a call can return (0: all of them)."""
    if not is_on(config):
        return 0
    total = conv.message_count
    lowest = 0
    if config.history_horizon_messages is not None:
        lowest = max(0, total - config.history_horizon_messages)
    limit = cutoff(config, now)
    if limit is not None:
        lowest = max(lowest, bisect.bisect_left(ds.message_timestamps(conv), limit))
    return lowest


def window(end: int, limit: int, lowest: int) -> int:
    """How many messages below index ``end`` a page may hold, none beyond the horizon."""
    return max(0, min(limit, end - lowest))


def reachable_truth(ds: Dataset, truth: dict[str, Any], config: FaultConfig) -> dict[str, Any]:
    """``truth()`` with the horizon on: the reachable messages only (see the module doc)."""
    if not is_on(config):
        return truth
    now = time.time()
    hidden = 0
    for item in truth["conversations"]:
        conv = ds.conversations[item["id"]]
        reachable = conv.message_count - floor(ds, conv, config, now)
        hidden += conv.message_count - reachable
        item["message_ids"] = item["message_ids"][:reachable]
        item["reachable_message_count"] = reachable
    limit = cutoff(config, now)
    truth["history_horizon"] = {
        "days": config.history_horizon_days,
        "messages": config.history_horizon_messages,
        "cutoff": None if limit is None else format_time(limit),
        "unreachable_messages": hidden,
    }
    truth["reachable_messages"] = sum(c["reachable_message_count"] for c in truth["conversations"])
    return truth


def spread(count: int, newest: int, span_days: float) -> tuple[int, ...]:
    """``count`` timestamps, oldest first, evenly from ``newest`` − ``span_days`` to ``newest``."""
    if count <= 0:
        return ()
    if count == 1:
        return (newest,)
    span = span_days * DAY
    return tuple(newest - round(span * (count - 1 - i) / (count - 1)) for i in range(count))


class History:
    """The control method, mixed into :class:`graph_sandbox.Sandbox`."""

    lock: threading.RLock
    dataset: Dataset
    seed: int

    def _page(self, page_id: str | None) -> Page:  # provided by Sandbox
        raise NotImplementedError

    def add_threads(
        self,
        page_id: str | None,
        sizes: list[int],
        folder: str = "inbox",
        span_days: float | None = None,
    ) -> list[str]:
        """One new conversation per size, at the top of ``folder``, with exactly that many
        messages (``message_count`` exact too; the person's name may be a deleted user's as
        anywhere else); the first size is the newest conversation. ``span_days``: the thread's
        messages are spread evenly over the last ``span_days`` days, its newest one now (None:
        the usual generated gaps). Ids in the order of ``sizes``; no webhook is sent (history)."""
        if folder not in FOLDERS:
            raise ValueError(f"unknown folder {folder!r}")
        if not isinstance(sizes, list) or not sizes:
            raise ValueError("sizes must be a non-empty list of message counts")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in sizes):
            raise ValueError("each size must be a whole number >= 0")
        if span_days is not None and not float(span_days) >= 0:
            raise ValueError("span_days must be >= 0")
        with self.lock:
            page = self._page(page_id)
            ds = self.dataset
            rng = random.Random(f"{self.seed}:threads:{page.id}:{len(page.conversations)}")
            top = ds.activity_ts(page) + len(sizes) - 1
            ids = []
            for i, size in enumerate(sizes):
                newest = top - i
                conv = ds._make_conv(page, rng, folder, newest, size)
                conv.count_skew = 0
                if span_days is not None:
                    conv.stamps = spread(size, newest, float(span_days))
                ids.append(conv.id)
            return ids
