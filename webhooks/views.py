"""Meta's webhook callback, `/webhooks/facebook/` (graph-api.md §8).

- GET is the verification handshake: `hub.mode=subscribe` and `hub.verify_token` equal to
  FACEBOOK_WEBHOOK_VERIFY_TOKEN echo `hub.challenge` as plain text; anything else is 403, and
  an unset verify token verifies nothing.
- POST is a delivery. Its `X-Hub-Signature-256` is checked over the raw bytes before anything
  is parsed: a missing or wrong one is 403, stores nothing and logs a warning without the body
  (a rotated app secret would otherwise fail every delivery silently). A body larger than
  FACEBOOK_WEBHOOK_MAX_BODY_BYTES is 413, unread. A signed delivery is stored raw (once: its
  sha256 is unique, so Meta's retries are stored once) with the people it mentions, answered
  200 at once, and processed on the task queue after commit. A signed body that is not JSON is
  stored and marked failed: still 200, since Meta sending it again would not make it JSON.

The only views without a login: Meta calls them, server to server, so they are exempt from
CSRF and proved by the signature instead.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from webhooks import events
from webhooks.models import DeliveryMention, WebhookDelivery
from webhooks.signatures import BadSignature, check_hub_signature
from webhooks.tasks import process_delivery_task

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def facebook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return handshake(request)
    return receive(request)


def handshake(request: HttpRequest) -> HttpResponse:
    expected = settings.FACEBOOK_WEBHOOK_VERIFY_TOKEN
    given = request.GET.get("hub.verify_token", "")
    if (
        request.GET.get("hub.mode") == "subscribe"
        and expected
        and constant_time_compare(given, expected)
    ):
        return _text(request.GET.get("hub.challenge", ""))
    logger.warning("Refused a webhook verification request (wrong mode or verify token)")
    return _text("Verification refused.", status=403)


def receive(request: HttpRequest) -> HttpResponse:
    limit = settings.FACEBOOK_WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        logger.warning("Refused a webhook delivery of %s bytes (limit %s)", declared, limit)
        return _text("Too large.", status=413)
    body = request.read(limit + 1)
    if len(body) > limit:
        logger.warning("Refused a webhook delivery over %s bytes", limit)
        return _text("Too large.", status=413)
    try:
        check_hub_signature(
            body, request.headers.get("X-Hub-Signature-256"), settings.FACEBOOK_APP_SECRET
        )
    except BadSignature as exc:
        logger.warning("Refused a webhook delivery: %s", exc)
        return _text("Bad signature.", status=403)
    store(body)
    return _text("EVENT_RECEIVED")


def store(body: bytes) -> WebhookDelivery:
    """Store a verified delivery once, with the people it mentions; queue it on commit."""
    defaults: dict = {"body": body}
    try:
        payload = events.decode(body)
    except events.NotJson as exc:
        payload = None
        defaults.update(
            status=WebhookDelivery.Status.FAILED,
            error=f"{exc}; kept as received.",
            processed_at=timezone.now(),
        )
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.get_or_create(
            sha256=hashlib.sha256(body).hexdigest(), defaults=defaults
        )
        if created and payload is not None:
            DeliveryMention.objects.bulk_create(
                [
                    DeliveryMention(delivery=delivery, page_facebook_id=page_id, psid=psid)
                    for page_id, psid in sorted(events.mentions_of(payload))
                ]
            )
            # robust: a failed enqueue is logged, not raised; housekeeping processes the
            # delivery later (webhooks.processing.retry_stalled).
            transaction.on_commit(lambda: process_delivery_task.enqueue(delivery.pk), robust=True)
    return delivery


def _text(content: str, *, status: int = 200) -> HttpResponse:
    return HttpResponse(content, status=status, content_type="text/plain; charset=utf-8")
