"""Deliveries in the admin: read-only, counts for staff, the raw body for superusers only."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from tests.webhooks.bodies import body, message
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        body=body(message("m_1", "My address is Rua Augusta 12")),
        sha256="a" * 64,
        events=1,
        messages_stored=1,
        status=WebhookDelivery.Status.PROCESSED,
    )


def test_staff_who_may_view_deliveries_see_counts_but_no_body(client, delivery):
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(staff)
    listing = client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert listing.status_code == 200
    assert b"Processed" in listing.content
    page = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b"Rua Augusta" not in page.content
    assert b"Body as received" not in page.content


def test_superusers_see_the_raw_body_escaped_in_a_collapsed_section(admin_client, delivery):
    delivery.body = body(message("m_1", "<script>alert(1)</script> Rua Augusta"))
    delivery.save()
    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b"Rua Augusta" in page.content
    assert b"<script>alert(1)</script>" not in page.content
    assert b"collapse" in page.content


def test_deliveries_cannot_be_added_or_changed(admin_client, delivery):
    assert admin_client.get(reverse("admin:webhooks_webhookdelivery_add")).status_code == 403
    change = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    admin_client.post(change, {"status": "failed"})
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PROCESSED
