"""The Page screens and sync controls: access, CSRF, one active run, cancel, resume, reconnect,
and the background task doing the work."""

import threading
import time

import pytest
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from conversations.models import Conversation
from pages import streams
from pages.models import FacebookPage, SyncRun
from pages.tasks import sync_page_task
from tests.helpers import (
    closing_connections,
    connect,
    create_inbox_staff,
    point_settings_at,
    sync,
)

pytestmark = pytest.mark.django_db


def page_urls(page):
    return {
        "get": [
            reverse("pages:list"),
            reverse("pages:connect"),
            reverse("pages:detail", args=[page.pk]),
        ],
        "post": [
            reverse("pages:sync", args=[page.pk]),
            reverse("pages:full_sync", args=[page.pk]),
            reverse("pages:resume", args=[page.pk]),
            reverse("pages:cancel", args=[page.pk]),
            reverse("pages:reconnect", args=[page.pk]),
        ],
    }


def test_every_page_view_sends_anonymous_users_to_login(client, page):
    urls = page_urls(page)
    for url in urls["get"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    for url in urls["post"]:
        assert client.post(url).status_code == 302
    assert SyncRun.objects.count() == 0


def test_every_page_view_refuses_non_staff(client, page, django_user_model):
    client.force_login(django_user_model.objects.create_user("customer", password="pw"))
    urls = page_urls(page)
    for url in urls["get"]:
        assert client.get(url).status_code == 403
    for url in urls["post"]:
        assert client.post(url).status_code == 403
    assert client.get(reverse("pages:events", args=[page.pk])).status_code == 403
    assert SyncRun.objects.count() == 0


def test_event_stream_refuses_anonymous(client, page):
    assert client.get(reverse("pages:events", args=[page.pk])).status_code == 403


def test_posts_without_csrf_token_fail(page, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(create_inbox_staff())
    for url in page_urls(page)["post"]:
        assert client.post(url).status_code == 403
    assert SyncRun.objects.count() == 0


def test_sync_button_records_a_queued_run_and_enqueues_it(
    staff_client, page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(reverse("pages:sync", args=[page.pk]))

    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert (run.status, run.trigger, run.mode) == ("queued", "web", "full")
    assert len(callbacks) == 1
    assert sync_page_task.get_backend().get_result  # the DB backend stored the task

    assert DBTaskResult.objects.get().args_kwargs == {"args": [run.pk], "kwargs": {}}


def test_an_htmx_press_answers_only_its_notice_and_publishes_the_card(
    staff_client, page, monkeypatch
):
    published = []
    monkeypatch.setattr("pages.progress.send_event", lambda *args, **kw: published.append(args))

    first = staff_client.post(reverse("pages:sync", args=[page.pk]), HTTP_HX_REQUEST="true")
    again = staff_client.post(reverse("pages:sync", args=[page.pk]), HTTP_HX_REQUEST="true")

    # The answer does not depend on the pressed form: a live update may have removed it.
    assert (first.status_code, first.content) == (200, b"")
    assert again.content.decode() == "A sync of this page is already running."
    assert SyncRun.objects.count() == 1
    cards = [html for _, event_type, html in published if event_type == "progress"]
    assert len(cards) == 2
    assert 'data-status="queued"' in cards[0]
    assert 'id="cancel-button"' in cards[0]
    assert "hx-swap-oob" not in cards[0]


def test_second_sync_request_does_not_start_a_second_run(staff_client, page):
    staff_client.post(reverse("pages:sync", args=[page.pk]))
    response = staff_client.post(reverse("pages:sync", args=[page.pk]), follow=True)
    assert SyncRun.objects.count() == 1
    assert "already running" in response.content.decode()


def test_the_stream_starts_after_the_last_event_the_page_was_rendered_with(staff_client, page):
    staff_client.post(reverse("pages:sync", args=[page.pk]))  # publishes a card
    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    last = streams.current_event_id(page.pk)
    assert last > 0
    events = reverse("pages:events", args=[page.pk])
    assert f'sse-connect="{events}?lastEventId=page-{page.pk}:{last}"' in html


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_sync_requests_start_exactly_one_run(page, django_user_model):
    user = create_inbox_staff()
    barrier = threading.Barrier(2)
    statuses = []

    def press_sync():
        client = Client()
        client.force_login(user)
        barrier.wait()
        statuses.append(client.post(reverse("pages:sync", args=[page.pk])).status_code)

    threads = [threading.Thread(target=closing_connections(press_sync)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302, 302]
    assert SyncRun.objects.count() == 1


def test_task_runs_the_sync_and_publishes_the_final_panel(staff_client, page, sandbox):
    staff_client.post(reverse("pages:sync", args=[page.pk]))
    run = SyncRun.objects.get()

    assert sync_page_task.call(run.pk) == "complete"

    run.refresh_from_db()
    assert run.status == "complete"
    assert run.inserted == Conversation.objects.count() == 60
    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    assert "Sync complete" in html
    assert "+60" in html


def test_task_of_a_run_cancelled_while_queued_does_nothing(staff_client, page):
    staff_client.post(reverse("pages:sync", args=[page.pk]))
    staff_client.post(reverse("pages:cancel", args=[page.pk]))
    run = SyncRun.objects.get()
    assert run.status == "cancelled"

    assert sync_page_task.call(run.pk) == "cancelled"
    assert Conversation.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_cancel_of_a_running_sync_stops_it_and_resume_continues(
    make_graph_sandbox, settings, django_user_model
):
    server = make_graph_sandbox(conversations=200, seed=7, latency_ms=50)
    point_settings_at(settings, server)
    settings.SYNC_PAGE_SIZE = 5
    page = connect(server)
    client = Client()
    client.force_login(create_inbox_staff())
    client.post(reverse("pages:sync", args=[page.pk]))
    run = SyncRun.objects.get()
    worker = threading.Thread(target=closing_connections(sync_page_task.call), args=[run.pk])
    worker.start()
    while SyncRun.objects.get().current < 5:
        time.sleep(0.01)

    client.post(reverse("pages:cancel", args=[page.pk]))
    worker.join(timeout=30)

    run.refresh_from_db()
    assert run.status == "cancelled"
    assert 5 <= run.current < 200
    assert Conversation.objects.count() == run.current
    html = client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    assert "Sync cancelled" in html
    of_total = f" of {run.total}" if run.total else ""  # the census counts 200
    assert f"Cancelled at conversation {run.current}{of_total}." in html
    assert f"Progress is saved: {run.current}{of_total} conversations done." in html
    assert "Resume sync" in html

    client.post(reverse("pages:resume", args=[page.pk]))
    resumed = SyncRun.objects.order_by("-id").first()
    assert resumed.resumed
    assert sync_page_task.call(resumed.pk) == "complete"
    resumed.refresh_from_db()
    assert (resumed.current, resumed.inserted) == (200, 200)


def test_token_expiry_shows_reconnect_form_and_reconnecting_allows_resume(
    staff_client, page, sandbox
):
    sandbox.sandbox.inject("token_expired", after_calls=1)
    staff_client.post(reverse("pages:sync", args=[page.pk]))
    run = SyncRun.objects.get()
    assert sync_page_task.call(run.pk) == "failed"

    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    assert "Reconnect this Page" in html
    assert "Resume sync" not in html
    assert page.access_token not in html

    sandbox.sandbox.set_token(page.facebook_id, "EAAB-fresh")
    bad = staff_client.post(
        reverse("pages:reconnect", args=[page.pk]), {"access_token": "nope"}, follow=True
    )
    assert "rejected the access token" in bad.content.decode()
    assert 'value="nope"' not in bad.content.decode()
    pressed = staff_client.post(
        reverse("pages:reconnect", args=[page.pk]), {"access_token": "nope"}, HTTP_HX_REQUEST="true"
    )
    assert "rejected the access token" in pressed.content.decode()  # the notice, in place
    assert "nope" not in pressed.content.decode()
    staff_client.post(reverse("pages:reconnect", args=[page.pk]), {"access_token": "EAAB-fresh"})
    page.refresh_from_db()
    assert page.token_status == FacebookPage.TokenStatus.OK

    staff_client.post(reverse("pages:resume", args=[page.pk]))
    resumed = SyncRun.objects.order_by("-id").first()
    assert sync_page_task.call(resumed.pk) == "complete"
    resumed.refresh_from_db()
    assert resumed.inserted == 60


def test_long_rate_limit_parks_the_run_and_frees_the_worker(
    staff_client, page, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_MAX_INLINE_PAUSE_SECONDS = 5
    sandbox.sandbox.inject("rate_limit", code=80006, estimated_minutes=2, after_calls=1)
    staff_client.post(reverse("pages:sync", args=[page.pk]))
    run = SyncRun.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        assert sync_page_task.call(run.pk) == "paused"

    run.refresh_from_db()
    assert run.resume_at is not None
    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    assert "Paused by Facebook" in html
    assert "data-countdown" in html

    delayed = DBTaskResult.objects.filter(args_kwargs__args=[run.pk]).exclude(run_after=None)
    assert any(abs((t.run_after - run.resume_at).total_seconds()) < 1 for t in delayed)

    assert sync_page_task.call(run.pk) == "complete"  # the delayed task resumes it
    run.refresh_from_db()
    assert run.inserted == 60
    assert Conversation.objects.count() == 60


def test_page_detail_shows_history_and_checkpoint(staff_client, page):
    sync(page)
    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    assert "Sync history" in html
    assert "Technical details" in html
    assert "&quot;eventsCreated&quot;" in html
    assert page.access_token not in html


def test_connect_form_checks_the_token_and_shows_errors(staff_client, sandbox):
    page_id, name, token = sandbox.pages[0]
    bad = staff_client.post(reverse("pages:connect"), {"page_id": page_id, "access_token": "x"})
    assert bad.status_code == 200
    assert "rejected the access token" in bad.content.decode()
    assert not FacebookPage.objects.exists()

    good = staff_client.post(reverse("pages:connect"), {"page_id": page_id, "access_token": token})
    page = FacebookPage.objects.get()
    assert good["Location"] == reverse("pages:detail", args=[page.pk])
    assert page.name == name


def test_page_list_shows_pages_with_counts(staff_client, sandbox):
    page = connect(sandbox)
    sync(page)
    html = staff_client.get(reverse("pages:list")).content.decode()
    assert page.name in html
    assert "Sync from Facebook" in html


def test_page_list_offers_connect_not_sync_for_a_page_without_a_token(staff_client, db):
    FacebookPage.objects.create(facebook_id="555000111", name="Made in the admin")

    html = staff_client.get(reverse("pages:list")).content.decode()

    assert "Not connected" in html
    assert "Sync from Facebook" not in html
    assert f"{reverse('pages:connect')}?page_id=555000111" in html


def test_login_with_a_wrong_password_shows_the_error_in_the_form(client, db):
    response = client.post(reverse("login"), {"username": "staff", "password": "wrong"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Please enter a correct username and password" in html
    assert 'name="username"' in html
    assert 'name="password"' in html
