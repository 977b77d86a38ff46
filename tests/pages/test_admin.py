"""Every admin page loads; the checkpoint is shown read-only and the token never."""

import pytest
from django.urls import reverse

from pages.models import FacebookPage, SyncRun
from pages.tasks import sync_page_task
from tests.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced_page(page):
    sync(page)
    return page


@pytest.mark.parametrize(
    "model",
    [
        "pages/facebookpage",
        "pages/syncrun",
        "conversations/contact",
        "conversations/conversation",
        "conversations/message",
        "conversations/interactionevent",
    ],
)
def test_admin_changelist_and_change_pages_load(admin_client, synced_page, model):
    app, name = model.split("/")
    changelist = admin_client.get(reverse(f"admin:{app}_{name}_changelist"))
    assert changelist.status_code == 200
    obj = changelist.context["cl"].result_list[0]
    change = admin_client.get(reverse(f"admin:{app}_{name}_change", args=[obj.pk]))
    assert change.status_code == 200


def test_admin_page_shows_checkpoint_and_never_the_token(admin_client, synced_page):
    response = admin_client.get(reverse("admin:pages_facebookpage_change", args=[synced_page.pk]))
    html = response.content.decode()
    assert "&quot;eventsCreated&quot;" in html
    assert synced_page.access_token not in html
    assert synced_page.encrypted_access_token not in html
    assert 'name="sync_checkpoint"' not in html  # read-only, not a form field


def _action(admin_client, action, page):
    return admin_client.post(
        reverse("admin:pages_facebookpage_changelist"),
        {"action": action, "_selected_action": [page.pk]},
        follow=True,
    )


def test_admin_sync_now_queues_a_run(admin_client, page):
    response = _action(admin_client, "sync_now", page)

    assert "Queued 1 sync(s)." in response.content.decode()
    run = SyncRun.objects.get()
    assert (run.status, run.trigger) == ("queued", "admin")
    again = _action(admin_client, "sync_now", page)
    assert "1 page(s) already syncing." in again.content.decode()
    assert SyncRun.objects.count() == 1


def test_admin_resume_continues_an_interrupted_checkpoint(admin_client, page):
    stops = iter([False] * 10 + [True])
    sync(page, should_stop=lambda: next(stops, True))

    _action(admin_client, "resume_sync", page)

    run = SyncRun.objects.order_by("-id").first()
    assert run.resumed
    assert sync_page_task.call(run.pk) == "complete"
    run.refresh_from_db()
    assert run.inserted == 60


def test_admin_clear_checkpoint_empties_it(admin_client, synced_page):
    _action(admin_client, "clear_checkpoint", synced_page)
    synced_page.refresh_from_db()
    assert synced_page.sync_checkpoint == {}


def test_a_page_is_never_added_bare_in_the_admin(admin_client, db):
    assert admin_client.get(reverse("admin:pages_facebookpage_add")).status_code == 403


def test_the_facebook_id_of_a_connected_page_cannot_be_edited(admin_client, page):
    url = reverse("admin:pages_facebookpage_change", args=[page.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="facebook_id"' not in html
    admin_client.post(url, {"facebook_id": "999", "name": "Renamed", "sync_runs-TOTAL_FORMS": 0})
    page.refresh_from_db()
    assert page.facebook_id != "999"


def test_a_page_that_syncs_cannot_be_deleted(admin_client, page):
    SyncRun.objects.create(page=page, status=SyncRun.Status.RUNNING)
    other = FacebookPage.objects.create(facebook_id="123", name="Idle")

    single = admin_client.get(reverse("admin:pages_facebookpage_delete", args=[page.pk]))
    selection = {"action": "delete_selected", "_selected_action": [page.pk, other.pk]}
    changelist = reverse("admin:pages_facebookpage_changelist")
    confirm = admin_client.post(changelist, selection)
    forced = admin_client.post(changelist, {**selection, "post": "yes"})

    assert single.status_code == 403
    assert "permission to delete" in confirm.content.decode()
    assert forced.status_code == 403
    assert FacebookPage.objects.count() == 2


def test_a_page_without_a_token_is_not_connected_in_the_admin(admin_client, page):
    bare = FacebookPage.objects.create(facebook_id="100200300", name="Added by hand")

    changelist = admin_client.get(reverse("admin:pages_facebookpage_changelist")).content.decode()
    change = admin_client.get(reverse("admin:pages_facebookpage_change", args=[bare.pk]))

    assert "Not connected: <a href=" in changelist
    assert f"{reverse('pages:connect')}?page_id=100200300" in change.content.decode()
    assert ">Connected<" in changelist  # the connected page
    assert "skipped: nothing to resume, or not connected" in (
        _action(admin_client, "sync_now", bare).content.decode()
    )
    assert not SyncRun.objects.exists()


def test_admin_full_resync_queues_a_full_run(admin_client, page):
    sync(page)

    _action(admin_client, "full_sync", page)

    assert SyncRun.objects.order_by("-id").first().mode == "full"
