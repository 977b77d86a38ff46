"""One conversation's screen: its thread in order, the contact, escaped text and every
attachment kind. Filled by hand, or by a real sync against the 60-conversation sandbox."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.models import Conversation, Message
from media import work
from tests.conversations.view_helpers import add_message, at, make_conversation

# ---- One conversation ----


@pytest.fixture
def thread(shop):
    conversation = make_conversation(
        shop, "t_thread", name="Zoë <b>Ferreira</b>", psid="90071992547409931", folder="pending"
    )
    # Inserted out of order; two share a timestamp (Graph has one-second resolution).
    add_message(
        conversation,
        "m_3",
        when=at(3, 10, 5),
        direction="out",
        text="Yes, size M. See https://shop.example/m",
    )
    add_message(
        conversation,
        "m_1",
        when=at(3, 10, 0),
        text="Is the blue one available?\nAnd in size M? <script>alert(1)</script>",
    )
    add_message(
        conversation,
        "m_2",
        when=at(3, 10, 0),
        attachments=[
            {
                "type": "image",
                "url": "https://scontent.xx.fbcdn.net/photo.jpg",
                "name": "photo.jpg",
                "mime_type": "image/jpeg",
                "size": 2048,
            },
            {"type": "sticker", "url": "https://scontent.xx.fbcdn.net/sticker.png"},
            {"type": "image", "url": "https://tracker.example/pixel.gif", "name": "pixel.gif"},
            {"type": "image", "url": "http://scontent.xx.fbcdn.net/plain.jpg", "name": "plain"},
            {"type": "video", "url": "https://cdn.example/clip.mp4", "name": "clip.mp4"},
            {"type": "audio", "url": "https://cdn.example/voice.mp4", "name": "voice.mp4"},
            {
                "type": "file",
                "url": "https://cdn.example/invoice.pdf",
                "name": "invoice.pdf",
                "mime_type": "application/pdf",
                "size": 1536,
            },
            {
                "type": "share",
                "url": "https://shop.example/bike",
                "name": "Blue bike",
                "description": "Our best seller",
            },
            {"type": "share", "url": "javascript:alert(1)", "name": "Sneaky"},
            {"type": "unknown", "name": "", "mime_type": ""},
            {"type": "hologram"},
        ],
    )
    return conversation


def test_conversation_detail_shows_messages_in_chronological_order(admin_client, thread):
    response = admin_client.get(reverse("conversations:detail", args=[thread.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    # m_1 and m_2 share a second: insertion (id) order breaks the tie.
    expected = [Message.objects.get(facebook_id=f).pk for f in ("m_1", "m_2", "m_3")]
    assert [int(pk) for pk in re.findall(r'id="message-(\d+)"', html)] == expected
    assert re.findall(r'<li class="msg (received|sent)"', html) == ["received", "received", "sent"]
    assert response.context["nav"] == "conversations"
    assert response.context["stored_count"] == 3


def test_conversation_detail_shows_contact_and_escapes_text(admin_client, thread):
    html = admin_client.get(reverse("conversations:detail", args=[thread.pk])).content.decode()
    assert "<h1><bdi>Zoë &lt;b&gt;Ferreira&lt;/b&gt;</bdi></h1>" in html
    assert "<code>90071992547409931</code>" in html
    assert "<dd>Pending</dd>" in html
    assert "<dd>3 stored</dd>" in html
    assert '<a href="https://shop.example/m" rel="nofollow">https://shop.example/m</a>' in html
    assert (
        "<p>Is the blue one available?<br>And in size M? "
        "&lt;script&gt;alert(1)&lt;/script&gt;</p>" in html
    )
    assert "<script>alert(1)" not in html
    # The thread is not mistaken for django.contrib.messages (base.html's `messages`).
    assert '<ul class="messages"' not in html


def test_conversation_detail_renders_each_attachment_kind(admin_client, thread):
    html = admin_client.get(reverse("conversations:detail", args=[thread.pk])).content.decode()
    # Media show only once kept, through our own view (tests/media): until then each says it
    # is downloading. No CDN address is ever rendered, nor a picture from elsewhere.
    for host in ("fbcdn.net", "tracker.example", "cdn.example"):
        assert host not in html
    assert html.count("Downloading…") == 7
    assert '<span aria-hidden="true">🖼</span> <bdi>photo.jpg</bdi></span>' in html
    assert '<span aria-hidden="true">🙂</span> Sticker</span>' in html
    assert '<span aria-hidden="true">🎬</span> <bdi>clip.mp4</bdi></span>' in html
    assert '<span aria-hidden="true">🔊</span> <bdi>voice.mp4</bdi></span>' in html
    assert "📎</span> <bdi>invoice.pdf</bdi></span>" in html
    assert (
        '<a href="https://shop.example/bike" rel="noopener noreferrer"><bdi>Blue bike</bdi></a>'
        in html
    )
    assert '<span class="muted link-host">shop.example</span>' in html
    assert '<p class="muted" dir="auto">Our best seller</p>' in html
    # A non-http link is shown as text, never as a link.
    assert "javascript:" not in html
    assert "<bdi>Sneaky</bdi>" in html
    assert html.count("Unsupported attachment") == 2


def test_conversation_detail_without_contact_says_unknown_user(admin_client, shop):
    conversation = Conversation.objects.create(
        page=shop, facebook_id="t_anon", updated_time=at(4, 9), folder="inbox"
    )
    html = admin_client.get(
        reverse("conversations:detail", args=[conversation.pk])
    ).content.decode()
    assert "<h1><bdi>Unknown user</bdi></h1>" in html
    assert "No messages stored for this conversation." in html


def test_conversation_detail_of_synced_thread_matches_the_database(
    admin_client, synced, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    work.collect(synced.pk)  # what the media tasks do after the sync's commits
    assert work.download_due(synced.pk, seconds=60)
    first_image = Message.objects.filter(attachments__0__type="image").order_by("pk").first()
    conversation = first_image.conversation
    response = admin_client.get(reverse("conversations:detail", args=[conversation.pk]))
    html = response.content.decode()
    expected = list(
        conversation.messages.order_by("created_time", "id").values_list("pk", flat=True)
    )
    assert [int(pk) for pk in re.findall(r'id="message-(\d+)"', html)] == expected
    images = [
        a
        for m in conversation.messages.all()
        for a in m.attachments
        if a["type"] == "image" and a.get("url")
    ]
    assert html.count('loading="lazy" alt="image-') == len(images) > 0
    assert html.count('<img src="/media/') == len(images)  # kept: never the CDN's address


def test_conversation_detail_unknown_pk_is_404(admin_client, db):
    assert admin_client.get(reverse("conversations:detail", args=[424242])).status_code == 404


def test_thread_times_are_in_the_readers_timezone_and_say_which(admin_client, shop):
    conversation = make_conversation(shop, "t_tz", name="דוד כהן", psid="7", updated=at(3, 15))
    add_message(conversation, "m_tz", when=at(3, 12, 5), text="שלום")
    url = reverse("conversations:detail", args=[conversation.pk])

    html = admin_client.get(url).content.decode()
    assert '<time datetime="2026-08-03T12:05:00+00:00">2026-08-03 12:05 UTC</time>' in html

    admin_client.cookies["tz"] = "Asia/Tokyo"
    html = admin_client.get(url).content.decode()
    # The name is isolated from the separator and the time that follow it.
    assert '<bdi class="sender">דוד כהן</bdi>' in html
    assert '<span class="sep" aria-hidden="true">·</span> <time' in html
    assert '<time datetime="2026-08-03T21:05:00+09:00">2026-08-03 21:05 JST</time>' in html
    assert '<dd><time datetime="2026-08-04T00:00:00+09:00">2026-08-04 00:00 JST</time></dd>' in html


def test_list_times_are_relative_with_the_labelled_time_in_the_title(admin_client, shop):
    make_conversation(shop, "t_now", name="Ana", psid="8", updated=timezone.now())
    admin_client.cookies["tz"] = "Europe/Lisbon"
    html = admin_client.get(reverse("conversations:list")).content.decode()
    match = re.search(r'<time datetime="[^"]+" title="([^"]+)">([^<]+)</time>', html)
    assert match is not None
    title, shown = match.groups()
    assert shown == "just now"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d WES?T", title)
