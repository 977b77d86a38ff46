"""Connecting a Page never lets the pasted token out: not in an error message, not in a
request header, not in an error report. And it asks Graph what the token is: a user token,
another Page's, an expired one or one without the permissions the sync needs is refused with
its reason, through the form and the command; without app credentials it says so."""

import html

import pytest
from django.core.signals import got_request_exception
from django.urls import reverse
from django.views.debug import ExceptionReporter

from pages import views
from pages.connect import ConnectError, connect_page
from pages.graph.tokens import REQUIRED_SCOPES
from pages.models import FacebookPage
from tests.helpers import connect, manage, point_settings_at

pytestmark = pytest.mark.django_db

HOSTILE = "EAABsecret123\r\nX-Injected: yes"


@pytest.mark.parametrize("token", [HOSTILE, "EAAB secret", "EAAB'secret", "EAAB\x1b[31m"])
def test_a_token_that_is_not_one_word_is_refused_before_any_request(sandbox, token):
    page_id = sandbox.pages[0][0]
    sandbox.sandbox.reset_stats()

    with pytest.raises(ConnectError) as refused:
        connect_page(page_id, token)

    assert "secret" not in str(refused.value)
    assert "Injected" not in str(refused.value)
    assert sandbox.sandbox.stats()["total"] == 0
    assert not FacebookPage.objects.exists()


def test_the_connect_form_refuses_it_without_echoing_it(staff_client, sandbox):
    page_id = sandbox.pages[0][0]

    response = staff_client.post(
        reverse("pages:connect"), {"page_id": page_id, "access_token": HOSTILE}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "That is not an access token" in html
    assert "secret123" not in html
    assert "Injected" not in html


def test_connect_page_command_refuses_it_without_echoing_it(sandbox, transactional_db):
    result = manage(
        sandbox, "connect_page", "--page-id", sandbox.pages[0][0], "--access-token", HOSTILE
    )

    assert result.returncode != 0
    assert "That is not an access token" in result.stderr
    assert "secret123" not in result.stdout + result.stderr


def test_an_error_report_of_the_connect_view_hides_the_token(staff_client, sandbox, monkeypatch):
    def broken(page_id, access_token):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "connect_page", broken)
    reports = []

    def report(sender, request, **kwargs):
        reports.append(ExceptionReporter(request, RuntimeError, RuntimeError("boom"), None))

    got_request_exception.connect(report)
    staff_client.raise_request_exception = False
    try:
        staff_client.post(
            reverse("pages:connect"),
            {"page_id": sandbox.pages[0][0], "access_token": "EAABverysecret"},
        )
    finally:
        got_request_exception.disconnect(report)

    (reporter,) = reports
    assert "EAABverysecret" not in reporter.get_traceback_text()
    assert "access_token" in reporter.get_traceback_text()  # named, with its value hidden


def test_read_only_screens_answer_head_and_connect_refuses_other_methods(staff_client, page):
    assert staff_client.head(reverse("pages:list")).status_code == 200
    assert staff_client.head(reverse("pages:detail", args=[page.pk])).status_code == 200
    assert staff_client.put(reverse("pages:connect")).status_code == 405


# -- what the token is (debug_token, issue 8) ------------------------------------------------

ADVANCED_ACCESS = (
    "Facebook silently returns only people with a role on the app when the app lacks Advanced "
    "Access for pages_messaging"
)
UNVERIFIED = (
    "could not verify the token's permissions (set FACEBOOK_APP_ID and FACEBOOK_APP_SECRET)"
)


@pytest.fixture
def two_pages(make_graph_sandbox, settings):
    """A two-Page sandbox the app is pointed at, with the sandbox app's credentials set."""
    server = make_graph_sandbox(conversations=3, seed=11, pages=2)
    point_settings_at(settings, server)
    app = server.sandbox.app_credentials()
    settings.FACEBOOK_APP_ID = app["app_id"]
    settings.FACEBOOK_APP_SECRET = app["app_secret"]
    return server


def app_env(server) -> dict[str, str]:
    app = server.sandbox.app_credentials()
    return {"FACEBOOK_APP_ID": app["app_id"], "FACEBOOK_APP_SECRET": app["app_secret"]}


def refused_token(server, case: str) -> tuple[str, str]:
    """(the token, the reason it must be refused with) for each kind of unusable token."""
    page_id, _, token = server.pages[0]
    if case == "user":
        server.sandbox.set_token_info(page_id, type="USER")
        return token, "This is a user access token, not a Page access token."
    if case == "another_page":
        other_id, _, other_token = server.pages[1]
        return other_token, f"belongs to another Page ({other_id}), not to page {page_id}."
    if case == "expired":
        server.sandbox.set_token_info(page_id, expired=True)
        return token, "The token has expired on "
    scope = case.removeprefix("missing_")
    server.sandbox.set_token_info(page_id, missing_scopes=[scope])
    return token, f"The token lacks the permission(s) {scope} that fbsync needs"


REFUSED = [
    "user",
    "another_page",
    "expired",
    *(f"missing_{scope}" for scope in REQUIRED_SCOPES),
]


def shown(response) -> str:
    return html.unescape(response.content.decode())


