"""403, 404, 500 and CSRF failures are pages of the app (its layout, its stylesheet), never
Django's bare ones. A logged-in account without inbox access is told why, and can log out."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import path, reverse
from django.views.defaults import permission_denied, server_error

from fbsync.urls import urlpatterns as app_urlpatterns
from tests.helpers import create_inbox_staff

LAYOUT = (
    '<a class="skip-link" href="#main">',
    '<link rel="stylesheet" href="/static/css/app.css">',
)
NO_ACCESS = "your account does not have access to the inbox"


def assert_in_the_layout(html: str) -> None:
    for part in LAYOUT:
        assert part in html


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_an_unknown_address_answers_the_apps_404(client):
    response = client.get("/no/such/<page>/")
    assert response.status_code == 404
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>Not found</h1>" in html
    assert '<code class="address">/no/such/%3Cpage%3E/</code>' in html  # quoted by Django
    assert "<page>" not in html


@pytest.mark.django_db
def test_a_missing_conversation_answers_the_404_with_the_navigation(staff_client):
    response = staff_client.get(reverse("conversations:detail", args=[987654]))
    assert response.status_code == 404
    html = response.content.decode()
    assert_in_the_layout(html)
    assert '<nav aria-label="Main">' in html
    assert 'href="/conversations/">Conversations</a>' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "is_staff", [False, True], ids=["not staff", "staff without the permission"]
)
def test_an_account_without_inbox_access_is_told_why_and_offered_to_log_out(is_staff):
    client = logged_in(User.objects.create_user("visitor", is_staff=is_staff))

    response = client.get(reverse("pages:list"))  # where a login lands

    assert response.status_code == 403
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>No access to the inbox</h1>" in html
    assert NO_ACCESS in html
    assert "Ask an administrator" in html
    assert "<bdi>visitor</bdi>" in html
    # A Log out button in the page (and the header's), each a CSRF-protected POST.
    forms = re.findall(r'<form method="post" action="/logout/"[^>]*>\s*<input[^>]*>', html)
    assert len(forms) == 2
    assert all('name="csrfmiddlewaretoken"' in form for form in forms)
    # No navigation to screens that would refuse them as well.
    assert '<nav aria-label="Main">' not in html
    logout = client.post(reverse("logout"))
    assert logout["Location"] == reverse("login")


@pytest.mark.django_db
def test_other_refusals_say_not_allowed_without_blaming_the_account():
    request = RequestFactory().get("/somewhere/")
    request.user = create_inbox_staff()
    response = permission_denied(request, exception=None)
    html = response.content.decode()
    assert response.status_code == 403
    assert_in_the_layout(html)
    assert "<h1>Not allowed</h1>" in html
    assert NO_ACCESS not in html


def test_the_500_page_renders_without_a_request_or_the_database():
    """Django renders 500.html with an empty context; no database marker here: any query
    would fail the test, as it would when the database is what broke."""
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert_in_the_layout(html)
    assert "<h1>Something went wrong</h1>" in html
    assert "Log out" not in html


def broken_view(request):
    raise RuntimeError("boom")


urlpatterns = [*app_urlpatterns, path("broken/", broken_view)]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_error_in_a_view_answers_the_apps_500(caplog):
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>Something went wrong</h1>" in html
    assert "boom" not in html
    assert "RuntimeError" in caplog.text  # logged for the operator, not shown


@pytest.mark.django_db
def test_a_stale_form_answers_the_apps_csrf_page():
    response = Client(enforce_csrf_checks=True).post(
        reverse("login"), {"username": "a", "password": "b"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>This form has expired</h1>" in html
