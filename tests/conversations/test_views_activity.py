"""The activity heat map of a page: interaction events per weekday and hour. Filled by a real
sync against the 60-conversation sandbox, or by hand where a test needs exact content."""

from __future__ import annotations

import re
from collections import Counter

from django.urls import reverse

from conversations.models import InteractionEvent
from tests.conversations.view_helpers import at, make_conversation

# ---- Activity ----


def test_activity_grid_sums_equal_the_event_counts(admin_client, synced):
    response = admin_client.get(reverse("conversations:activity", args=[synced.pk]))
    assert response.status_code == 200
    grid = response.context["grid"]
    events = InteractionEvent.objects.filter(page=synced)
    assert events.count() == 848
    assert grid["total"] == 848
    assert sum(row["total"] for row in grid["rows"]) == 848
    assert sum(grid["hour_totals"]) == 848

    # Each cell equals a count made in Python (UTC; Monday first).
    expected = Counter(
        (e.isoweekday(), e.hour) for e in events.values_list("occurred_at", flat=True)
    )
    for weekday, row in enumerate(grid["rows"], start=1):
        assert [c["count"] for c in row["cells"]] == [expected[(weekday, h)] for h in range(24)]

    html = response.content.decode()
    cells = [int(n) for n in re.findall(r'data-count="(\d+)"', html)]
    assert len(cells) == 7 * 24
    assert sum(cells) == 848
    assert 'data-total="grid">848<' in html
    assert '<strong data-total="message_received">485</strong> Message received' in html
    assert '<strong data-total="message_sent">303</strong> Message sent' in html
    assert '<strong data-total="conversation_started">60</strong> Conversation started' in html
    assert "Interaction events per weekday and hour of day (UTC)." in html


def test_activity_shades_cells_relative_to_the_busiest(admin_client, shop):
    conversation = make_conversation(shop, "t_a", name="Ana", psid="1")
    for i in range(4):  # Monday 09:xx, four events: the busiest cell
        InteractionEvent.objects.create(
            page=shop,
            conversation=conversation,
            kind="message_received",
            source_id=f"m_{i}",
            occurred_at=at(3, 9, i),
        )
    InteractionEvent.objects.create(  # Sunday 23:59, one event
        page=shop,
        conversation=conversation,
        kind="conversation_started",
        source_id="t_a",
        occurred_at=at(9, 23, 59),
    )
    response = admin_client.get(reverse("conversations:activity", args=[shop.pk]))
    rows = response.context["grid"]["rows"]
    assert rows[0]["name"] == "Monday"
    assert rows[0]["cells"][9] == {"hour": 9, "count": 4, "level": 5}
    assert rows[6]["name"] == "Sunday"
    assert rows[6]["cells"][23] == {"hour": 23, "count": 1, "level": 2}
    assert rows[3]["cells"][0] == {"hour": 0, "count": 0, "level": 0}
    html = response.content.decode()
    assert '<td class="heat-5" title="Monday 09:00: 4 events" data-count="4">4</td>' in html
    assert '<td class="heat-2" title="Sunday 23:00: 1 event" data-count="1">1</td>' in html
    assert '<strong data-total="message_sent">0</strong>' in html


def test_activity_without_events_shows_empty_state(admin_client, shop):
    response = admin_client.get(reverse("conversations:activity", args=[shop.pk]))
    assert response.status_code == 200
    assert "No interaction events stored yet." in response.content.decode()


def test_activity_unknown_page_is_404(admin_client, db):
    assert admin_client.get(reverse("conversations:activity", args=[999])).status_code == 404


# ---- The reader's timezone ----


def one_event_at(shop, when) -> None:
    conversation = make_conversation(shop, "t_tz", name="Ana", psid="1")
    InteractionEvent.objects.create(
        page=shop,
        conversation=conversation,
        kind="message_received",
        source_id="m_tz",
        occurred_at=when,
    )


def busy_cells(response) -> list[tuple[str, int]]:
    return [
        (row["name"], cell["hour"])
        for row in response.context["grid"]["rows"]
        for cell in row["cells"]
        if cell["count"]
    ]


def test_the_heat_map_counts_in_the_readers_timezone(admin_client, shop):
    one_event_at(shop, at(3, 22, 30))  # Monday 22:30 UTC
    url = reverse("conversations:activity", args=[shop.pk])

    assert busy_cells(admin_client.get(url)) == [("Monday", 22)]
    admin_client.cookies["tz"] = "Asia/Tokyo"  # UTC+9: Tuesday 07:30
    response = admin_client.get(url)
    assert busy_cells(response) == [("Tuesday", 7)]
    html = response.content.decode()
    assert "Hours are in <strong data-timezone>Asia/Tokyo</strong>, your browser's timezone" in html
    assert "hour of day (Asia/Tokyo)." in html
    admin_client.cookies["tz"] = "America/Los_Angeles"  # UTC-7 in August: Monday 15:30
    assert busy_cells(admin_client.get(url)) == [("Monday", 15)]


def test_without_a_usable_cookie_the_heat_map_uses_time_zone(admin_client, shop, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+5:30: Tuesday 04:00
    one_event_at(shop, at(3, 22, 30))
    url = reverse("conversations:activity", args=[shop.pk])
    admin_client.cookies["tz"] = "Not/AZone"

    response = admin_client.get(url)

    assert response.status_code == 200
    assert busy_cells(response) == [("Tuesday", 4)]
    assert "<strong data-timezone>Asia/Kolkata</strong>, the server's timezone" in (
        response.content.decode()
    )
