"""Reading inboxes takes more than being staff: the "Can view conversation" permission (a
superuser holds it implicitly). Every screen that shows or changes inbox data checks it."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation
from pages.models import SyncRun
from tests.helpers import create_inbox_staff, sync

pytestmark = pytest.mark.django_db


def inbox_urls(page, conversation) -> dict:
    return {
        "get": [
            reverse("pages:list"),
            reverse("pages:connect"),
            reverse("pages:detail", args=[page.pk]),
            reverse("conversations:list"),
            reverse("conversations:detail", args=[conversation.pk]),
            reverse("conversations:activity", args=[page.pk]),
        ],
        "stream": reverse("pages:events", args=[page.pk]),
        "post": [
            reverse("pages:sync", args=[page.pk]),
            reverse("pages:resume", args=[page.pk]),
            reverse("pages:cancel", args=[page.pk]),
            reverse("pages:reconnect", args=[page.pk]),
        ],
    }


@pytest.fixture
def urls(page):
    sync(page)
    return inbox_urls(page, Conversation.objects.filter(page=page).first())


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_the_inbox_permission_are_refused_everywhere(urls):
    client = logged_in(User.objects.create_user("plain-staff", is_staff=True))
    runs_before = SyncRun.objects.count()

    for url in urls["get"]:
        assert client.get(url).status_code == 403, url
    for url in urls["post"]:
        assert client.post(url).status_code == 403, url
    assert client.get(urls["stream"]).status_code == 403
    assert SyncRun.objects.count() == runs_before


@pytest.mark.parametrize("is_staff", [False, True])
def test_the_permission_alone_is_not_enough_without_staff_and_an_active_account(urls, is_staff):
    user = create_inbox_staff("someone")
    user.is_staff = is_staff
    user.is_active = not is_staff  # staff but deactivated, or active but not staff
    user.save()
    client = logged_in(user)
    for url in urls["get"]:
        assert client.get(url).status_code in (302, 403), url


def test_inbox_staff_and_superusers_are_let_in(urls):
    for user in (
        create_inbox_staff("reader"),
        User.objects.create_superuser("root", password="pw"),
    ):
        client = logged_in(user)
        for url in urls["get"]:
            assert client.get(url).status_code == 200, url
