"""The Page screen's "Keeping data" form in a real browser (desktop and a 390 px phone),
against a real daphne: a bad number is refused with a message, a good one is saved and the
section says what is deleted; no console error, no failed request, nothing sideways."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

from pages.models import FacebookPage
from tests.e2e.helpers import CHILD_ENV

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def app(make_graph_sandbox, start_daphne):
    """daphne on the test database; no Graph call is made (the Page is not connected, so
    turning the history on only says why it waits)."""
    return start_daphne(make_graph_sandbox(conversations=1, seed=5), **CHILD_ENV)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_keeping_form_refuses_then_saves(app, open_screen, artifacts, size):
    shop = FacebookPage.objects.create(facebook_id="100000000000001", name="Lisbon Bike Shop")
    tab, errors = open_screen(app, size)
    User.objects.get(username="staff").user_permissions.add(
        Permission.objects.get(content_type__app_label="pages", codename="change_facebookpage")
    )

    tab.goto(f"{app.url}/pages/{shop.pk}/")
    section = tab.locator("#keeping")
    expect(section.locator("#keeping-summary")).to_have_text("Messages are kept forever.")
    days = tab.get_by_label("Delete messages and events older than (days)")
    days.fill("0")
    section.get_by_role("button", name="Save").click()
    tab.wait_for_load_state("load")
    expect(tab.locator(".messages")).to_contain_text(
        "Not saved: Enter a whole number of days from 1 to 36,500, or leave it empty."
    )

    days = tab.get_by_label("Delete messages and events older than (days)")
    days.fill("90")
    tab.get_by_label("Fetch each conversation's full history after every sync").check()
    section.get_by_role("button", name="Save").click()
    tab.wait_for_load_state("load")
    expect(tab.locator(".messages")).to_contain_text(
        "Saved: messages and events older than 90 days are deleted."
    )
    expect(tab.locator("#keeping-summary")).to_contain_text(
        "Messages and events older than 90 days are deleted every day; conversations stay"
    )
    expect(tab.locator("#keeping-history")).to_have_text(
        "Each conversation's full history is fetched after every sync."
    )
    shop.refresh_from_db()
    assert (shop.retention_days, shop.fetch_history) == (90, True)
    assert tab.evaluate(SIDEWAYS) <= 0
    section.scroll_into_view_if_needed()
    box = tab.locator("#keeping-save").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= tab.viewport_size["width"]
    tab.screenshot(path=artifacts(f"keeping-{size}.png"), full_page=True)
    errors.assert_none()
