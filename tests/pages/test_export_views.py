"""The Page screen's export download (pages/export_views.py): staff only, streamed (also under
ASGI, where a plain iterator would be read whole first), headers of a safe download."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import AsyncClient
from django.urls import reverse

from conversations.models import InteractionEvent
from pages.models import FacebookPage
from tests.conversations.test_export import expected, parse_csv, parse_jsonl
from tests.conversations.view_helpers import add_message, at, make_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    page = FacebookPage.objects.create(facebook_id="10000000000000001", name="Bike Shop")
    for number, name in enumerate(['Lee, "Al"\nB', "نور 🌙"], start=1):
        conversation = make_conversation(page, f"t_{number}", name=name, psid=f"p{number}")
        message = add_message(conversation, f"m_{number}", when=at(3, number), text=name)
        InteractionEvent.objects.create(
            page=page, conversation=conversation, contact=conversation.contact,
            kind="message_received", source_id=message.facebook_id, occurred_at=at(3, number),
        )  # fmt: skip
    return page


def url(page, fmt: str) -> str:
    return reverse("pages:export", args=[page.pk, fmt])


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_anonymous_is_sent_to_login_and_non_staff_refused(client, shop):
    response = client.get(url(shop, "csv"))
    assert response.status_code == 302
    assert "/login" in response["Location"]
    client.force_login(User.objects.create_user("visitor", is_staff=True))
    assert client.get(url(shop, "csv")).status_code == 403


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_staff_download_streams_the_export(staff_client, shop, fmt):
    response = staff_client.get(url(shop, fmt))
    assert response.status_code == 200
    assert response.streaming
    assert re.fullmatch(
        rf'attachment; filename="fbsync-page-10000000000000001-\d{{4}}-\d\d-\d\d\.{fmt}"',
        response["Content-Disposition"],
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    parse = parse_jsonl if fmt == "jsonl" else parse_csv
    content_type = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert parse(body(response)) == expected(shop)


def test_since_bad_since_unknown_format_and_page(staff_client, shop):
    response = staff_client.get(url(shop, "jsonl"), {"since": "2026-08-03T01:30Z"})
    assert [r["message_id"] for r in parse_jsonl(body(response)) if r["type"] == "message"] == [
        "m_2"
    ]
    response = staff_client.get(url(shop, "jsonl"), {"since": "soon"})
    assert response.status_code == 400
    assert "Not a date" in response.content.decode()
    assert staff_client.get(url(shop, "xml")).status_code == 404
    assert staff_client.get(reverse("pages:export", args=[shop.pk + 99, "csv"])).status_code == 404
    assert staff_client.post(url(shop, "csv")).status_code == 405


def test_under_asgi_the_export_is_an_async_stream(staff_client, shop, recwarn):
    """Warnings are errors: a sync iterator under ASGI would warn and be read whole first."""
    client = AsyncClient()
    client.cookies = staff_client.cookies
    response = async_to_sync(client.get)(url(shop, "jsonl"))
    assert response.status_code == 200
    assert response.is_async

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    assert parse_jsonl(async_to_sync(read)().decode()) == expected(shop)


def test_the_page_screen_links_to_both_formats(staff_client, shop):
    html = staff_client.get(reverse("pages:detail", args=[shop.pk])).content.decode()
    assert f'href="{url(shop, "jsonl")}" download>JSON Lines</a>' in html
    assert f'href="{url(shop, "csv")}" download>CSV</a>' in html


def test_records_in_a_download_are_one_line_each(staff_client, shop):
    lines = body(staff_client.get(url(shop, "jsonl"))).splitlines()
    assert len(lines) == 2 + 2 + 2
    assert json.loads(lines[0])["contact_name"] == 'Lee, "Al"\nB'
