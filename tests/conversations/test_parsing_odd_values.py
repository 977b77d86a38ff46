"""Parsing odd values (issue 11): what conversations.parsing returns always fits its columns,
even for data that did not go through pages.graph.payload.parse_json (as response.json() or
json.loads would give it: NULs, lone surrogates, inf, huge ints)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations.ingest import ingest_conversation
from conversations.models import Conversation, Message
from conversations.parsing import (
    MAX_COUNT,
    BadConversationData,
    parse_attachments,
    parse_conversation,
    parse_time,
)
from pages.models import FacebookPage
from tests.conversations.test_ingest import PAGE_ID, raw_conversation

PSID = "90071992547409931"


def message(**overrides):
    raw = {
        "id": "m_1",
        "created_time": "2026-08-01T10:22:31+0000",
        "from": {"id": PSID, "name": "Zoë"},
        "message": "Hi",
    }
    raw.update(overrides)
    return raw


def conversation_with(*messages, **overrides):
    return raw_conversation(messages={"data": list(messages)}, **overrides)


def parse(raw):
    return parse_conversation(raw, PAGE_ID, "inbox")


def test_nul_characters_are_dropped_from_every_stored_string():
    raw = conversation_with(
        message(
            message="Hello\x00 there",
            **{"from": {"id": PSID, "name": "Zo\x00ë"}},
            attachments={
                "data": [
                    {
                        "name": "a\x00.png",
                        "mime_type": "image/\x00png",
                        "image_data": {"url": "https://x/\x00a.png"},
                    }
                ]
            },
            sticker="https://x/s\x00.png",
            shares={"data": [{"link": "l\x00", "name": "n\x00", "description": "d\x00"}]},
        ),
        snippet="snip\x00pet",
        participants={"data": [{"id": PSID, "name": "Ana\x00 Costa"}]},
    )

    data = parse(raw)

    assert (data.snippet, data.contact_name) == ("snippet", "Ana Costa")
    parsed = data.messages[0]
    assert (parsed.text, parsed.sender_name) == ("Hello there", "Zoë")
    assert parsed.attachments == [
        {"type": "image", "name": "a.png", "mime_type": "image/png", "url": "https://x/a.png"},
        {"type": "sticker", "url": "https://x/s.png"},
        {"type": "share", "url": "l", "name": "n", "description": "d"},
    ]


def test_lone_surrogates_are_replaced():
    raw = conversation_with(
        message(message="cut \ud83d", **{"from": {"id": PSID, "name": "Zoë \ude00"}}),
        snippet="x" * 99 + "\ud83d",
    )

    data = parse(raw)

    assert data.snippet == "x" * 99 + "\ufffd"
    assert (data.messages[0].text, data.messages[0].sender_name) == ("cut \ufffd", "Zoë \ufffd")


def test_names_longer_than_their_column_are_cut_by_characters():
    name = "Zoë 🚲 " * 100
    raw = conversation_with(
        message(**{"from": {"id": PSID, "name": name}}),
        participants={"data": [{"id": PSID, "name": name}]},
    )

    data = parse(raw)

    assert data.contact_name == name[:255].rstrip()
    assert data.messages[0].sender_name == name[:255].rstrip()


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (2**31, MAX_COUNT),
        (2**63 + 5, MAX_COUNT),
        (10**4000, MAX_COUNT),
        (float("inf"), 0),  # what json.loads makes of 1e400
        (float("-inf"), 0),
        (float("nan"), 0),
        (1e300, MAX_COUNT),
        ("9" * 5000, 0),  # text past Python's int() digit limit: no number
        (-3, 0),
        ("12", 12),
        (None, 0),
    ],
)
def test_counts_are_clamped_to_their_column_or_zero_when_not_a_number(value, stored):
    data = parse(raw_conversation(message_count=value, unread_count=value))

    assert (data.message_count, data.unread_count) == (stored, stored)


def test_attachment_sizes_stay_exact_integers_in_json():
    [attachment] = parse_attachments({"attachments": {"data": [{"size": 10**30}]}})

    assert attachment["size"] == 2**53 - 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"id": "t_" + "1" * 127}, "the conversation id is longer than 128 characters"),
        ({"id": "t_1\x00"}, "the conversation id contains a NUL"),
        (
            {"participants": {"data": [{"id": "1" * 65, "name": "Ana"}]}},
            "the contact's id is longer than 64 characters",
        ),
        ({"messages": {"data": [message(id="m_" + "x" * 254)]}}, "a message id is longer than"),
        (
            {"messages": {"data": [message(**{"from": {"id": 10**70}})]}},
            "a sender id is longer than 64",
        ),
    ],
)
def test_ids_that_do_not_fit_their_column_are_bad_data_never_cut(overrides, reason):
    with pytest.raises(BadConversationData, match=reason):
        parse(raw_conversation(**overrides))


def test_ids_that_fit_exactly_are_kept():
    raw = raw_conversation(
        id="t_" + "1" * 126, participants={"data": [{"id": "7" * 64, "name": "Ana"}]}
    )

    data = parse(raw)

    assert (len(data.facebook_id), data.contact_psid) == (128, "7" * 64)


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-0100",  # year 10000 in UTC: overflows
        "0001-01-01T00:00:00+0100",  # year 0 in UTC: overflows
        "1969-12-31T23:59:59+0000",
        "2101-01-01T00:00:00+0000",
        "2100-12-31T23:30:00-0100",  # 2101 in UTC
    ],
)
def test_timestamps_outside_1970_to_2100_are_bad_data(value):
    with pytest.raises(BadConversationData, match=r"outside 1970–2100"):
        parse_time(value)
    with pytest.raises(BadConversationData, match=r"outside 1970–2100"):
        parse(raw_conversation(updated_time=value))
    with pytest.raises(BadConversationData, match=r"outside 1970–2100"):
        parse(conversation_with(message(created_time=value)))


@pytest.mark.parametrize(
    "value", ["1970-01-01T00:00:00+0000", "2100-12-31T23:59:59+0000", "1970-01-01T01:30:00+0100"]
)
def test_timestamps_at_the_edges_of_the_range_are_kept(value):
    assert parse_time(value) == datetime.fromisoformat(value)


def test_problem_reasons_stay_short():
    with pytest.raises(BadConversationData) as raised:
        parse_time("2026-" + "9" * 100_000)

    assert len(str(raised.value)) < 100


def test_an_id_that_is_not_text_is_never_rendered_whole():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    raw = conversation_with(message(**{"from": {"id": deep, "name": "Ana"}}))

    data = parse(raw)  # no RecursionError from str() of the id

    assert data.messages[0].sender_id == ""


@pytest.mark.django_db
def test_parsed_odd_values_store_on_this_database():
    page = FacebookPage.objects.create(facebook_id=PAGE_ID, name="Shop")
    raw = conversation_with(
        message(
            message="a\x00b \ud83d",
            attachments={"data": [{"name": "\x00\udc00", "image_data": {"url": "u\x00"}}]},
        ),
        snippet="x" * 99 + "\ud83d\x00",
        message_count=2**40,
        unread_count=float("inf"),
        participants={"data": [{"id": PSID, "name": "Ana\x00 \ud83d" * 100}]},
    )
    data = parse(raw)

    ingest_conversation(page.pk, data, known=None, new_messages=data.messages, sync_pass="p")

    stored = Conversation.objects.select_related("contact").get()
    assert (stored.message_count, stored.unread_count) == (MAX_COUNT, 0)
    assert stored.snippet == "x" * 99 + "\ufffd"
    assert stored.contact.name == ("Ana \ufffd" * 100)[:255]
    stored_message = Message.objects.get()
    assert stored_message.text == "ab \ufffd"
    assert stored_message.attachments[0]["name"] == "\ufffd"
    assert stored_message.created_time == datetime(2026, 8, 1, 10, 22, 31, tzinfo=UTC)
