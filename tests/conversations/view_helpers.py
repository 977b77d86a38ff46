"""Helpers shared by the conversation screen tests (test_views*.py): reading the list's rows,
and hand-made pages, conversations and messages. The fixtures live in conftest.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.urls import reverse

from conversations.models import Contact, Conversation, Message

LIST_URL = reverse("conversations:list")
ROW_LINK = re.compile(r'<th scope="row"><a href="/conversations/(\d+)/">')


def listed_pks(response) -> list[int]:
    """The conversation pks of the rendered table rows, in order."""
    return [int(pk) for pk in ROW_LINK.findall(response.content.decode())]


def newest_first(queryset) -> list[int]:
    return list(queryset.order_by("-updated_time", "-id").values_list("pk", flat=True))


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    # 2026-08-03 is a Monday.
    return datetime(2026, 8, day, hour, minute, second, tzinfo=UTC)


def make_conversation(page, facebook_id, *, name, psid, folder="inbox", updated=None):
    contact = Contact.objects.create(page=page, psid=psid, name=name)
    return Conversation.objects.create(
        page=page,
        facebook_id=facebook_id,
        contact=contact,
        folder=folder,
        updated_time=updated or at(3, 12),
        message_count=3,
    )


def add_message(conversation, facebook_id, *, when, direction="in", text="", attachments=()):
    return Message.objects.create(
        page=conversation.page,
        conversation=conversation,
        facebook_id=facebook_id,
        sender_id=conversation.contact.psid if direction == "in" else conversation.page.facebook_id,
        sender_name=conversation.contact.name if direction == "in" else conversation.page.name,
        direction=direction,
        text=text,
        attachments=list(attachments),
        created_time=when,
    )
