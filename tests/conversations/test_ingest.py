"""Parsing what Graph returns: missing keys, nulls, odd attachments, nameless users."""

from datetime import UTC, datetime

import pytest

from conversations.ingest import ingest_conversation
from conversations.models import Contact, Conversation, InteractionEvent, Message
from conversations.parsing import (
    BadConversationData,
    parse_attachments,
    parse_conversation,
    parse_message,
)
from pages.models import FacebookPage

PAGE_ID = "10000000000000001"


def raw_conversation(**overrides):
    conversation = {
        "id": "t_123",
        "updated_time": "2026-08-01T10:22:31+0000",
        "message_count": 2,
        "participants": {
            "data": [
                {"id": "90071992547409931", "name": "Zoë 🚲 Ferreira"},
                {"id": PAGE_ID, "name": "Shop"},
            ]
        },
        "messages": {
            "data": [
                {
                    "id": "m_2",
                    "created_time": "2026-08-01T10:22:31+0000",
                    "from": {"id": PAGE_ID, "name": "Shop"},
                    "message": "Yes!",
                },
                {
                    "id": "m_1",
                    "created_time": "2026-08-01T10:22:31+0000",
                    "from": {"id": "90071992547409931"},
                    "message": None,
                },
            ]
        },
    }
    conversation.update(overrides)
    return conversation


def test_parse_conversation_tolerates_missing_keys_and_nulls():
    data = parse_conversation(raw_conversation(), PAGE_ID, "inbox")
    assert data.contact_psid == "90071992547409931"
    assert data.contact_name == "Zoë 🚲 Ferreira"
    assert data.snippet == ""
    assert data.unread_count == 0
    assert data.can_reply is True
    assert [m.text for m in data.messages] == ["Yes!", ""]
    assert [m.direction for m in data.messages] == ["out", "in"]
    assert data.messages[1].sender_name is None
    assert data.older_messages is None


def test_parse_conversation_of_deleted_user_has_no_name():
    raw = raw_conversation(
        participants={"data": [{"id": "555"}, {"id": PAGE_ID, "name": "Shop"}]}, can_reply=False
    )
    data = parse_conversation(raw, PAGE_ID, "spam")
    assert (data.contact_psid, data.contact_name, data.can_reply, data.folder) == (
        "555",
        None,
        False,
        "spam",
    )


def test_parse_conversation_without_id_or_time_is_bad_data():
    with pytest.raises(BadConversationData):
        parse_conversation({"updated_time": "2026-08-01T10:22:31+0000"}, PAGE_ID, "inbox")
    with pytest.raises(BadConversationData):
        parse_conversation(raw_conversation(updated_time="yesterday"), PAGE_ID, "inbox")
    with pytest.raises(BadConversationData):
        parse_conversation(raw_conversation(messages={"data": "nope"}), PAGE_ID, "inbox")


def test_parse_conversation_keeps_the_cursor_only_when_next_exists():
    raw = raw_conversation()
    raw["messages"]["paging"] = {"cursors": {"after": "abc"}}
    assert parse_conversation(raw, PAGE_ID, "inbox").older_messages is None
    raw["messages"]["paging"]["next"] = "https://example/next"
    assert parse_conversation(raw, PAGE_ID, "inbox").older_messages == "abc"


def test_parse_attachments_normalises_known_and_unknown_kinds():
    raw = {
        "attachments": {
            "data": [
                {
                    "id": "1",
                    "mime_type": "image/jpeg",
                    "name": "a.jpg",
                    "size": 10,
                    "image_data": {"url": "https://cdn/a.jpg"},
                },
                {"id": "2", "image_data": {"url": "https://cdn/s.png", "render_as_sticker": True}},
                {"id": "3", "mime_type": "video/mp4", "video_data": {"url": "https://cdn/v.mp4"}},
                {
                    "id": "4",
                    "mime_type": "application/pdf",
                    "name": "a.pdf",
                    "file_url": "https://cdn/a.pdf",
                },
                {"id": "5", "generic_template": {"title": "?"}},
                "garbage",
            ]
        },
        "sticker": "https://cdn/sticker.png",
        "shares": {"data": [{"link": "https://example.com", "name": "Example"}]},
    }
    kinds = [a["type"] for a in parse_attachments(raw)]
    assert kinds == ["image", "sticker", "video", "file", "unknown", "sticker", "share"]


def test_parse_message_keeps_long_text_whole():
    text = "é" * 5000
    message = parse_message(
        {"id": "m_1", "created_time": "2026-08-01T10:22:31+0000", "message": text}, PAGE_ID
    )
    assert message.text == text
    assert message.created_time == datetime(2026, 8, 1, 10, 22, 31, tzinfo=UTC)


@pytest.mark.django_db
def test_ingest_conversation_twice_yields_the_same_rows():
    page = FacebookPage.objects.create(facebook_id=PAGE_ID)
    data = parse_conversation(raw_conversation(), PAGE_ID, "inbox")

    first = ingest_conversation(
        page.pk, data, known=None, new_messages=data.messages, sync_pass="a"
    )
    second = ingest_conversation(
        page.pk, data, known=None, new_messages=data.messages, sync_pass="a"
    )

    assert first.created
    assert first.events_created == 3
    assert second.created  # told nothing was known, yet the upserts absorb the replay
    assert (Contact.objects.count(), Conversation.objects.count()) == (1, 1)
    assert Message.objects.count() == 2
    assert InteractionEvent.objects.count() == 3
    # Equal timestamps: chronological order is Graph's order reversed.
    assert list(Message.objects.values_list("facebook_id", flat=True)) == ["m_1", "m_2"]


@pytest.mark.django_db
def test_ingest_keeps_a_known_name_when_the_user_is_deleted():
    page = FacebookPage.objects.create(facebook_id=PAGE_ID)
    data = parse_conversation(raw_conversation(), PAGE_ID, "inbox")
    ingest_conversation(page.pk, data, known=None, new_messages=data.messages, sync_pass="a")
    nameless = raw_conversation(participants={"data": [{"id": "90071992547409931"}]})
    data = parse_conversation(nameless, PAGE_ID, "inbox")
    ingest_conversation(page.pk, data, known=None, new_messages=[], sync_pass="b")
    assert Contact.objects.get().name == "Zoë 🚲 Ferreira"
