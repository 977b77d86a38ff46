"""Webhook bodies built by hand, signed and posted like Meta's (helpers for tests/webhooks)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.test import Client, TestCase

from conversations.models import Contact, Conversation
from pages.models import FacebookPage
from webhooks.models import WebhookDelivery
from webhooks.processing import process_delivery
from webhooks.signatures import sign_body
from webhooks.views import store

SECRET = "webhook-test-secret"
URL = "/webhooks/facebook/"
PAGE_ID = "10000000000000001"
PSID = "7392015648120394"
T0 = 1_785_312_004_523  # epoch ms: 2026-07-29T08:00:04.523Z


def item(kind: str, value: dict[str, Any], *, psid: str = PSID, page_id: str = PAGE_ID,
         at: int = T0, from_page: bool = False) -> dict[str, Any]:  # fmt: skip
    sender, recipient = (page_id, psid) if from_page else (psid, page_id)
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": at, kind: value}


def message(mid: str, text: str = "Do you ship to Lisbon?", **kwargs: Any) -> dict[str, Any]:
    extra = kwargs.pop("extra", {})
    return item("message", {"mid": mid, "text": text, **extra}, **kwargs)


def echo(mid: str, text: str = "Yes, we do.", **kwargs: Any) -> dict[str, Any]:
    body = {"mid": mid, "text": text, "is_echo": True, "app_id": 263902037430900}
    return item("message", body, from_page=True, **kwargs)


def body(*items: dict[str, Any], page_id: str = PAGE_ID, standby: bool = False) -> bytes:
    key = "standby" if standby else "messaging"
    envelope = {"object": "page", "entry": [{"id": page_id, "time": T0, key: list(items)}]}
    # As Meta writes it: ASCII with \uXXXX escapes and "/" escaped (graph-api.md §8.3).
    return json.dumps(envelope, separators=(",", ":")).replace("/", "\\/").encode()


def post(client: Client, raw: bytes, *, secret: str = SECRET, signature: str | None = None):
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature or sign_body(raw, secret)}
    return client.post(URL, data=raw, content_type="application/json", **headers)


def deliver(
    *items: dict[str, Any], standby: bool = False, page_id: str = PAGE_ID
) -> WebhookDelivery:
    """Store a delivery as the view does and process it at once (the task's work)."""
    delivery = store(body(*items, standby=standby, page_id=page_id))
    # The test's transaction never commits: run what processing defers to its commit.
    with TestCase.captureOnCommitCallbacks(execute=True):
        process_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def make_thread(page: FacebookPage, *, psid: str = PSID, name: str | None = "Ana Lima",
                facebook_id: str = "t_1", updated: datetime) -> Conversation:  # fmt: skip
    contact = Contact.objects.create(page=page, psid=psid, name=name)
    return Conversation.objects.create(
        page=page, facebook_id=facebook_id, contact=contact, updated_time=updated,
        last_message_at=updated, snippet="Hello", message_count=3,
    )  # fmt: skip
