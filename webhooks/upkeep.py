"""What the workers' housekeeping (pages.schedule) does for webhooks, every round:

- processes the deliveries left behind (webhooks.processing.retry_stalled);
- reads back the subscription of each connected Page whose last check is older than
  FACEBOOK_WEBHOOK_CHECK_SECONDS, and subscribes it again when fields are missing: Meta
  silently unsubscribes an app whose deliveries failed for about an hour (graph-api.md §8.4).
  What Graph read back is stored in `webhook_fields`. A due Page is claimed with a conditional
  UPDATE of `webhook_checked_at` (one worker checks it); a failed check waits for the next
  interval, logged without the token.

Webhooks are in use only when both the app secret (which verifies deliveries) and the verify
token (which Meta's handshake needs) are set; without them no Page is checked.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from pages.graph import subscriptions
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError
from pages.models import FacebookPage
from webhooks.processing import retry_stalled

logger = logging.getLogger(__name__)

# Pages checked per round at most (each check is one or three Graph calls).
CHECKS_PER_ROUND = 10
# Housekeeping must not wait out a long rate-limit pause: the check waits for the next round.
MAX_INLINE_PAUSE = 5.0


def webhooks_configured() -> bool:
    return bool(settings.FACEBOOK_APP_SECRET and settings.FACEBOOK_WEBHOOK_VERIFY_TOKEN)


def webhook_housekeeping() -> None:
    retry_stalled()
    if webhooks_configured():
        check_subscriptions()


def check_subscriptions() -> list[FacebookPage]:
    """Check the Pages that are due; returns those checked."""
    now = timezone.now()
    due_before = now - timedelta(seconds=settings.FACEBOOK_WEBHOOK_CHECK_SECONDS)
    due = (
        FacebookPage.objects.filter(token_status=FacebookPage.TokenStatus.OK)
        .exclude(encrypted_access_token="")
        .exclude(webhook_checked_at__gte=due_before)
        .order_by("webhook_checked_at", "pk")[:CHECKS_PER_ROUND]
    )
    checked = []
    for page in due:
        if not page.take_turn("webhook_checked_at", now):
            continue  # another worker took it
        check_page(page)
        checked.append(page)
    return checked


def check_page(page: FacebookPage) -> list[str] | None:
    """Read the Page's subscription back, renew it when fields are missing, and store what
    Graph says now; None when Graph could not be asked."""
    client = GraphClient.for_page(page, max_inline_pause=MAX_INLINE_PAUSE)
    try:
        fields = subscriptions.subscribed_fields(client, page.facebook_id)
        missing = subscriptions.missing_fields(fields)
        if missing:
            logger.warning(
                "Page %s lacks webhook fields %s; subscribing again", page.pk, ",".join(missing)
            )
            # Keep any other field the app subscribed, whether a POST adds to the list or
            # replaces it.
            wanted = tuple(dict.fromkeys([*subscriptions.WEBHOOK_FIELDS, *fields]))
            fields = subscriptions.subscribe(client, page.facebook_id, wanted)
    except GraphError as exc:
        # GraphError texts are scrubbed of tokens (pages.graph.errors).
        logger.warning("Could not check the webhooks of page %s: %s", page.pk, exc)
        return None
    page.record_webhook_fields(fields)
    if subscriptions.missing_fields(fields):
        logger.warning("Page %s is still not subscribed to every webhook field", page.pk)
    return fields
