"""The Page screen's "Keeping data" section (pages/retention_views.py): what it says is kept,
and the form that sets the retention and the history fetch: staff who may change Pages only,
CSRF, bad values refused with a message, a history fetch queued when it is turned on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pages.models import FacebookPage, SyncRun
from tests.helpers import create_inbox_staff

pytestmark = pytest.mark.django_db


def create_keeper(username: str = "keeper"):
    """Inbox staff who may also change Pages (and so what is kept of them)."""
    user = create_inbox_staff(username)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="pages", codename="change_facebookpage")
    )
    return user


@pytest.fixture
def keeper_client(client, db):
    client.force_login(create_keeper())
    return client


def save(client, page, **data):
    return client.post(reverse("pages:keeping", args=[page.pk]), data)


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def screen(client, page) -> str:
    response = client.get(reverse("pages:detail", args=[page.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_screen_says_messages_are_kept_forever_by_default(keeper_client, page):
    html = screen(keeper_client, page)
    assert "Keeping data" in html
    assert "Messages are kept forever." in html
    assert 'id="keeping-form"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_saving_a_retention_says_what_is_deleted_and_that_conversations_stay(keeper_client, page):
    response = save(keeper_client, page, retention_days="90")

    assert response.status_code == 302
    assert response["Location"] == reverse("pages:detail", args=[page.pk])
    assert said(response) == ["Saved: messages and events older than 90 days are deleted."]
    page.refresh_from_db()
    assert (page.retention_days, page.fetch_history) == (90, False)
    html = screen(keeper_client, page)
    assert (
        "Messages and events older than 90 days are deleted every day; conversations stay" in html
    )
    assert "Not applied yet" in html
    assert 'value="90"' in html
    assert SyncRun.objects.count() == 0  # no history fetch asked for


def test_the_screen_says_when_it_was_last_applied(keeper_client, page, settings):
    settings.RETENTION_INTERVAL_SECONDS = 6 * 3600
    FacebookPage.objects.filter(pk=page.pk).update(
        retention_days=1, retention_applied_at=timezone.now() - timedelta(hours=2)
    )
    html = screen(keeper_client, page)
    assert "older than 1 day are deleted every 6 hours;" in html
    applied = html[html.index('id="keeping-applied"') :]
    assert applied.startswith('id="keeping-applied">Last applied <time datetime=')
    assert "2 hours ago</time>; next <time" in applied.replace("\xa0", " ")


def test_emptying_the_days_keeps_everything_again(keeper_client, page):
    FacebookPage.objects.filter(pk=page.pk).update(retention_days=30)
    response = save(keeper_client, page, retention_days="")
    assert said(response) == ["Saved: messages are kept forever."]
    page.refresh_from_db()
    assert page.retention_days is None


@pytest.mark.parametrize("value", ["0", "-5", "36501", "abc", "1.5", "99999999999999999999"])
def test_bad_days_are_refused_with_a_message(keeper_client, page, value):
    FacebookPage.objects.filter(pk=page.pk).update(retention_days=30)

    response = save(keeper_client, page, retention_days=value, fetch_history="on")

    assert response.status_code == 302
    assert said(response) == [
        "Not saved: Enter a whole number of days from 1 to 36,500, or leave it empty."
    ]
    page.refresh_from_db()
    assert (page.retention_days, page.fetch_history) == (30, False)
    assert SyncRun.objects.count() == 0


def test_turning_history_on_queues_a_history_fetch_at_once(
    keeper_client, page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = save(keeper_client, page, retention_days="", fetch_history="on")

    assert said(response) == [
        "Saved: messages are kept forever.",
        "Fetching each conversation's full history now.",
    ]
    page.refresh_from_db()
    assert page.fetch_history is True
    run = SyncRun.objects.get()
    assert (run.mode, run.trigger, run.status) == ("history", "web", "queued")
    assert len(callbacks) == 1  # the task is enqueued
    assert "Each conversation's full history is fetched after every sync." in screen(
        keeper_client, page
    )

    again = save(keeper_client, page, retention_days="", fetch_history="on")
    assert said(again)[-1] == f"A history fetch of this page is already running (run #{run.pk})."
    assert SyncRun.objects.count() == 1


def test_history_on_for_a_page_that_cannot_sync_is_saved_and_says_why(keeper_client, db):
    bare = FacebookPage.objects.create(facebook_id="100200300", name="Added in the admin")

    response = save(keeper_client, bare, fetch_history="on")

    assert said(response)[-1] == (
        "The full history is fetched once the page can sync: "
        "Connect this page (paste its access token) before syncing it."
    )
    bare.refresh_from_db()
    assert bare.fetch_history is True
    assert SyncRun.objects.count() == 0


def test_inbox_staff_who_may_not_change_pages_see_the_setting_but_cannot_change_it(
    staff_client, page
):
    FacebookPage.objects.filter(pk=page.pk).update(retention_days=7)
    html = screen(staff_client, page)
    assert "older than 7 days are deleted" in html
    assert 'id="keeping-form"' not in html
    assert "Only staff who may change Pages can change this." in html

    response = save(staff_client, page, retention_days="1")

    assert response.status_code == 403
    page.refresh_from_db()
    assert page.retention_days == 7


def test_anonymous_and_non_staff_are_refused(client, page, django_user_model):
    url = reverse("pages:keeping", args=[page.pk])
    response = client.post(url, {"retention_days": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")

    customer = django_user_model.objects.create_user("customer", password="pw")
    customer.user_permissions.add(
        Permission.objects.get(content_type__app_label="pages", codename="change_facebookpage")
    )
    client.force_login(customer)  # not staff: the permission alone is not enough
    assert client.post(url, {"retention_days": "1"}).status_code == 403
    page.refresh_from_db()
    assert page.retention_days is None


def test_a_post_without_csrf_token_fails_and_get_is_not_allowed(page):
    client = Client(enforce_csrf_checks=True)
    client.force_login(create_keeper())
    url = reverse("pages:keeping", args=[page.pk])
    assert client.post(url, {"retention_days": "1"}).status_code == 403
    assert client.get(url).status_code == 405
    page.refresh_from_db()
    assert page.retention_days is None


def test_an_unknown_page_is_404(keeper_client, db):
    response = keeper_client.post(reverse("pages:keeping", args=[987654]), {"retention_days": "1"})
    assert response.status_code == 404


def test_the_admin_edits_the_retention_within_the_same_bounds(admin_client, page):
    url = reverse("admin:pages_facebookpage_change", args=[page.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="retention_days"' in html

    # The runs' inline has no rows: its management form says so.
    form = {"name": page.name, "sync_runs-TOTAL_FORMS": "0", "sync_runs-INITIAL_FORMS": "0"}
    refused = admin_client.post(url, {**form, "retention_days": "0"})
    assert refused.status_code == 200
    assert "Enter a whole number of days from 1 to 36,500" in refused.content.decode()

    saved = admin_client.post(url, {**form, "retention_days": "45"})
    assert saved.status_code == 302
    page.refresh_from_db()
    assert page.retention_days == 45
    assert page.access_token  # the token is untouched
