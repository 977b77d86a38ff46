"""Reading a webhook body into events (no database)."""

import json
from datetime import UTC, datetime

import pytest

from tests.webhooks.bodies import PAGE_ID, PSID, T0, body, echo, item, message
from webhooks import events


def read(*items, standby=False):
    return events.events_of(events.decode(body(*items, standby=standby)))


def test_epoch_milliseconds_become_aware_utc_times_to_the_millisecond():
    assert events.time_of(T0) == datetime(2026, 7, 29, 8, 0, 4, 523000, tzinfo=UTC)
    assert events.time_of(0) == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "1785312004523", 1.5e12, True, -1, 10**20, 4133980800000])
def test_times_that_are_no_epoch_milliseconds_in_range_are_none(value):
    assert events.time_of(value) is None


def test_each_kind_is_told_by_its_key():
    kinds = [
        e.kind
        for e in read(
            message("m_1"),
            echo("m_2"),
            item("read", {"watermark": T0}),
            item("delivery", {"watermark": T0, "mids": ["m_2"]}),
            item("reaction", {"mid": "m_2", "action": "react", "reaction": "love"}),
            item("postback", {"mid": "m_3", "title": "Get Started", "payload": "GO"}),
            item("referral", {"ref": "ad"}),
            {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": T0},
        )
    ]
    assert kinds == [
        "message",
        "echo",
        "read",
        "delivery",
        "reaction",
        "postback",
        "referral",
        "empty",
    ]


def test_standby_items_are_events_too():
    [event] = read(message("m_1"), standby=True)
    assert (event.kind, event.page_id, event.person) == ("message", PAGE_ID, PSID)


def test_an_echo_is_about_its_recipient():
    [event] = read(echo("m_2"))
    assert event.sender_id == PAGE_ID
    assert event.person == PSID


def test_odd_shapes_are_skipped_not_raised():
    payload = {
        "object": "page",
        "entry": [
            "not an entry",
            {"id": PAGE_ID, "messaging": "not a list"},
            {"id": 12345, "messaging": [42, {"message": "not an object", "timestamp": "x"}]},
        ],
    }
    [event] = events.events_of(payload)
    assert event.page_id == "12345"
    assert event.kind == "message"  # of the wrong shape: a message that cannot be read
    assert event.data == {}
    assert event.timestamp_ms is None
    assert events.events_of({"entry": None}) == []


@pytest.mark.parametrize("raw", [b"", b"{", b"null", b"[]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_no_json_object_is_refused(raw):
    with pytest.raises(events.NotJson):
        events.decode(raw)


def test_decoding_cleans_what_no_database_stores():
    raw = json.dumps({"entry": [{"id": "1", "messaging": [{"message": {"text": "a\x00b\ud83d"}}]}]})
    payload = events.decode(raw.encode())
    assert payload["entry"][0]["messaging"][0]["message"]["text"] == "ab\ufffd"


def test_mentions_are_the_people_never_the_page():
    payload = events.decode(body(message("m_1"), echo("m_2", psid="555")))
    assert events.mentions_of(payload) == {(PAGE_ID, PSID), (PAGE_ID, "555")}


def test_a_message_reads_like_a_graph_message():
    [event] = read(message("m_1", "Olá 👋"))
    data = events.message_of(event, "Bike Shop", "Ana Lima")
    assert data.facebook_id == "m_1"
    assert data.created_time == events.time_of(T0)
    assert (data.sender_id, data.sender_name, data.direction) == (PSID, "Ana Lima", "in")
    assert data.text == "Olá 👋"
    assert data.attachments == []


def test_an_echo_is_outbound_and_named_after_the_page():
    [event] = read(echo("m_2"))
    data = events.message_of(event, "Bike Shop", "Ana Lima")
    assert (data.sender_id, data.sender_name, data.direction) == (PAGE_ID, "Bike Shop", "out")


def test_a_quick_reply_and_a_reply_keep_their_text():
    quick = message("m_1", "Yes", extra={"quick_reply": {"payload": "YES_PAYLOAD"}})
    reply = message("m_2", "That one", extra={"reply_to": {"mid": "m_0"}})
    texts = [events.message_of(e, "", None).text for e in read(quick, reply)]
    assert texts == ["Yes", "That one"]


def test_a_postback_is_an_inbound_message_with_its_payload():
    [event] = read(item("postback", {"mid": "m_3", "title": "Get Started", "payload": "GO"}))
    data = events.message_of(event, "Bike Shop", None)
    assert (data.facebook_id, data.text, data.direction) == ("m_3", "Get Started", "in")
    assert data.attachments == [{"type": "postback", "payload": "GO"}]


def test_a_postback_without_a_mid_is_keyed_by_person_and_time():
    [event] = read(item("postback", {"title": "Menu", "payload": "MENU"}))
    assert events.message_of(event, "", None).facebook_id == f"postback-{PSID}-{T0}"


@pytest.mark.parametrize(
    "event_item",
    [
        message("", "no mid"),
        message("m_" + "x" * 300),
        item("message", {"mid": "m_1", "text": "no time"}, at=None),
        item("message", {"mid": "m_1"}, psid=""),
    ],
)
def test_a_message_that_cannot_be_keyed_is_none(event_item):
    [event] = read(event_item)
    assert events.message_of(event, "", None) is None


def test_webhook_attachments_take_the_stored_shape():
    cdn = "https://scontent.xx.fbcdn.net/v/t1/1_n.jpg?oe=6a1"
    attachments = [
        {"type": "image", "payload": {"url": cdn}},
        {"type": "image", "payload": {"url": cdn, "sticker_id": 369239263222822}},
        {"type": "sticker", "payload": {"url": cdn, "sticker_id": 1}},
        {"type": "video", "payload": {"url": "https://video.xx.fbcdn.net/v.mp4"}},
        {"type": "audio", "payload": {"url": "https://cdn.fbsbx.com/a.mp4"}},
        {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/f.pdf"}},
        {"type": "fallback", "title": "Spring", "url": "https://example.com/p", "payload": None},
        {"type": "template", "payload": {"template_type": "generic"}},
        {"type": "location", "title": "Pin", "payload": {"coordinates": {"lat": 1, "long": 2}}},
        "not an attachment",
    ]
    assert events.normalise_attachments(attachments) == [
        {"type": "image", "name": "", "mime_type": "", "url": cdn},
        {"type": "sticker", "url": cdn},
        {"type": "sticker", "url": cdn},
        {"type": "video", "name": "", "mime_type": "", "url": "https://video.xx.fbcdn.net/v.mp4"},
        {"type": "audio", "name": "", "mime_type": "", "url": "https://cdn.fbsbx.com/a.mp4"},
        {"type": "file", "name": "", "mime_type": "", "url": "https://cdn.fbsbx.com/f.pdf"},
        {"type": "share", "url": "https://example.com/p", "name": "Spring", "description": ""},
        {"type": "unknown", "name": "template", "mime_type": ""},
        {"type": "unknown", "name": "Pin", "mime_type": ""},
    ]
