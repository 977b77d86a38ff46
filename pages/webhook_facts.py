"""What the Page screen says about a Page's webhooks: whether Graph last said this app is
subscribed to its messages (FacebookPage.webhook_fields, read back by a check at
webhook_checked_at), in words, and when a delivery last arrived (last_webhook_at)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pages.models import FacebookPage

# Meta's field names in words, in the order shown. Meta spells some two ways (graph-api.md
# §8.1): both are listed.
FIELD_WORDS = {
    "messages": "messages",
    "message_echoes": "echoes",
    "message_reads": "reads",
    "message_deliveries": "deliveries",
    "message_reactions": "reactions",
    "messaging_reactions": "reactions",
    "message_edits": "edits",
    "message_edit": "edits",
    "messaging_postbacks": "postbacks",
}


@dataclass(frozen=True)
class WebhookFacts:
    # Subscribed to `messages`: new messages arrive within a second, not only with syncs.
    subscribed: bool
    # What it is subscribed to, in words ("messages", "echoes", …; unknown names as Meta's).
    fields: list[str]
    checked_at: datetime | None
    last_received_at: datetime | None
    # Messages the syncs found that the webhooks had missed (FacebookPage.webhook_gap_messages).
    gap_messages: int = 0


def webhook_facts(page: FacebookPage) -> WebhookFacts:
    fields = [name for name in page.webhook_fields or [] if isinstance(name, str) and name]
    order = list(FIELD_WORDS)
    known = sorted((name for name in fields if name in FIELD_WORDS), key=order.index)
    words = list(dict.fromkeys(FIELD_WORDS[name] for name in known))
    words += sorted(name for name in fields if name not in FIELD_WORDS)
    return WebhookFacts(
        subscribed="messages" in fields,
        fields=words,
        checked_at=page.webhook_checked_at,
        last_received_at=page.last_webhook_at,
        gap_messages=page.webhook_gap_messages,
    )
