"""Connecting a Page never lets the pasted token out: not in an error message, not in a
request header, not in an error report."""

import pytest
from django.core.signals import got_request_exception
from django.urls import reverse
from django.views.debug import ExceptionReporter

from pages import views
from pages.connect import ConnectError, connect_page
from pages.models import FacebookPage
from tests.helpers import manage

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
