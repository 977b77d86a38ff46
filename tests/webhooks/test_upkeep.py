"""Housekeeping keeps each connected Page subscribed: it reads the subscription back hourly and
renews it when Meta dropped it (against the sandbox's subscribed_apps over real HTTP)."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from pages.graph.subscriptions import WEBHOOK_FIELDS
from pages.models import FacebookPage
from pages.schedule import housekeeping
from webhooks.upkeep import check_subscriptions

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(settings):
    settings.FACEBOOK_APP_SECRET = "app-secret"
    settings.FACEBOOK_WEBHOOK_VERIFY_TOKEN = "verify-me"
    settings.FACEBOOK_WEBHOOK_CHECK_SECONDS = 3600


def subscribed(sandbox, page) -> list[str] | None:
    return sandbox.sandbox.subscriptions_info().get(page.facebook_id)


def test_housekeeping_subscribes_a_page_and_stores_what_graph_read_back(sandbox, page, configured):
    housekeeping()
    assert subscribed(sandbox, page) == list(WEBHOOK_FIELDS)
    page.refresh_from_db()
    assert page.webhook_fields == sorted(WEBHOOK_FIELDS)
    assert page.webhook_checked_at is not None


def test_a_page_checked_within_the_interval_is_left_alone(sandbox, page, configured):
    assert check_subscriptions() == [page]
    sandbox.sandbox.unsubscribe_app(page.facebook_id)  # Meta disabled the webhooks
    sandbox.sandbox.reset_stats()
    assert check_subscriptions() == []
    assert sandbox.sandbox.stats()["total"] == 0
    assert subscribed(sandbox, page) is None


def test_a_dropped_subscription_is_renewed_at_the_next_check(sandbox, page, configured, caplog):
    check_subscriptions()
    sandbox.sandbox.unsubscribe_app(page.facebook_id)
    FacebookPage.objects.filter(pk=page.pk).update(
        webhook_checked_at=timezone.now() - timedelta(hours=2)
    )
    with caplog.at_level(logging.WARNING, logger="webhooks.upkeep"):
        assert check_subscriptions() == [page]
    assert subscribed(sandbox, page) == list(WEBHOOK_FIELDS)
    assert "subscribing again" in caplog.text


def test_a_page_subscribed_already_is_only_read(sandbox, page, configured):
    check_subscriptions()
    FacebookPage.objects.filter(pk=page.pk).update(webhook_checked_at=None)
    sandbox.sandbox.reset_stats()
    check_subscriptions()
    assert sandbox.sandbox.stats(page.facebook_id)["total"] == 1  # one GET, no POST


def test_a_check_graph_refuses_is_logged_without_the_token(sandbox, page, configured, caplog):
    sandbox.sandbox.expire_token(page.facebook_id)
    with caplog.at_level(logging.WARNING, logger="webhooks.upkeep"):
        assert check_subscriptions() == [page]
    assert "Could not check the webhooks" in caplog.text
    assert page.access_token not in caplog.text
    page.refresh_from_db()
    assert page.webhook_fields == []


def test_pages_without_a_token_or_needing_a_reconnect_are_not_checked(sandbox, page, configured):
    FacebookPage.objects.create(facebook_id="123", name="Pasted nothing")
    page.token_status = FacebookPage.TokenStatus.NEEDS_RECONNECT
    page.save()
    assert check_subscriptions() == []


def test_without_webhooks_configured_no_page_is_checked(sandbox, page, settings):
    settings.FACEBOOK_WEBHOOK_VERIFY_TOKEN = ""
    sandbox.sandbox.reset_stats()
    housekeeping()
    assert sandbox.sandbox.stats()["total"] == 0
    page.refresh_from_db()
    assert page.webhook_checked_at is None
