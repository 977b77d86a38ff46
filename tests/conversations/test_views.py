"""The conversation list (search, filters, pagination), who may see the conversation screens,
and the page screens this app's templates serve. Filled by a real sync against the
60-conversation sandbox, or by hand where a test needs exact content.

One thread is in test_views_thread.py, the activity heat map in test_views_activity.py; shared
helpers in view_helpers.py, fixtures in conftest.py."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.urls import reverse

from conversations.models import Conversation, Message
from tests.conversations.view_helpers import LIST_URL, listed_pks, make_conversation, newest_first

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
    # session, user, count, one page of rows with contact and page joined, the page filter,
    # the last messages of the rows without a Graph snippet (attachment-only ones), and the
    # live stream's last event id (conversations.live).
    with django_assert_max_num_queries(7):
        response = admin_client.get(LIST_URL, {"q": "a", "folder": "inbox"})
    assert response.status_code == 200
    with django_assert_max_num_queries(7):
        response = admin_client.get(LIST_URL)
    assert len(listed_pks(response)) == 50


def test_conversation_list_empty_state(admin_client, db):
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    assert "No conversations yet" in response.content.decode()


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
    assert f'<a href="/pages/{synced.pk}/"><bdi>{synced.name}</bdi></a>' in html
    assert f'<a href="/conversations/?page={synced.pk}">60</a>' in html
    assert f'<a href="/conversations/?page={shop.pk}">0</a>' in html
    # The hand-made page has no token: it is offered Connect, not a sync that would fail.
    assert html.count('<form method="post" action="/pages/') == 1
    assert f'action="/pages/{synced.pk}/sync/"' in html
    assert f'href="/pages/connect/?page_id={shop.facebook_id}"' in html
    assert "Sync from Facebook" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'href="/pages/connect/"' in html
    assert '<span class="badge status-complete">Complete</span>' in html
    # Synced a moment ago: relative, with the time and its zone in the title.
    assert re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">just now</time>', html)


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
