"""Connect with Facebook, end to end against the sandbox over real HTTP: the dialog's URL, the
state bound to the session, the code exchanged for a long-lived user token, the picker, the
chosen Pages stored with their Page tokens, subscribed to webhooks and given a first sync; and
every way it can go wrong (denial, forged or replayed state, a declined permission, a Page
without the Messaging task, an expired code) ends on the Pages screen with its message and
nothing stored. The dialog's HTML is driven in tests/e2e/test_facebook_login.py."""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from fbsync.redaction import RedactingFormatter, redact_secret_params
from pages import facebook_login, login_connect
from pages.facebook_login import PICKER_KEY, SCOPES, STATE_KEY
from pages.graph.errors import GraphError
from pages.graph.subscriptions import WEBHOOK_FIELDS
from pages.models import FacebookPage, SyncRun
from tests.helpers import connect, create_inbox_staff, point_settings_at

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/pages/facebook/callback/"


@pytest.fixture
def login_sandbox(make_graph_sandbox, settings):
    """A two-Page sandbox serving Graph and the Login dialog, with its app's credentials."""
    server = make_graph_sandbox(conversations=3, seed=5, pages=2)
    point_settings_at(settings, server)
    app = server.sandbox.app_credentials()
    settings.FACEBOOK_APP_ID = app["app_id"]
    settings.FACEBOOK_APP_SECRET = app["app_secret"]
    settings.FACEBOOK_DIALOG_URL = server.url
    settings.FACEBOOK_LOGIN_CONFIG_ID = ""
    settings.FACEBOOK_LOGIN_REDIRECT_URI = ""
    return server


def start(client) -> dict[str, str]:
    """Press Connect with Facebook; the dialog's query parameters."""
    response = client.get(reverse("pages:facebook_login"))
    assert response.status_code == 302
    return {name: values[0] for name, values in parse_qs(urlsplit(response.url).query).items()}


