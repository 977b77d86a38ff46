"""Seeded, deterministic, memory-light data for the Graph API sandbox.

Only a small record is kept per conversation. Messages are generated on demand from
``(seed, conversation id, message index)``: the message id comes from a hash of that triple and
the message content from a ``random.Random`` seeded with the same hash, so one message can be
produced without generating the rest of its thread. Timestamps of a thread are generated from a
per-conversation RNG stream (cheap: one random number per message). Messages appended at runtime
(``add_messages``) keep their timestamps explicitly; their content is generated the same way.

Same ``seed`` and same ``anchor`` give the same data. ``anchor`` (epoch seconds) is the
``updated_time`` of the newest conversation; by default it is the start of the current UTC day
minus one hour, so the data always ends at least an hour before "now" and new activity created
during a test is strictly newer.
"""

from __future__ import annotations

import bisect
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .content import (
    PAGE_NAMES,
    Message,
    _name,
    _thread_timestamps,
    format_time,
    generate_message,
    message_id,
)

FOLDERS = ("inbox", "other", "page_done", "pending", "spam")
FOLDER_WEIGHTS = (70, 10, 12, 3, 5)
TWO_YEARS = 730 * 86400
SNIPPET_LEN = 100


def default_anchor(now: float | None = None) -> int:
    """Start of the current UTC day minus one hour (>= 1 h before now)."""
    now = time.time() if now is None else now
    return int(now) // 86400 * 86400 - 3600


@dataclass(slots=True)
class Page:
    id: str
    name: str
    token: str
    index: int
    conversations: dict[str, Conversation] = field(default_factory=dict)
    # per folder: ascending list of (updated_ts, conversation id); the API order is the reverse
    folders: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def person(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "email": f"{self.id}@facebook.com"}


@dataclass(slots=True)
class Conversation:
    id: str
    page: Page
    folder: str
    psid: str
    name: str | None  # None: deleted user, the "name" key is omitted
    base_ts: int  # created_time of the newest generated message
    base_count: int  # number of generated messages
    count_skew: int  # message_count reported by the API = real count + count_skew
    unread_count: int
    can_reply: bool
    link_n: int
    extra_ts: list[int] | None = None  # timestamps of messages appended at runtime
    stamps: tuple[int, ...] | None = None  # explicit base timestamps (horizon.add_threads)

    @property
    def message_count(self) -> int:
        return self.base_count + (len(self.extra_ts) if self.extra_ts else 0)

    @property
    def updated_ts(self) -> int:
        return self.extra_ts[-1] if self.extra_ts else self.base_ts

    @property
    def key(self) -> tuple[int, str]:
        return (self.updated_ts, self.id)

    def person(self) -> dict[str, str]:
        out = {"id": self.psid}
        if self.name is not None:
            out["name"] = self.name
        out["email"] = f"{self.psid}@facebook.com"
        return out


