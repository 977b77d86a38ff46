"""The fields a sync asks Graph for, and dropping one that Graph no longer has.

Meta removes fields between API versions (`subject` went in 2025). Graph then refuses the
whole call with "(#100) Tried accessing nonexisting field (NAME) on node type (…)". A sync
drops such a field and asks again, so one removed field never stops every sync; the fields
a sync cannot do without (ids and times) are never dropped: losing one is a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from pages.graph.errors import GraphError

CONVERSATION_FIELDS = (
    "id",
    "updated_time",
    "message_count",
    "unread_count",
    "snippet",
    "can_reply",
    "participants",
)
MESSAGE_FIELDS = (
    "id",
    "created_time",
    "from",
    "to",
    "message",
    "attachments{id,mime_type,name,size,file_url,image_data,video_data}",
    "sticker",
    "shares{link,name,description}",
)
REQUIRED_FIELDS = frozenset({"id", "updated_time", "created_time"})
NONEXISTING_FIELD = re.compile(r"nonexisting field \(([A-Za-z0-9_]+)\)")


class RequiredFieldRemoved(GraphError):
    """Graph no longer returns a field the sync cannot work without."""


def removed_field(error: GraphError) -> str | None:
    """The field a "(#100) Tried accessing nonexisting field (NAME)" error names."""
    if error.code != 100:
        return None
    match = NONEXISTING_FIELD.search(str(error))
    return match.group(1) if match else None


def _name(field: str) -> str:
    return field.split("{", 1)[0].split(".", 1)[0]


@dataclass(frozen=True)
class FieldSet:
    messages_limit: int
    conversation: tuple[str, ...] = CONVERSATION_FIELDS
    message: tuple[str, ...] = MESSAGE_FIELDS

    def messages_spec(self) -> str:
        return ",".join(self.message)

    def conversations_spec(self) -> str:
        """A conversation's fields with its newest messages nested."""
        nested = f"messages.limit({self.messages_limit}){{{self.messages_spec()}}}"
        return ",".join((*self.conversation, nested))

    def without(self, field: str) -> FieldSet:
        """These fields less `field` (wherever it is asked for). Raises RequiredFieldRemoved
        for a field the sync needs, and GraphError when it is not asked for at all (the
        error is then about something else)."""
        if field in REQUIRED_FIELDS:
            raise RequiredFieldRemoved(
                f"Graph no longer returns the field {field!r}, which the sync needs"
            )
        conversation = tuple(f for f in self.conversation if _name(f) != field)
        message = tuple(f for f in self.message if _name(f) != field)
        if (conversation, message) == (self.conversation, self.message):
            raise GraphError(f"Graph refused the field {field!r}, which the sync does not ask for")
        return replace(self, conversation=conversation, message=message)

    def without_known(self, fields: Iterable[str]) -> FieldSet:
        """These fields less those a Page's findings list as gone (pages.sync.findings
        .degraded_fields), so a later run does not pay a refused call to learn it again. A
        required field or one not asked for is kept: only Graph's answer can drop it."""
        names = {field for field in fields if field not in REQUIRED_FIELDS}
        return replace(
            self,
            conversation=tuple(f for f in self.conversation if _name(f) not in names),
            message=tuple(f for f in self.message if _name(f) not in names),
        )

    def with_messages_limit(self, limit: int) -> FieldSet:
        return replace(self, messages_limit=limit)
