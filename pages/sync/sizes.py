"""How much one list call asks Graph for, adapted to what Graph accepts.

Graph refuses heavy answers with code 1, "Please reduce the amount of data you're asking
for" (graph-api.md §6, §12.12). A list call that keeps failing so asks for half as many
conversations per page, and once that is one, half as many nested messages per
conversation. After a few full pages in a row it asks for more again: up to
SYNC_MAX_PAGE_SIZE while Graph has refused nothing in the run, and never above the largest
size Graph accepted once it has. The sizes are kept in the checkpoint, so a resume starts
from what the run learned instead of failing again the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pages.graph.errors import GraphError

# Full pages in a row before a list call asks for more.
GROW_AFTER = 3


class TooMuchData(GraphError):
    """Graph refuses even one conversation with one message: its data cannot be read."""


@dataclass
class PageSizes:
    conversations: int
    messages: int
    max_conversations: int
    max_messages: int
    # Once Graph has refused a size, a run never asks for more than it accepted.
    refused_once: bool = False
    largest_accepted: int = 0
    full_pages_in_a_row: int = 0
    smallest_used: int = 0
    largest_used: int = 0

    @classmethod
    def start(cls, conversations: int, messages: int, *, max_conversations: int) -> PageSizes:
        return cls(
            conversations=conversations,
            messages=messages,
            max_conversations=max(conversations, max_conversations),
            max_messages=messages,
        )

    @classmethod
    def resume(cls, saved: dict[str, Any], fresh: PageSizes) -> PageSizes:
        """The sizes a checkpoint saved (what Graph accepted), within today's settings."""
        known = {k: v for k, v in saved.items() if k in cls.__dataclass_fields__}
        try:
            sizes = cls(**{**asdict(fresh), **known})
        except TypeError:
            return fresh
        sizes.max_conversations, sizes.max_messages = fresh.max_conversations, fresh.max_messages
        sizes.conversations = max(1, min(sizes.conversations, sizes.max_conversations))
        sizes.messages = max(1, min(sizes.messages, sizes.max_messages))
        return sizes

    # What the checkpoint keeps: what Graph taught the run (counters for growth and the
    # summary are per run, so they change with every page and are not saved).
    LEARNED = ("conversations", "messages", "refused_once", "largest_accepted")

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.LEARNED}

    def refused(self) -> None:
        """Graph answered code 1 to a call of this size: ask for less."""
        self.full_pages_in_a_row = 0
        self.refused_once = True
        if self.conversations > 1:
            self.conversations = max(1, self.conversations // 2)
        elif self.messages > 1:
            self.messages = max(1, self.messages // 2)
        else:
            raise TooMuchData(
                "Graph answers 'please reduce the amount of data' even for one conversation"
            )

    def accepted(self, *, conversations_returned: int) -> None:
        """A call of this size succeeded; after GROW_AFTER full pages, ask for more."""
        self.largest_accepted = max(self.largest_accepted, self.conversations)
        self.smallest_used = min(self.smallest_used or self.conversations, self.conversations)
        self.largest_used = max(self.largest_used, self.conversations)
        full = conversations_returned >= self.conversations
        self.full_pages_in_a_row = self.full_pages_in_a_row + 1 if full else 0
        if self.full_pages_in_a_row < GROW_AFTER:
            return
        self.full_pages_in_a_row = 0
        if self.messages < self.max_messages:
            self.messages = min(self.messages * 2, self.max_messages)
            return
        limit = self.largest_accepted if self.refused_once else self.max_conversations
        self.conversations = max(self.conversations, min(self.conversations * 2, limit))

    def describe(self) -> str:
        """The sizes a run used, for its summary; empty when they never changed."""
        if self.smallest_used in (0, self.largest_used):
            return ""
        return f"pages of {self.smallest_used}–{self.largest_used} conversations"
