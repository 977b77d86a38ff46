"""What the conversation list shows as a thread's last message. Graph's `snippet` is the last
message's text, so it is empty when that message is only a photo, a sticker or a file: the list
then says what the message holds ("📷 Photo", "Sticker", "📎 File"), never an empty cell."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery

from conversations.models import Conversation, Message

# Per attachment kind: an icon (decorative: the words say the same to a screen reader), the
# words for one, and for several.
ATTACHMENT_LABELS: dict[str, tuple[str, str, str]] = {
    "image": ("📷", "Photo", "photos"),
    "sticker": ("", "Sticker", "stickers"),
    "video": ("🎬", "Video", "videos"),
    "audio": ("🔊", "Audio", "audio clips"),
    "file": ("📎", "File", "files"),
    "share": ("🔗", "Link", "links"),
    "unknown": ("📎", "Attachment", "attachments"),
}


@dataclass(frozen=True)
class ListSnippet:
    text: str
    # Shown before the text, hidden from screen readers.
    icon: str = ""
    # The text describes the message ("Photo") rather than quoting it: shown as a label.
    describes: bool = False


NO_MESSAGES = ListSnippet("No messages stored", describes=True)


def attachment_snippet(attachments: Any) -> ListSnippet | None:
    """ "📷 Photo", "📷 3 photos", "Sticker", "📎 2 attachments" (kinds mixed); None without any."""
    if not isinstance(attachments, list):
        return None
    kinds = [
        item.get("type") if item.get("type") in ATTACHMENT_LABELS else "unknown"
        for item in attachments
        if isinstance(item, dict)
    ]
    if not kinds:
        return None
    if len(set(kinds)) > 1:
        icon, _, many = ATTACHMENT_LABELS["unknown"]
        return ListSnippet(f"{len(kinds)} {many}", icon, describes=True)
    icon, one, many = ATTACHMENT_LABELS[kinds[0]]
    return ListSnippet(one if len(kinds) == 1 else f"{len(kinds)} {many}", icon, describes=True)


def snippet_of(snippet: str, last_message: Message | None) -> ListSnippet:
    """Graph's snippet when it has one; else the last stored message's text, or what its
    attachments are."""
    if snippet.strip():
        return ListSnippet(snippet)
    if last_message is None:
        return NO_MESSAGES
    if last_message.text.strip():
        return ListSnippet(last_message.text)
    return attachment_snippet(last_message.attachments) or ListSnippet(
        "Empty message", describes=True
    )


def add_list_snippets(conversations: Iterable[Conversation]) -> None:
    """Set `list_snippet` on each conversation of a list page. Only those without a Graph
    snippet need their last message: one query for all of them."""
    conversations = list(conversations)
    without = [c.pk for c in conversations if not c.snippet.strip()]
    last_messages: dict[int, Message] = {}
    if without:
        newest = (
            Message.objects.filter(conversation=OuterRef("pk"))
            .order_by("-created_time", "-id")
            .values("pk")[:1]
        )
        newest_ids = (
            Conversation.objects.filter(pk__in=without)
            .annotate(newest=Subquery(newest))
            .values("newest")
        )
        for message in Message.objects.filter(pk__in=newest_ids).only(
            "conversation_id", "text", "attachments"
        ):
            last_messages[message.conversation_id] = message
    for conversation in conversations:
        conversation.list_snippet = snippet_of(
            conversation.snippet, last_messages.get(conversation.pk)
        )
