"""Fixtures of the privacy tests: the app secret Meta signs with, and two Pages filled by a
real sync of the sandbox over HTTP. Never imported; helpers are in privacy_helpers.py."""

from __future__ import annotations

import pytest

from pages.models import FacebookPage
from tests.helpers import connect, point_settings_at, sync
from tests.privacy.privacy_helpers import APP_SECRET


@pytest.fixture(autouse=True)
def app_secret(settings) -> str:
    settings.FACEBOOK_APP_SECRET = APP_SECRET
    return APP_SECRET


@pytest.fixture
def inbox_server(make_graph_sandbox, settings):
    server = make_graph_sandbox(conversations=6, seed=11, pages=2)
    point_settings_at(settings, server)
    return server


@pytest.fixture
def inboxes(db, inbox_server) -> list[FacebookPage]:
    """Two synced Pages (6 conversations each), both connected by one Facebook user."""
    pages = []
    for index in range(2):
        page = connect(inbox_server, index)
        assert sync(page).status == "complete"
        page.facebook_user_id = f"90000000000000{index}"
        page.save(update_fields=["facebook_user_id"])
        pages.append(page)
    return pages