class Dataset:
    """All pages, conversations and (virtual) messages of one sandbox."""

    def __init__(
        self, conversations: int = 60, seed: int = 1, pages: int = 1, anchor: int | None = None
    ) -> None:
        self.seed = seed
        self.anchor = default_anchor() if anchor is None else anchor
        self.pages: dict[str, Page] = {}
        self.conversations: dict[str, Conversation] = {}
        self._rng = random.Random(f"{seed}:ids")
        self._psids: set[str] = set()
        # messages whose content was written rather than generated (the webhook sender's
        # send_webhooks, graph_sandbox/webhook_controls.py): (conversation id, index) -> message
        self.custom_messages: dict[tuple[str, int], Message] = {}
        for k in range(pages):
            prng = random.Random(f"{seed}:page:{k}")
            page_id = str(prng.randrange(10**16, 10**17))
            token = "EAAB" + "".join(
                prng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                for _ in range(180)
            )
            name = PAGE_NAMES[k % len(PAGE_NAMES)]
            if k >= len(PAGE_NAMES):
                name = f"{name} {k // len(PAGE_NAMES) + 1}"
            page = Page(page_id, name, token, k, folders={f: [] for f in FOLDERS})
            self.pages[page_id] = page
            self._populate(page, conversations)

    # -- construction -----------------------------------------------------------------------

    def _new_conv_id(self) -> str:
        while True:
            digits = self._rng.randint(15, 18)
            conv_id = "t_" + str(self._rng.randrange(10 ** (digits - 1), 10**digits))
            if conv_id not in self.conversations:
                return conv_id

    def _new_psid(self) -> str:
        while True:
            digits = self._rng.choice((16, 17))
            psid = str(self._rng.randrange(10 ** (digits - 1), 10**digits))
            if psid not in self._psids:
                self._psids.add(psid)
                return psid

    def _make_conv(
        self, page: Page, rng: random.Random, folder: str, ts: int, count: int
    ) -> Conversation:
        deleted = rng.random() < 0.03
        # deleted users: the name key is absent (2/3) or the generic "Facebook User" (1/3)
        generic = "Facebook User"
        name = (None if rng.random() < 0.67 else generic) if deleted else _name(rng)
        unread = rng.randint(1, 3) if folder != "page_done" and rng.random() < 0.15 else 0
        conv = Conversation(
            id=self._new_conv_id(),
            page=page,
            folder=folder,
            psid=self._new_psid(),
            name=name,
            base_ts=ts,
            base_count=count,
            count_skew=rng.randint(1, 3) if rng.random() < 0.02 else 0,
            unread_count=min(unread, count),
            can_reply=not deleted and rng.random() > 0.01,
            link_n=rng.randrange(10**11, 10**13),
        )
        self.conversations[conv.id] = conv
        page.conversations[conv.id] = conv
        bisect.insort(page.folders[folder], conv.key)
        return conv

    def _populate(self, page: Page, n: int) -> None:
        rng = random.Random(f"{self.seed}:convs:{page.index}")
        folders = rng.choices(FOLDERS, weights=FOLDER_WEIGHTS, k=n)
        if n >= 50:  # every folder non-empty
            for i, f in enumerate(FOLDERS):
                if f not in folders:
                    folders[i * 7] = f
        stamps: list[int] = []
        for i in range(n):
            if i == 0:
                ts = self.anchor
            elif rng.random() < 0.05:
                ts = rng.choice(stamps)  # shares its updated_time with another conversation
            else:
                ts = self.anchor - int(TWO_YEARS * rng.random() ** 1.5)
            stamps.append(ts)
            if rng.random() < 0.02:
                count = rng.randint(200, 300)  # long thread
            else:
                count = 1 + int(39 * rng.random() ** 2)
            self._make_conv(page, rng, folders[i], ts, count)

    # -- reads ------------------------------------------------------------------------------

    def page_of_token(self, token: str) -> Page | None:
        for page in self.pages.values():
            if page.token == token:
                return page
        return None

    def folder_keys(self, page: Page, folder: str) -> list[tuple[int, str]]:
        return page.folders[folder]

    def message_timestamps(self, conv: Conversation) -> tuple[int, ...]:
        base = conv.stamps
        if base is None:
            base = _thread_timestamps(self.seed, conv.id, conv.base_count, conv.base_ts)
        return base + tuple(conv.extra_ts) if conv.extra_ts else base

    def message(self, conv: Conversation, index: int) -> Message:
        return self._message(conv, index, self.message_timestamps(conv)[index])

    def _message(self, conv: Conversation, index: int, ts: int) -> Message:
        custom = self.custom_messages.get((conv.id, index))
        if custom is not None:
            return custom
        return generate_message(self.seed, conv, index, ts, inbound=index >= conv.base_count)

    def messages_before(self, conv: Conversation, end: int, limit: int) -> list[Message]:
        """Messages with index < ``end``, newest first, at most ``limit``."""
        stamps = self.message_timestamps(conv)
        start = max(0, end - limit)
        return [self._message(conv, i, stamps[i]) for i in range(end - 1, start - 1, -1)]

    def message_ids(self, conv: Conversation) -> list[str]:
        """All message ids, newest first (cheap: no content generated)."""
        out = []
        for i in range(conv.message_count - 1, -1, -1):
            out.append(message_id(self.seed, conv.id, i))
        return out

    def snippet(self, conv: Conversation) -> str:
        if not conv.message_count:
            return ""  # a thread with no messages left
        return self.message(conv, conv.message_count - 1).text[:SNIPPET_LEN]

    # -- mutations --------------------------------------------------------------------------

    def _reindex(self, conv: Conversation, old_key: tuple[int, str], old_folder: str) -> None:
        keys = conv.page.folders[old_folder]
        del keys[bisect.bisect_left(keys, old_key)]
        bisect.insort(conv.page.folders[conv.folder], conv.key)

    def max_updated_ts(self, page: Page) -> int:
        return max((keys[-1][0] for keys in page.folders.values() if keys), default=0)

    def activity_ts(self, page: Page) -> int:
        """A "now" strictly newer than every existing updated_time of the page."""
        return max(int(time.time()), self.max_updated_ts(page) + 1)

    def add_conversations(
        self, page: Page, n: int, folder: str = "inbox", messages: int | None = None
    ) -> list[str]:
        rng = random.Random(f"{self.seed}:added:{page.id}:{len(page.conversations)}")
        ts = self.activity_ts(page)
        if messages is not None and int(messages) < 0:
            raise ValueError("messages must be >= 0")
        return [
            self._make_conv(
                page, rng, folder, ts, rng.randint(1, 3) if messages is None else int(messages)
            ).id
            for _ in range(n)
        ]

    def append_messages(self, conv: Conversation, count: int, ts: int) -> None:
        old_key = conv.key
        conv.extra_ts = (conv.extra_ts or []) + [ts] * count
        conv.unread_count += count
        self._reindex(conv, old_key, conv.folder)

    def move_folder(self, conv: Conversation, folder: str) -> None:
        old = conv.folder
        conv.folder = folder
        self._reindex(conv, conv.key, old)

    def truth(self, page: Page) -> dict[str, Any]:
        convs = []
        totals = dict.fromkeys(FOLDERS, 0)
        messages = 0
        for folder in FOLDERS:
            for _ts, conv_id in reversed(page.folders[folder]):
                conv = page.conversations[conv_id]
                totals[folder] += 1
                messages += conv.message_count
                convs.append(
                    {
                        "id": conv.id,
                        "folder": conv.folder,
                        "updated_time": format_time(conv.updated_ts),
                        "participant": {"id": conv.psid, "name": conv.name},
                        "message_count": conv.message_count,
                        "reported_message_count": conv.message_count + conv.count_skew,
                        "unread_count": conv.unread_count,
                        "can_reply": conv.can_reply,
                        "message_ids": self.message_ids(conv),
                    }
                )
        return {
            "page": {"id": page.id, "name": page.name},
            "conversations": convs,
            "totals": totals,
            "total_conversations": len(convs),
            "total_messages": messages,
        }