def consent(server, dialog: dict[str, str], **answer) -> str:
    """The person's answer in the dialog (without its HTML); the path Facebook sends them to."""
    url = server.sandbox.oauth_consent(
        dialog["client_id"], dialog["redirect_uri"], dialog["state"], **answer
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return f"{parts.path}?{parts.query}"


def shown(response) -> str:
    return html.unescape(response.content.decode())


def text_of(response) -> str:
    return re.sub(r"<[^>]+>", "", shown(response))


def session_text(client) -> str:
    return Session.objects.get(session_key=client.session.session_key).session_data


def tokens_handed_out(server) -> list[str]:
    """Every user token the sandbox issued and every Page's token."""
    return [*server.sandbox.login.user_tokens, *(token for _, _, token in server.pages)]


def test_the_dialog_is_asked_for_the_page_permissions_with_a_state_and_the_exact_callback(
    staff_client, login_sandbox
):
    dialog = start(staff_client)

    assert dialog["client_id"] == login_sandbox.sandbox.app_credentials()["app_id"]
    assert dialog["redirect_uri"] == CALLBACK
    assert dialog["response_type"] == "code"
    assert dialog["scope"].split(",") == list(SCOPES)
    assert len(dialog["state"]) >= 32
    assert staff_client.session[STATE_KEY]["state"] == dialog["state"]
    # A new press replaces the state: the first dialog's answer is no longer accepted.
    assert start(staff_client)["state"] != dialog["state"]


def test_a_login_for_business_configuration_is_sent_instead_of_the_scopes(
    staff_client, login_sandbox, settings
):
    settings.FACEBOOK_LOGIN_CONFIG_ID = "987654321"
    settings.FACEBOOK_LOGIN_REDIRECT_URI = "https://fbsync.example/pages/facebook/callback/"

    dialog = start(staff_client)

    assert dialog["config_id"] == "987654321"
    assert "scope" not in dialog
    assert dialog["redirect_uri"] == "https://fbsync.example/pages/facebook/callback/"


def test_connect_with_facebook_stores_the_chosen_page_subscribed_and_queues_its_first_sync(
    staff_client, login_sandbox
):
    (first_id, first_name, first_token), (second_id, second_name, _) = login_sandbox.pages
    user_id = login_sandbox.sandbox.oauth_user()["id"]

    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    assert answer.url == reverse("pages:facebook_pages")
    picker = shown(staff_client.get(answer.url))
    assert first_name in picker
    assert second_name in picker
    assert picker.count("Can read messages") == 2
    assert f'src="{login_sandbox.url}/_sandbox/picture/{first_id}.png"' in picker
    # Between the Login and the choice, no token sits in the session in clear.
    assert not any(
        token in session_text(staff_client) for token in tokens_handed_out(login_sandbox)
    )

    done = staff_client.post(answer.url, {"page": [first_id], "first_sync": "on"}, follow=True)

    page = FacebookPage.objects.get()
    assert (page.facebook_id, page.name, page.access_token) == (first_id, first_name, first_token)
    assert page.facebook_user_id == user_id
    assert page.token_status == FacebookPage.TokenStatus.OK
    assert set(page.webhook_fields) == set(WEBHOOK_FIELDS)
    assert page.webhook_checked_at is not None
    assert login_sandbox.sandbox.subscriptions_info()[first_id] == list(WEBHOOK_FIELDS)
    (run,) = SyncRun.objects.filter(page=page)
    assert (run.trigger, run.status) == (SyncRun.Trigger.LOGIN, SyncRun.Status.QUEUED)
    text = shown(done)
    assert done.redirect_chain[-1][0] == reverse("pages:list")
    assert f"Connected {first_name}. Verified with Facebook: a Page token, never expires" in text
    assert f"The first sync of {first_name} is queued." in text
    assert PICKER_KEY not in staff_client.session
    assert not any(token in text for token in tokens_handed_out(login_sandbox))


def test_the_first_sync_is_only_queued_when_asked(staff_client, login_sandbox):
    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    staff_client.post(answer.url, {"page": [p[0] for p in login_sandbox.pages]})

    assert FacebookPage.objects.count() == 2
    assert not SyncRun.objects.exists()


def test_denied_consent_says_so_and_stores_nothing(staff_client, login_sandbox):
    back = consent(login_sandbox, start(staff_client), approve=False)

    response = staff_client.get(back, follow=True)

    assert response.redirect_chain[-1][0] == reverse("pages:list")
    assert "You cancelled Facebook Login, so nothing was connected." in shown(response)
    assert not FacebookPage.objects.exists()
    assert PICKER_KEY not in staff_client.session
    assert login_sandbox.sandbox.stats()["total"] == 0  # not a call to Graph


@pytest.mark.parametrize("case", ["forged", "other_session", "stale"])
def test_a_forged_or_stale_state_is_refused_before_the_code_is_used(
    staff_client, login_sandbox, case, monkeypatch
):
    if case == "stale":
        monkeypatch.setattr(facebook_login, "STATE_LIFETIME_SECONDS", -1)
    dialog = start(staff_client)
    if case == "forged":
        dialog = {**dialog, "state": "an-attacker-chose-this-state-value-0123456789"}
    visitor = staff_client
    if case == "other_session":  # the answer to someone else's dialog, in another session
        visitor = Client()
        visitor.force_login(create_inbox_staff("other"))

    response = visitor.get(consent(login_sandbox, dialog), follow=True)

    assert response.redirect_chain[-1][0] == reverse("pages:list")
    assert "This Facebook Login could not be verified" in shown(response)
    assert PICKER_KEY not in visitor.session
    assert STATE_KEY not in visitor.session
    assert [code.used for code in login_sandbox.sandbox.login.codes.values()] == [False]
    assert not FacebookPage.objects.exists()


def test_a_state_is_used_once(staff_client, login_sandbox):
    back = consent(login_sandbox, start(staff_client))
    assert staff_client.get(back).url == reverse("pages:facebook_pages")

    replayed = staff_client.get(back, follow=True)

    assert "This Facebook Login could not be verified" in shown(replayed)


def test_a_declined_permission_is_named_and_nothing_is_stored(staff_client, login_sandbox):
    granted = [scope for scope in SCOPES if scope != "pages_messaging"]
    back = consent(login_sandbox, start(staff_client), scopes=granted)

    response = staff_client.get(back, follow=True)

    text = shown(response)
    assert "You declined the permission fbsync needs: pages_messaging" in text
    assert "keep every permission ticked" in text
    assert not FacebookPage.objects.exists()
    assert PICKER_KEY not in staff_client.session


def test_an_expired_code_is_explained_and_nothing_is_stored(staff_client, login_sandbox):
    back = consent(login_sandbox, start(staff_client))
    login_sandbox.sandbox.expire_oauth_codes()

    response = staff_client.get(back, follow=True)

    text = shown(response)
    assert "Facebook did not accept the login code (This authorization code has expired" in text
    assert "Press Connect with Facebook to try again." in text
    assert not FacebookPage.objects.exists()
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert code not in text


def test_a_page_without_the_messaging_task_cannot_be_chosen(staff_client, login_sandbox):
    (first_id, _, _), (second_id, second_name, _) = login_sandbox.pages
    login_sandbox.sandbox.oauth_user(tasks={second_id: ["ANALYZE", "ADVERTISE"]})
    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    picker = shown(staff_client.get(answer.url))

    assert "Cannot read messages (you lack the Messaging task on this Page)" in picker
    assert f'value="{second_id}" id="page-{second_id}" aria-describedby' in picker
    row = picker[picker.index(f'value="{second_id}"') :]
    assert row[: row.index(">")].endswith("disabled")
    # Sent anyway (a crafted form): refused with the reason, the other Page still connects.
    done = staff_client.post(answer.url, {"page": [first_id, second_id]}, follow=True)
    assert list(FacebookPage.objects.values_list("facebook_id", flat=True)) == [first_id]
    assert f"{second_name} was not connected: Cannot read messages" in shown(done)


def test_an_already_connected_page_is_marked_and_connecting_it_again_refreshes_its_token(
    staff_client, login_sandbox
):
    page = connect(login_sandbox)
    page.access_token = "EAABstaleToken"
    page.token_status = FacebookPage.TokenStatus.NEEDS_RECONNECT
    page.save()
    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    picker = shown(staff_client.get(answer.url))

    assert picker.count("Already connected") == 1
    assert f'value="{page.facebook_id}" id="page-{page.facebook_id}" aria-describedby' in picker
    row = picker[picker.index(f'value="{page.facebook_id}"') :]
    assert row[: row.index(">")].endswith("checked")  # ticked: a new Login, a fresh token
    staff_client.post(answer.url, {"page": [page.facebook_id]})
    page.refresh_from_db()
    assert page.access_token == login_sandbox.pages[0][2]
    assert page.token_status == FacebookPage.TokenStatus.OK


def test_a_failed_subscription_keeps_the_connection_and_says_so(
    staff_client, login_sandbox, monkeypatch
):
    def refused(client, page_id):
        raise GraphError("(#200) Permissions error")

    monkeypatch.setattr(login_connect, "subscribe", refused)
    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    done = staff_client.post(answer.url, {"page": [login_sandbox.page_id]}, follow=True)

    page = FacebookPage.objects.get()
    assert page.is_connected
    assert page.webhook_fields == []
    said = "is connected. Its webhooks could not be subscribed ((#200) Permissions error)"
    assert said in shown(done)


def test_every_page_of_the_accounts_list_is_offered(staff_client, login_sandbox, monkeypatch):
    monkeypatch.setattr(facebook_login, "ACCOUNTS_PER_CALL", 1)
    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    picker = shown(staff_client.get(answer.url))

    assert all(name in picker for _, name, _ in login_sandbox.pages)
    requests = login_sandbox.sandbox.stats()["requests"]
    assert sum("me/accounts" in str(request) for request in requests) == 2


def test_nothing_ticked_shows_the_picker_again_and_cancel_drops_it(staff_client, login_sandbox):
    answer = staff_client.get(consent(login_sandbox, start(staff_client)))

    again = staff_client.post(answer.url, {"first_sync": "on"})

    assert again.status_code == 200
    assert "Tick at least one Page to connect." in shown(again)
    assert PICKER_KEY in staff_client.session
    cancelled = staff_client.post(answer.url, {"cancel": "1"}, follow=True)
    assert "Nothing was connected." in shown(cancelled)
    assert PICKER_KEY not in staff_client.session
    gone = staff_client.post(answer.url, {"page": [login_sandbox.page_id]}, follow=True)
    assert "The list of your Facebook Pages has expired or was already used" in shown(gone)
    assert not FacebookPage.objects.exists()


def test_without_app_credentials_the_pages_screen_says_what_to_configure(staff_client, settings):
    settings.FACEBOOK_APP_ID = settings.FACEBOOK_APP_SECRET = ""

    listing = text_of(staff_client.get(reverse("pages:list")))
    pressed = staff_client.get(reverse("pages:facebook_login"), follow=True)

    assert "Connect with Facebook" not in listing
    assert "set FACEBOOK_APP_ID and FACEBOOK_APP_SECRET" in listing
    assert "Advanced: paste a Page access token" in listing
    assert "Connect with Facebook needs FACEBOOK_APP_ID and FACEBOOK_APP_SECRET" in shown(pressed)


def test_with_app_credentials_the_pages_screen_offers_it_and_folds_the_paste_form(
    staff_client, login_sandbox
):
    listing = shown(staff_client.get(reverse("pages:list")))
    connect_screen = shown(staff_client.get(reverse("pages:connect")))
    prefilled = shown(staff_client.get(reverse("pages:connect") + "?page_id=123"))

    assert reverse("pages:facebook_login") in listing
    assert "Advanced: paste a Page access token" in listing
    assert '<details class="paste-token">' in connect_screen
    assert '<details class="paste-token" open>' in prefilled


@pytest.mark.parametrize("name", ["facebook_login", "facebook_callback", "facebook_pages"])
def test_only_inbox_staff_may_use_it(client, django_user_model, name, login_sandbox):
    url = reverse(f"pages:{name}")
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("visitor", is_staff=True))
    assert client.get(url).status_code == 403
    assert client.post(url).status_code in (403, 405)