def test_the_connect_screen_says_what_advanced_access_hides(staff_client):
    page = shown(staff_client.get(reverse("pages:connect")))

    assert ADVANCED_ACCESS in page
    assert "pages_manage_metadata" in page


def test_a_good_page_token_connects_verified_through_the_form(staff_client, two_pages):
    page_id, name, token = two_pages.pages[0]

    response = staff_client.post(
        reverse("pages:connect"), {"page_id": page_id, "access_token": token}, follow=True
    )

    page = FacebookPage.objects.get()
    assert (page.facebook_id, page.name, page.access_token) == (page_id, name, token)
    screen = shown(response)
    assert f"Connected {name}. Verified with Facebook: a Page token, never expires" in screen
    assert ADVANCED_ACCESS in screen
    assert UNVERIFIED not in screen
    assert token not in screen
    assert two_pages.sandbox.stats()["debug_token"] == 1


@pytest.mark.parametrize("case", REFUSED)
def test_the_connect_form_refuses_an_unusable_token_with_its_reason(staff_client, two_pages, case):
    page_id = two_pages.pages[0][0]
    token, reason = refused_token(two_pages, case)

    response = staff_client.post(
        reverse("pages:connect"), {"page_id": page_id, "access_token": token}
    )

    screen = shown(response)
    assert response.status_code == 200
    assert reason in screen
    assert token not in screen
    assert not FacebookPage.objects.exists()


def test_reconnecting_with_a_user_token_keeps_the_old_one(staff_client, two_pages):
    page = connect(two_pages)
    old = page.access_token
    two_pages.sandbox.set_token(page.facebook_id, "EAAB-user-token")
    two_pages.sandbox.set_token_info(page.facebook_id, type="USER")

    response = staff_client.post(
        reverse("pages:reconnect", args=[page.pk]),
        {"access_token": "EAAB-user-token"},
        follow=True,
    )

    screen = shown(response)
    assert "This is a user access token, not a Page access token." in screen
    assert "EAAB-user-token" not in screen
    page.refresh_from_db()
    assert page.access_token == old


def test_reconnecting_with_a_good_token_says_what_it_is(staff_client, two_pages):
    page = connect(two_pages)
    two_pages.sandbox.set_token(page.facebook_id, "EAAB-fresh-token")

    response = staff_client.post(
        reverse("pages:reconnect", args=[page.pk]),
        {"access_token": "EAAB-fresh-token"},
        follow=True,
    )

    screen = shown(response)
    assert "Reconnected. Resume the sync" in screen
    assert "Verified with Facebook: a Page token" in screen
    assert ADVANCED_ACCESS in screen
    page.refresh_from_db()
    assert page.access_token == "EAAB-fresh-token"


def test_without_app_credentials_the_form_connects_and_says_it_could_not_verify(
    staff_client, sandbox, settings
):
    settings.FACEBOOK_APP_ID = ""
    page_id, name, token = sandbox.pages[0]

    response = staff_client.post(
        reverse("pages:connect"), {"page_id": page_id, "access_token": token}, follow=True
    )

    assert FacebookPage.objects.get().name == name
    screen = shown(response)
    assert UNVERIFIED in screen
    assert ADVANCED_ACCESS in screen
    assert sandbox.sandbox.stats()["debug_token"] == 0


@pytest.mark.slow
def test_connect_page_command_connects_a_good_token_verified(two_pages, transactional_db):
    page_id, name, token = two_pages.pages[0]

    done = manage(
        two_pages, "connect_page", "--page-id", page_id, "--access-token", token,
        **app_env(two_pages),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert f"Connected {name} ({page_id})." in done.stdout
    assert "Verified with Facebook: a Page token, never expires" in done.stdout
    assert ADVANCED_ACCESS in done.stdout
    assert UNVERIFIED not in done.stdout
    assert token not in done.stdout + done.stderr
    assert FacebookPage.objects.get().access_token == token


@pytest.mark.slow
@pytest.mark.parametrize("case", REFUSED)
def test_connect_page_command_refuses_an_unusable_token_with_its_reason(
    two_pages, transactional_db, case
):
    page_id = two_pages.pages[0][0]
    token, reason = refused_token(two_pages, case)

    refused = manage(
        two_pages, "connect_page", "--page-id", page_id, "--access-token", token,
        **app_env(two_pages),
    )  # fmt: skip

    assert refused.returncode != 0
    assert reason in refused.stderr
    assert token not in refused.stdout + refused.stderr
    assert not FacebookPage.objects.exists()


@pytest.mark.slow
def test_without_app_credentials_the_command_runs_the_old_check_and_says_so(
    two_pages, transactional_db
):
    page_id, name, token = two_pages.pages[0]

    done = manage(two_pages, "connect_page", "--page-id", page_id, "--access-token", token)

    assert done.returncode == 0, done.stderr
    assert f"Connected {name} ({page_id})." in done.stdout
    assert UNVERIFIED in done.stdout
    assert ADVANCED_ACCESS in done.stdout
    assert token not in done.stdout + done.stderr
    assert two_pages.sandbox.stats()["debug_token"] == 0
