"""The Page screen tells staff what Facebook does not give for their Page (folders it refuses
or ignores, fields it removed), on load and in live updates."""

import pytest
from django.urls import reverse

from pages.panel import render_event
from pages.sync import findings

pytestmark = pytest.mark.django_db


def test_unavailable_folders_and_removed_fields_are_shown(staff_client, admin_client, page):
    findings.record_folder(page, "spam", findings.REFUSED, "(#100) Param folder must be one of")
    findings.record_folder(page, "pending", findings.IGNORED, "answered with the inbox")
    findings.record_degraded_field(page, "snippet")

    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()
    live = render_event(page)
    admin = admin_client.get(reverse("admin:pages_facebookpage_change", args=[page.pk]))

    for shown in (html, live):
        assert "The <strong>spam</strong> folder: Facebook refuses to list it" in shown
        assert "The <strong>pending</strong> folder: Facebook ignores it" in shown
        assert "The <strong>snippet</strong> field no longer exists" in shown
    assert "&quot;refused&quot;" in admin.content.decode()


def test_a_folder_that_answers_again_is_no_longer_listed(staff_client, page):
    findings.record_folder(page, "spam", findings.REFUSED, "(#100)")
    findings.record_available_folder(page, "spam")

    html = staff_client.get(reverse("pages:detail", args=[page.pk])).content.decode()

    assert findings.unavailable_folders(page) == {}
    assert "What Facebook does not give" not in html
