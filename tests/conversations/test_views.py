"""The conversation screens: list (search, filters, pagination), one thread, the activity heat
map, and who may see them. Filled by a real sync against the 60-conversation sandbox, or by
hand where a test needs exact content."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from conversations.models import Contact, Conversation, InteractionEvent, Message
from pages.models import FacebookPage
from tests.conftest import sync

LIST_URL = reverse("conversations:list")
ROW_LINK = re.compile(r'<th scope="row"><a href="/conversations/(\d+)/">')


def listed_pks(response) -> list[int]:
    """The conversation pks of the rendered table rows, in order."""
    return [int(pk) for pk in ROW_LINK.findall(response.content.decode())]


def newest_first(queryset) -> list[int]:
    return list(queryset.order_by("-updated_time", "-id").values_list("pk", flat=True))


@pytest.fixture
def synced(page) -> FacebookPage:
    run = sync(page)
    assert run.status == "complete"
    assert Conversation.objects.filter(page=page).count() == 60
    return page


@pytest.fixture
def shop(db) -> FacebookPage:
    """A page with hand-made content (no sandbox)."""
    return FacebookPage.objects.create(facebook_id="10000000000000001", name="Bike Shop")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    # 2026-08-03 is a Monday.
    return datetime(2026, 8, day, hour, minute, second, tzinfo=UTC)


def make_conversation(page, facebook_id, *, name, psid, folder="inbox", updated=None):
    contact = Contact.objects.create(page=page, psid=psid, name=name)
    return Conversation.objects.create(
        page=page,
        facebook_id=facebook_id,
        contact=contact,
        folder=folder,
        updated_time=updated or at(3, 12),
        message_count=3,
    )


def add_message(conversation, facebook_id, *, when, direction="in", text="", attachments=()):
    return Message.objects.create(
        page=conversation.page,
        conversation=conversation,
        facebook_id=facebook_id,
        sender_id=conversation.contact.psid if direction == "in" else conversation.page.facebook_id,
        sender_name=conversation.contact.name if direction == "in" else conversation.page.name,
        direction=direction,
        text=text,
        attachments=list(attachments),
        created_time=when,
    )


# ---- The list ----


def test_conversation_list_renders_newest_first_and_paginates_by_50(admin_client, synced):
    expected = newest_first(Conversation.objects.all())
    assert len(expected) == 60

    first = admin_client.get(LIST_URL)
    assert first.status_code == 200
    assert first.context["nav"] == "conversations"
    assert listed_pks(first) == expected[:50]
    assert "Showing 1–50 of 60 conversations" in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?p=2" rel="next"' in first.content.decode()

    second = admin_client.get(LIST_URL, {"p": 2})
    assert listed_pks(second) == expected[50:]
    assert "Showing 51–60 of 60 conversations" in second.content.decode()


def test_conversation_list_out_of_range_page_number_shows_last_page(admin_client, synced):
    response = admin_client.get(LIST_URL, {"p": 99})
    assert response.status_code == 200
    assert response.context["listing"].number == 2
    assert len(listed_pks(response)) == 10


@pytest.mark.parametrize(
    "params",
    [
        {"p": "abc"},
        {"p": "-1"},
        {"p": "0"},
        {"p": "1.5"},
        {"page": "abc"},
        {"page": "-3"},
        {"page": "²"},
        {"page": "٣"},
        {"p": "²"},
        {"page": "99999999999999999999999999"},
        {"folder": "nope"},
        {"q": "%_\\'\"<script>"},
        {"q": "x" * 5000},
        {"page": "", "folder": "", "q": "", "p": ""},
    ],
)
def test_conversation_list_bad_query_params_give_200(admin_client, synced, params):
    response = admin_client.get(LIST_URL, params)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main", 1)[1]


def test_conversation_list_bad_filters_are_ignored(admin_client, synced):
    response = admin_client.get(LIST_URL, {"page": "abc", "folder": "nope", "p": "abc"})
    assert response.context["listing"].paginator.count == 60
    assert response.context["selected_page"] is None
    assert response.context["selected_folder"] == ""
    assert listed_pks(response) == newest_first(Conversation.objects.all())[:50]


def test_conversation_list_search_by_contact_name_is_case_insensitive(admin_client, synced):
    name = "Zoë 🚲 Ferreira"
    expected = newest_first(Conversation.objects.filter(contact__name=name))
    assert len(expected) == 3  # the seeded sandbox has three conversations with this name

    response = admin_client.get(LIST_URL, {"q": "zoë 🚲 ferreira"})
    assert listed_pks(response) == expected
    assert response.context["listing"].paginator.count == 3


def test_conversation_list_search_by_message_text_lists_each_conversation_once(
    admin_client, synced
):
    needle = "could you send us a photo"
    matching = [
        m.conversation_id
        for m in Message.objects.all()
        if needle in m.text.lower() or needle in (m.conversation.contact.name or "").lower()
    ]
    # Several conversations have more than one matching message: a join would repeat them.
    assert max(Counter(matching).values()) > 1
    expected = newest_first(Conversation.objects.filter(pk__in=set(matching)))

    response = admin_client.get(LIST_URL, {"q": "Could You Send Us A Photo"})
    pks = listed_pks(response)
    assert pks == expected
    assert len(pks) == len(set(pks))
    assert response.context["listing"].paginator.count == len(set(matching))


def test_conversation_list_search_without_match_says_so(admin_client, synced):
    response = admin_client.get(LIST_URL, {"q": "no such words anywhere 42"})
    assert response.status_code == 200
    assert listed_pks(response) == []
    assert "No conversations matching the filters." in response.content.decode()


def test_conversation_list_filters_by_folder(admin_client, synced):
    response = admin_client.get(LIST_URL, {"folder": "other"})
    expected = newest_first(Conversation.objects.filter(folder="other"))
    assert len(expected) == 5
    assert listed_pks(response) == expected
    assert '<option value="other" selected>' in response.content.decode()


def test_conversation_list_filters_by_page(admin_client, synced, shop):
    mine = make_conversation(shop, "t_shop_1", name="Ines", psid="1")
    everything = admin_client.get(LIST_URL)
    assert everything.context["listing"].paginator.count == 61

    only_shop = admin_client.get(LIST_URL, {"page": shop.pk})
    assert listed_pks(only_shop) == [mine.pk]
    assert f'<option value="{shop.pk}" selected>Bike Shop</option>' in only_shop.content.decode()

    only_synced = admin_client.get(LIST_URL, {"page": synced.pk, "folder": "spam"})
    assert listed_pks(only_synced) == newest_first(
        Conversation.objects.filter(page=synced, folder="spam")
    )
    assert only_synced.context["listing"].paginator.count == 2

    unknown = admin_client.get(LIST_URL, {"page": 987654})
    assert listed_pks(unknown) == []


def test_conversation_list_pagination_links_keep_the_filters(admin_client, synced):
    response = admin_client.get(LIST_URL, {"page": synced.pk, "p": "1"})
    assert response.context["listing"].paginator.count == 60
    assert f'href="?page={synced.pk}&amp;p=2" rel="next"' in response.content.decode()
    second = admin_client.get(LIST_URL, {"page": synced.pk, "p": "2"})
    assert f'href="?page={synced.pk}&amp;p=1" rel="prev"' in second.content.decode()


def test_conversation_list_query_count_does_not_grow_with_rows(
    admin_client, synced, django_assert_max_num_queries
):
    # session, user, count, one page of rows with contact and page joined, the page filter.
    with django_assert_max_num_queries(5):
        response = admin_client.get(LIST_URL, {"q": "a", "folder": "inbox"})
    assert response.status_code == 200
    with django_assert_max_num_queries(5):
        response = admin_client.get(LIST_URL)
    assert len(listed_pks(response)) == 50


def test_conversation_list_empty_state(admin_client, db):
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    assert "No conversations yet" in response.content.decode()


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
                "url": "https://cdn.example/photo.jpg",
                "name": "photo.jpg",
                "mime_type": "image/jpeg",
                "size": 2048,
            },
            {"type": "sticker", "url": "https://cdn.example/sticker.png"},
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
    assert "<h1>Zoë &lt;b&gt;Ferreira&lt;/b&gt;</h1>" in html
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
    assert '<img src="https://cdn.example/photo.jpg" loading="lazy" alt="photo.jpg">' in html
    assert (
        '<img class="sticker" src="https://cdn.example/sticker.png" loading="lazy" alt="Sticker"'
        in html
    )
    assert (
        '<a href="https://cdn.example/clip.mp4" rel="noopener noreferrer">🎬 clip.mp4</a>' in html
    )
    assert (
        '<a href="https://cdn.example/voice.mp4" rel="noopener noreferrer">🔊 voice.mp4</a>' in html
    )
    assert '📎 invoice.pdf</a> <span class="muted">(application/pdf, 1.5\xa0KB)</span>' in html
    assert '<a href="https://shop.example/bike" rel="noopener noreferrer">Blue bike</a>' in html
    assert '<p class="muted">Our best seller</p>' in html
    # A non-http link is shown as text, never as a link.
    assert "javascript:" not in html
    assert "<span>Sneaky</span>" in html
    assert html.count("Unsupported attachment") == 2


def test_conversation_detail_without_contact_says_unknown_user(admin_client, shop):
    conversation = Conversation.objects.create(
        page=shop, facebook_id="t_anon", updated_time=at(4, 9), folder="inbox"
    )
    html = admin_client.get(
        reverse("conversations:detail", args=[conversation.pk])
    ).content.decode()
    assert "<h1>Unknown user</h1>" in html
    assert "No messages stored for this conversation." in html


def test_conversation_detail_of_synced_thread_matches_the_database(admin_client, synced):
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


def test_conversation_detail_unknown_pk_is_404(admin_client, db):
    assert admin_client.get(reverse("conversations:detail", args=[424242])).status_code == 404


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
    assert "<caption>Interaction events per weekday and hour of day (UTC)." in html


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


# ---- Access ----


def view_urls(conversation: Conversation) -> list[str]:
    return [
        LIST_URL,
        reverse("conversations:detail", args=[conversation.pk]),
        reverse("conversations:activity", args=[conversation.page_id]),
    ]


def test_conversation_views_send_anonymous_users_to_login(client, shop):
    conversation = make_conversation(shop, "t_x", name="Ana", psid="1")
    for url in view_urls(conversation):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={url}"


def test_conversation_views_forbid_non_staff(client, django_user_model, shop):
    conversation = make_conversation(shop, "t_x", name="Ana", psid="1")
    user = django_user_model.objects.create_user("clerk", password="pw-for-tests-only")
    client.force_login(user)
    for url in view_urls(conversation):
        assert client.get(url).status_code == 403


def test_conversation_views_accept_get_only(admin_client, shop):
    conversation = make_conversation(shop, "t_x", name="Ana", psid="1")
    for url in view_urls(conversation):
        assert admin_client.post(url).status_code == 405


# ---- The page screens this app's templates serve ----


def test_page_list_shows_pages_with_counts_and_sync_buttons(admin_client, synced, shop):
    response = admin_client.get(reverse("pages:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="/pages/{synced.pk}/">{synced.name}</a>' in html
    assert f'<a href="/conversations/?page={synced.pk}">60</a>' in html
    assert f'<a href="/conversations/?page={shop.pk}">0</a>' in html
    assert html.count('<form method="post" action="/pages/') == 2
    assert f'action="/pages/{synced.pk}/sync/"' in html
    assert "Sync from Facebook" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'href="/pages/connect/"' in html
    assert '<span class="badge status-complete">Complete</span>' in html


def test_page_list_empty_state(admin_client, db):
    html = admin_client.get(reverse("pages:list")).content.decode()
    assert "No pages yet" in html
    assert 'href="/pages/connect/"' in html


def test_connect_form_shows_field_errors(admin_client, db):
    response = admin_client.post(reverse("pages:connect"), {"page_id": "", "access_token": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<ul class="error" id="id_page_id_error"><li>This field is required.</li></ul>' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_page_id_helptext id_page_id_error"' in html


def test_login_page_renders_form_and_errors(client, db):
    page = client.get("/login/?next=/conversations/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<label for="id_username">Username</label>' in html
    assert '<input type="hidden" name="next" value="/conversations/">' in html

    wrong = client.post("/login/", {"username": "nobody", "password": "wrong"})
    assert wrong.status_code == 200
    assert "Please enter a correct username and password." in wrong.content.decode()
