"""Every admin page loads; the checkpoint is shown read-only and the token never."""

import pytest
from django.urls import reverse

from tests.conftest import sync

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
