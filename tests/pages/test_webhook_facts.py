"""What the Page screen says about a Page's webhooks (pages/webhook_facts.py): when a delivery
last arrived, and whether Graph last said this app is subscribed to its messages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pages.models import FacebookPage
from pages.panel import render_event
from pages.webhook_facts import webhook_facts


@pytest.fixture
def shop(db) -> FacebookPage:
    return FacebookPage.objects.create(facebook_id="10000000000000001", name="Bike Shop")


def fact(html: str, fact_id: str) -> str:
    """The text of one fact, tags dropped, spaces squashed (no-break spaces kept)."""
    match = re.search(rf'<dd id="{fact_id}">(.*?)</dd>', html, re.S)
    assert match, fact_id
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_fields_in_words_in_a_fixed_order_with_both_spellings_and_unknown_ones_kept():
    page = FacebookPage(
        webhook_fields=[
            "message_reads",
            "messaging_reactions",
            "message_edit",
            "messages",
            "message_echoes",
            "message_reactions",
            "feed",
            "",
            7,
        ]
    )
    facts = webhook_facts(page)
    assert facts.subscribed
    assert facts.fields == ["messages", "echoes", "reads", "reactions", "edits", "feed"]


def test_reads_alone_are_not_a_subscription_to_messages():
    facts = webhook_facts(FacebookPage(webhook_fields=["message_reads"]))
    assert not facts.subscribed
    assert facts.fields == ["reads"]


def test_a_page_never_checked_nor_reached_says_so(admin_client, shop):
    html = admin_client.get(reverse("pages:detail", args=[shop.pk])).content.decode()
    assert fact(html, "fact-last-webhook") == "Never"
    assert fact(html, "fact-webhooks") == (
        "Not subscribed — new messages arrive only with syncs (not checked yet)"
    )


def test_a_subscribed_page_says_to_what_and_when_it_was_checked(admin_client, shop):
    now = timezone.now()
    shop.webhook_fields = ["messages", "message_echoes", "message_reads"]
    shop.webhook_checked_at = now - timedelta(minutes=5)
    shop.last_webhook_at = now - timedelta(seconds=20)
    shop.save()
    html = admin_client.get(reverse("pages:detail", args=[shop.pk])).content.decode()
    assert fact(html, "fact-last-webhook") == "just now"
    assert fact(html, "fact-webhooks") == (
        "Subscribed to messages, echoes, reads (checked 5 minutes ago)"
    )
    # The times tick in the browser (static/js/countdown.js), as the card's others do.
    assert f'<time datetime="{shop.last_webhook_at.isoformat()}" data-ago>' in html


def test_an_unsubscribed_page_says_new_messages_come_only_with_syncs(shop):
    shop.webhook_fields = ["message_reads"]
    shop.webhook_checked_at = timezone.now() - timedelta(hours=2)
    shop.last_webhook_at = timezone.now() - timedelta(days=3)
    shop.save()
    # The live event renders the same facts as a page load.
    html = render_event(shop)
    assert fact(html, "fact-last-webhook") == "3\xa0days ago"
    assert fact(html, "fact-webhooks") == (
        "Not subscribed to messages (only reads) — new messages arrive only with syncs"
        " (checked 2 hours ago)"
    )


def test_messages_the_webhooks_missed_are_shown_only_when_there_are_some(admin_client, shop):
    url = reverse("pages:detail", args=[shop.pk])
    assert 'id="fact-webhook-gaps"' not in admin_client.get(url).content.decode()
    FacebookPage.objects.filter(pk=shop.pk).update(webhook_gap_messages=1204)
    html = admin_client.get(url).content.decode()
    assert fact(html, "fact-webhook-gaps") == "1,204 messages reached fbsync only through a sync"
