"""Helpers of the privacy tests: signed requests as Meta sends them, and the database's rows
by natural key, to compare before and after."""

from __future__ import annotations

import hashlib
import json

from conversations.models import Contact, Conversation, InteractionEvent, Message
from pages.models import FacebookPage
from webhooks.events import mentions_of
from webhooks.models import DeliveryMention, WebhookDelivery
from webhooks.signatures import make_signed_request

APP_SECRET = "privacy-app-secret"
DEAUTHORIZE_URL = "/privacy/facebook/deauthorize/"
DELETION_URL = "/privacy/facebook/data-deletion/"


def signed(user_id: str, secret: str = APP_SECRET, **extra) -> str:
    return make_signed_request({"user_id": user_id, "issued_at": 1_790_000_000, **extra}, secret)


def rows() -> dict[str, set[tuple]]:
    """Every inbox row, by natural key."""
    return {
        "contacts": set(Contact.objects.values_list("page__facebook_id", "psid")),
        "conversations": set(Conversation.objects.values_list("page__facebook_id", "facebook_id")),
        "messages": set(Message.objects.values_list("page__facebook_id", "facebook_id")),
        "events": set(
            InteractionEvent.objects.values_list("page__facebook_id", "kind", "source_id")
        ),
    }


def person_in_truth(server, page_id: str, index: int = 0) -> dict:
    """One person of a sandbox Page, as the sandbox says it serves them: their PSID and the
    natural keys of their rows (their conversation, its messages, and the events of both)."""
    conversation = server.sandbox.truth(page_id)["conversations"][index]
    message_ids = set(conversation["message_ids"])
    return {
        "psid": conversation["participant"]["id"],
        "contacts": {(page_id, conversation["participant"]["id"])},
        "conversations": {(page_id, conversation["id"])},
        "messages": {(page_id, message_id) for message_id in message_ids},
        "event_sources": message_ids | {conversation["id"]},
    }


def without_person(before: dict[str, set[tuple]], person: dict) -> dict[str, set[tuple]]:
    """`before` minus exactly that person's rows."""
    page_id = next(iter(person["contacts"]))[0]
    return {
        "contacts": before["contacts"] - person["contacts"],
        "conversations": before["conversations"] - person["conversations"],
        "messages": before["messages"] - person["messages"],
        "events": {
            (page, kind, source)
            for page, kind, source in before["events"]
            if not (page == page_id and source in person["event_sources"])
        },
    }


def hand_made_inbox(*, user_id: str) -> tuple:
    """A Page connected (with Facebook Login) by `user_id`, and a contact whose PSID is the
    same id (as in the sandbox's single id space), with a conversation, a message and an
    event; plus a Page and a contact of someone else."""
    page = FacebookPage(facebook_id="20000000000000001", name="Bike Shop")
    page.access_token = "EAAB-page-token"
    page.facebook_user_id = user_id
    page.webhook_fields = ["messages"]
    page.save()
    other_page = FacebookPage(facebook_id="20000000000000002", name="Book Shop")
    other_page.access_token = "EAAB-other-token"
    other_page.facebook_user_id = "777"
    other_page.save()
    for owner, psid in ((page, user_id), (page, "555"), (other_page, "666")):
        contact = Contact.objects.create(page=owner, psid=psid, name=f"Person {psid}")
        conversation = Conversation.objects.create(
            page=owner,
            facebook_id=f"t_{psid}",
            contact=contact,
            updated_time="2026-01-02T00:00:00Z",
        )
        Message.objects.create(
            page=owner,
            conversation=conversation,
            facebook_id=f"m_{psid}",
            sender_id=psid,
            direction=Message.Direction.INBOUND,
            text="Hello",
            created_time="2026-01-02T00:00:00Z",
        )
        InteractionEvent.objects.create(
            page=owner,
            conversation=conversation,
            contact=contact,
            kind=InteractionEvent.Kind.MESSAGE_RECEIVED,
            source_id=f"m_{psid}",
            occurred_at="2026-01-02T00:00:00Z",
        )
    return page, other_page


def store_delivery(page_id: str, *psids: str) -> WebhookDelivery:
    """A raw delivery as Meta sends it (one message from each of `psids` to the Page), kept
    with the mentions the webhooks app finds in it."""
    payload = {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": 1_785_312_004_871,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": page_id},
                        "timestamp": 1_785_312_004_523,
                        "message": {"mid": f"m_hook_{psid}", "text": "Hi"},
                    }
                    for psid in psids
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    delivery = WebhookDelivery.objects.create(body=body, sha256=hashlib.sha256(body).hexdigest())
    mentions = mentions_of(payload)
    assert mentions == {(page_id, psid) for psid in psids}
    DeliveryMention.objects.bulk_create(
        DeliveryMention(delivery=delivery, page_facebook_id=page, psid=psid)
        for page, psid in mentions
    )
    return delivery