def test_the_picker_refuses_a_post_without_csrf(login_sandbox):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(create_inbox_staff())
    answer = browser.get(consent(login_sandbox, start(browser)))

    refused = browser.post(answer.url, {"page": [login_sandbox.page_id]})

    assert refused.status_code == 403
    assert not FacebookPage.objects.exists()


def test_no_code_secret_or_token_reaches_a_log_line(staff_client, login_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    back = consent(login_sandbox, start(staff_client))
    answer = staff_client.get(back)
    staff_client.post(answer.url, {"page": [login_sandbox.page_id]})

    lines = [
        RedactingFormatter("%(name)s %(message)s").format(record)
        for record in caplog.records
        if not record.name.startswith("graph_sandbox")
    ]
    assert any("/oauth/access_token?" in line for line in lines)  # urllib3 logs each URL
    secrets = [
        parse_qs(urlsplit(back).query)["code"][0],
        login_sandbox.sandbox.app_credentials()["app_secret"],
        *tokens_handed_out(login_sandbox),
    ]
    assert [line for line in lines if any(secret in line for secret in secrets)] == []


def test_login_secrets_are_redacted_from_urls_but_error_codes_are_kept():
    url = (
        "GET /v26.0/oauth/access_token?client_id=1&client_secret=s3cret&code=AQxyz"
        "&grant_type=fb_exchange_token&fb_exchange_token=EAAuser"
    )

    assert redact_secret_params(url) == (
        "GET /v26.0/oauth/access_token?client_id=1&client_secret=[redacted]&code=[redacted]"
        "&grant_type=fb_exchange_token&fb_exchange_token=[redacted]"
    )
    assert redact_secret_params("Graph error code=190 subcode=463") == (
        "Graph error code=190 subcode=463"
    )
