"""Login throttling (django-axes): after the failure limit, logins from that address are
refused on the app's and the admin's login, even with the right password."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import create_inbox_staff

pytestmark = pytest.mark.django_db

PASSWORD = "Right-password-42"


@pytest.fixture
def staff(settings):
    settings.AXES_FAILURE_LIMIT = 3
    # Every attempt hashes a password: the fast test hasher keeps this test quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return create_inbox_staff(password=PASSWORD)


def log_in(client, password: str, url: str = "login", address: str = "203.0.113.7"):
    return client.post(
        reverse(url), {"username": "staff", "password": password}, REMOTE_ADDR=address
    )


def test_a_wrong_password_below_the_limit_just_fails(client, staff):
    assert log_in(client, "wrong").status_code == 200  # the form again, with its error
    assert log_in(client, PASSWORD).status_code == 302


def test_too_many_failures_lock_the_app_and_admin_logins_for_that_address(client, staff):
    for _ in range(3):
        log_in(client, "wrong")

    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert log_in(client, PASSWORD, url="admin:login").status_code == 429

    # Another address is not affected.
    assert log_in(client, PASSWORD, address="198.51.100.2").status_code == 302
