"""conversations/export.py and `manage.py export_page`: both formats parse back to exactly what
the database holds, whatever the names contain; --since; bad arguments; chunked reading."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from conversations import export
from conversations.models import Conversation, InteractionEvent, Message
from pages.models import FacebookPage
from tests.conversations.view_helpers import add_message, at, make_conversation

ODD_NAMES = [
    'Smith, "Bob"\nJr.',
    'Zoë 🚲🇫🇷, "the" rider',
    "محمد علي",
    "line\u2028separator\r\nand CRLF",
]
PHOTO = {
    "type": "image",
    "name": 'plan, v2 "final".png',
    "mime_type": "image/png",
    "url": "https://cdn.example/x.png?oh=1",
}
SHARE = {"type": "share", "url": "https://example.com", "name": "", "description": "d"}


@pytest.fixture
def shop(db) -> FacebookPage:
    page = FacebookPage.objects.create(facebook_id="10000000000000001", name="Bike Shop")
    for number, name in enumerate(ODD_NAMES, start=1):
        conversation = make_conversation(
            page, f"t_{number}", name=name, psid=f"psid{number}", updated=at(3 + number, 12)
        )
        for day in (3, 3 + number):
            message = add_message(
                conversation,
                f"m_{number}_{day}",
                when=at(day, 10, second=number),
                text=f'Hi {name}, "quoted"\nnew line 🙂',
                attachments=[PHOTO, SHARE] if day == 3 else [],
            )
            InteractionEvent.objects.create(
                page=page,
                conversation=conversation,
                contact=conversation.contact,
                kind="message_received",
                source_id=message.facebook_id,
                occurred_at=message.created_time,
            )
    # Another Page's rows never appear.
    other = FacebookPage.objects.create(facebook_id="20000000000000002", name="Other")
    add_message(make_conversation(other, "t_x", name="X", psid="px"), "m_x", when=at(4, 1))
    return page


def expected(page: FacebookPage, since: datetime | None = None) -> list[dict]:
    """What the export must say, read from the models (not through export.py's queries)."""
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    z = lambda t: t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None  # noqa: E731
    out = []
    for c in Conversation.objects.filter(page=page, updated_time__gte=since).order_by("id"):
        out.append(
            {"type": "conversation", "page_id": page.facebook_id, "conversation_id": c.facebook_id,
             "folder": c.folder, "contact_psid": c.contact and c.contact.psid,
             "contact_name": c.contact and c.contact.name,
             "updated_time": z(c.updated_time), "last_message_at": z(c.last_message_at),
             "message_count": c.message_count, "unread_count": c.unread_count,
             "snippet": c.snippet, "can_reply": c.can_reply}
        )  # fmt: skip
    for m in Message.objects.filter(page=page, created_time__gte=since).order_by("id"):
        attachments = [
            {k: a.get(k) for k in export.ATTACHMENT_KEYS}
            for a in m.attachments
            if isinstance(a, dict)
        ]
        out.append(
            {"type": "message", "page_id": page.facebook_id,
             "conversation_id": m.conversation.facebook_id, "message_id": m.facebook_id,
             "created_time": z(m.created_time), "direction": m.direction,
             "sender_id": m.sender_id, "sender_name": m.sender_name, "text": m.text,
             "attachment_names": [a["name"] for a in attachments if a["name"]],
             "attachments": attachments}
        )  # fmt: skip
    for e in InteractionEvent.objects.filter(page=page, occurred_at__gte=since).order_by("id"):
        out.append(
            {"type": "event", "page_id": page.facebook_id,
             "conversation_id": e.conversation.facebook_id, "event_kind": e.kind,
             "source_id": e.source_id, "contact_psid": e.contact and e.contact.psid,
             "occurred_at": z(e.occurred_at)}
        )  # fmt: skip
    return out


def run_export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_page", *args, stdout=out)
    return out.getvalue()


def parse_jsonl(text: str) -> list[dict]:
    lines = text.split("\n")
    assert lines[-1] == ""
    return [json.loads(line) for line in lines[:-1]]


# CSV has no null: these keys' empty cells are null (docs/export.md).
NULLABLE = {"last_message_at", "contact_psid", "contact_name", "sender_name"}


def parse_csv(text: str) -> list[dict]:
    """Back to records: empty cells of another type's columns dropped, JSON cells decoded."""
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:], newline=""))
    assert tuple(reader.fieldnames) == export.CSV_COLUMNS
    keys = {"conversation": export.CONVERSATION_KEYS, "message": export.MESSAGE_KEYS,
            "event": export.EVENT_KEYS}  # fmt: skip
    numbers = {"message_count", "unread_count"}
    records = []
    for row in reader:
        assert all(row[c] == "" for c in export.CSV_COLUMNS if c not in keys[row["type"]])
        record = {}
        for key in keys[row["type"]]:
            value = row[key]
            if key in ("attachments", "attachment_names"):
                value = json.loads(value)
            elif key in numbers:
                value = int(value)
            elif key == "can_reply":
                value = {"true": True, "false": False}[value]
            elif value == "" and key in NULLABLE:
                value = None
            record[key] = value
        records.append(record)
    return records


def test_jsonl_parses_back_to_the_database(shop):
    text = run_export(shop.facebook_id, "--format", "jsonl")
    records = parse_jsonl(text)
    assert records == expected(shop)
    assert [r["type"] for r in records] == ["conversation"] * 4 + ["message"] * 8 + ["event"] * 8
    assert "\u2028" not in text  # a record is one line for every line splitter
    assert len(text.splitlines()) == len(records)
    assert {r["contact_name"] for r in records[:4]} == set(ODD_NAMES)
    assert records[4]["attachment_names"] == ['plan, v2 "final".png']
    assert records[4]["created_time"] == "2026-08-03T10:00:01Z"


