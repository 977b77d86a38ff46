"""Every admin page loads; the checkpoint is shown read-only and the token never."""

import pytest
from django.urls import reverse

from pages.models import SyncRun
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
