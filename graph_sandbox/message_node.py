"""A message read as a node, ``GET /{message-id}?fields=…`` (graph-api.md §4.2), as Graph
answers it for a Page's own messages: the same fields as in a ``messages`` edge, with fresh
media URLs (the caller signs the body, as for every read). Used by fbsync to get a fresh URL
for an attachment whose old one expired.

Message ids are hashes, so the sandbox keeps an index from id to (conversation, index),
extended lazily with the messages appended since the last look-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .fields import FieldSpec, parse_fields

if TYPE_CHECKING:
    from .api import Renderer
    from .dataset import Conversation, Dataset
    from .errors import GraphError


class MessageIndex:
    """message id -> (conversation id, index), for every message the dataset holds."""

    def __init__(self) -> None:
        self.ids: dict[str, tuple[str, int]] = {}
        self.counted: dict[str, int] = {}  # conversation id -> messages indexed so far

    def find(self, dataset: Dataset, message_id: str) -> tuple[Conversation, int] | None:
        if not message_id.startswith("m_"):
            return None
        if message_id not in self.ids:
            self._extend(dataset)
        found = self.ids.get(message_id)
        if found is None:
            return None
        conv = dataset.conversations.get(found[0])
        if conv is None or found[1] >= conv.message_count:
            return None
        return conv, found[1]

    def _extend(self, dataset: Dataset) -> None:
        for conv in dataset.conversations.values():
            done = self.counted.get(conv.id, 0)
            if done >= conv.message_count:
                continue
            ids = dataset.message_ids(conv)  # newest first
            for index in range(done, conv.message_count):
                self.ids[ids[conv.message_count - 1 - index]] = (conv.id, index)
            self.counted[conv.id] = conv.message_count


def index_of(dataset: Dataset) -> MessageIndex:
    index = getattr(dataset, "_message_index", None)
    if index is None:
        index = MessageIndex()
        dataset._message_index = index  # type: ignore[attr-defined]
    return index


def route(dataset: Dataset, parts: list[str], missing: GraphError) -> tuple[Any, ...]:
    """The sandbox's route for a path whose first part names no Page nor conversation:
    a message node, or ``missing`` (Graph's "does not exist")."""
    found = index_of(dataset).find(dataset, parts[0]) if len(parts) == 1 else None
    if found is None:
        return "unknown", None, None, missing
    return "message", found[0].page, found[0], None


def render(renderer: Renderer, conv: Conversation) -> dict[str, Any]:
    """The message node the request's path names (``/{message-id}``)."""
    message_id = renderer.req.path.strip("/").split("/")[0]
    found = index_of(renderer.ds).find(renderer.ds, message_id)
    if found is None:  # routed here only when found
        raise errors.no_object(message_id)
    specs = parse_fields(renderer.req.params.get("fields")) or [
        FieldSpec("id"),
        FieldSpec("created_time"),
    ]
    return renderer.message(conv, renderer.ds.message(conv, found[1]), specs)