def test_csv_parses_back_to_the_database(shop):
    text = run_export(shop.facebook_id, "--format", "csv")
    assert parse_csv(text) == expected(shop)
    assert "محمد علي" in text
    assert "🚲" in text


def test_since_filters_each_kind_by_its_own_time(shop):
    since = at(5, 0)
    want = expected(shop, since)
    assert 0 < len(want) < len(expected(shop))
    assert parse_jsonl(run_export(shop.facebook_id, "--since", "2026-08-05")) == want
    with_offset = run_export(
        shop.facebook_id, "--format", "csv", "--since", "2026-08-05T02:00+02:00"
    )
    assert parse_csv(with_offset) == want
    naive_utc = run_export(shop.facebook_id, "--since", "2026-08-05T00:00:00")
    assert parse_jsonl(naive_utc) == want


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-02-30T10:00", ""])
def test_a_bad_since_is_a_clear_error_and_writes_nothing(shop, tmp_path, value):
    target = tmp_path / "out.jsonl"
    with pytest.raises(CommandError, match="Not a date"):
        call_command("export_page", shop.facebook_id, "--since", value, "--output", str(target))
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_page_is_a_clear_error(shop):
    with pytest.raises(CommandError, match="No Page with Facebook id '999'"):
        run_export("999")
    # The database pk is not a Facebook id (the command takes what sync_page takes).
    with pytest.raises(CommandError):
        run_export(str(shop.pk))


def test_an_unknown_format_is_refused(shop):
    with pytest.raises(CommandError, match="invalid choice"):
        run_export(shop.facebook_id, "--format", "xml")


def test_output_file_is_complete_or_absent(shop, tmp_path, monkeypatch):
    target = tmp_path / "export.csv"
    call_command("export_page", shop.facebook_id, "--format", "csv", "--output", str(target))
    assert parse_csv(target.read_bytes().decode("utf-8")) == expected(shop)
    before = target.read_bytes()

    def broken(page, since=None):
        yield from export.conversation_records(page, since)
        raise RuntimeError("database went away")

    monkeypatch.setattr(export, "records", broken)
    with pytest.raises(RuntimeError):
        call_command("export_page", shop.facebook_id, "--format", "csv", "--output", str(target))
    assert target.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]  # no temporary left


def test_reading_is_chunked(shop, settings, django_assert_num_queries):
    """Chunks of 3 rows: 4 conversations = 2 queries, 8 messages = 3, 8 events = 3."""
    settings.EXPORT_CHUNK_SIZE = 3
    with django_assert_num_queries(8):
        assert len(list(export.records(shop))) == 20
    settings.EXPORT_CHUNK_SIZE = 4  # an exactly full last chunk costs one empty query more
    with django_assert_num_queries(2 + 3 + 3):
        assert len(list(export.records(shop))) == 20


def test_the_generators_read_lazily(shop, settings, django_assert_num_queries):
    settings.EXPORT_CHUNK_SIZE = 2
    lines = export.jsonl_lines(shop)
    with django_assert_num_queries(1):
        next(lines)
        next(lines)
    with django_assert_num_queries(1):
        next(lines)


def test_odd_stored_attachments_and_missing_contact(shop):
    conversation = Conversation.objects.create(
        page=shop, facebook_id="t_none", updated_time=at(3, 1)
    )
    Message.objects.create(
        page=shop, conversation=conversation, facebook_id="m_odd", sender_id="1",
        direction="in", created_time=at(3, 1),
        attachments=[{"type": "file"}, "junk", {"type": "sticker", "url": "u"}],
    )  # fmt: skip
    records = {r.get("message_id") or r["conversation_id"]: r for r in export.records(shop)}
    assert records["t_none"]["contact_psid"] is None
    assert records["m_odd"]["attachments"] == [
        {"type": "file", "name": None, "mime_type": None, "size": None, "url": None},
        {"type": "sticker", "name": None, "mime_type": None, "size": None, "url": "u"},
    ]
    assert records["m_odd"]["attachment_names"] == []
    assert parse_csv("".join(export.csv_lines(shop))) == expected(shop)


def test_parse_since_and_iso():
    assert export.parse_since("2026-08-03") == at(3, 0)
    assert export.parse_since(" 2026-08-03T12:00:00Z ") == at(3, 12)
    assert (
        export.iso(datetime(2026, 8, 3, 12, 0, 0, 5000, tzinfo=UTC))
        == "2026-08-03T12:00:00.005000Z"
    )
    assert export.iso(None) is None


def test_export_filename_is_safe(shop):
    shop.facebook_id = '12"; x=../../y\r\n'
    assert export.export_filename(shop, "csv", at(3, 1)) == "fbsync-page-12xy-2026-08-03.csv"


def test_csv_cells_a_spreadsheet_would_run_are_shown_as_text(db):
    page = FacebookPage.objects.create(facebook_id="30000000000000003", name="Formula Shop")
    name = '=HYPERLINK("http://evil.example","Bob")'
    conversation = make_conversation(page, "t_f", name=name, psid="pf", updated=at(4, 1))
    add_message(conversation, "m_f", when=at(4, 1), text="@SUM(1+1)")

    rows = list(csv.DictReader(io.StringIO(run_export(page.facebook_id, "--format", "csv"))))
    assert rows[0]["contact_name"] == "'" + name
    assert rows[1]["text"] == "'@SUM(1+1)"
    records = parse_jsonl(run_export(page.facebook_id, "--format", "jsonl"))
    assert records[0]["contact_name"] == name  # JSON Lines keeps the exact text
