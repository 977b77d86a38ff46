"""Webhook bodies of the sandbox's own messages (what its webhook sender would post), and the
inbox state of a page compared field by field (helpers for tests/webhooks)."""

from __future__ import annotations

from typing import Any

from conversations.models import Conversation, InteractionEvent, Message
from graph_sandbox.webhook_events import message_item
from pages.models import FacebookPage

# Webhook timestamps are milliseconds; Graph's created_time has whole seconds.
MILLISECONDS = 523


def message_items(server, page: FacebookPage, conversation_id: str, newest: int = 1) -> list:
    """The webhook items of the conversation's `newest` messages, oldest first, as Meta sends
    them (mid = Graph id, attachments in the webhook shape, a millisecond timestamp)."""
    sandbox = server.sandbox
    with sandbox.lock:
        conv = sandbox.dataset.pages[page.facebook_id].conversations[conversation_id]
        total = conv.message_count
        messages = [sandbox.dataset.message(conv, i) for i in range(total - newest, total)]
        items = []
        for msg in messages:
            _kind, item = message_item(page.facebook_id, conv.psid, msg, sandbox.tokens.app_id)
            item["timestamp"] += MILLISECONDS
            items.append(item)
    return items


def inbox_state(page: FacebookPage) -> dict[str, Any]:
    """Every field a sync writes, keyed by natural keys (no pk, no write times, no pass id)."""
    conversations = {
        c["facebook_id"]: c
        for c in Conversation.objects.filter(page=page).values(
            "facebook_id",
            "folder",
            "contact__psid",
            "contact__name",
            "updated_time",
            "last_message_at",
            "message_count",
            "unread_count",
            "snippet",
            "can_reply",
            "synced_updated_time",
        )
    }
    messages = {
        m["facebook_id"]: m
        for m in Message.objects.filter(page=page).values(
            "facebook_id",
            "conversation__facebook_id",
            "sender_id",
            "sender_name",
            "direction",
            "text",
            "attachments",
            "created_time",
            "webhook_copy",
        )
    }
    events = sorted(
        InteractionEvent.objects.filter(page=page).values_list(
            "kind", "source_id", "conversation__facebook_id", "contact__psid", "occurred_at"
        )
    )
    # The order threads show (ties within a second by insertion: Graph's order).
    order = list(
        Message.objects.filter(page=page)
        .order_by("conversation__facebook_id", "created_time", "id")
        .values_list("facebook_id", flat=True)
    )
    return {"conversations": conversations, "messages": messages, "events": events, "order": order}
