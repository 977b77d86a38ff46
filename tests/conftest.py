"""Shared fixtures: a Graph sandbox over real HTTP, a connected page, fake time, daphne.
Helpers that tests import live in tests/helpers.py (never import this module)."""

from __future__ import annotations

import pytest

from pages.models import FacebookPage
from tests.helpers import Daphne, FakeTime, connect, create_inbox_staff, point_settings_at

pytest_plugins = ["graph_sandbox.pytest_plugin"]


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sandbox(make_graph_sandbox, settings):
    """A 60-conversation sandbox the app is pointed at, without our own call-rate spacing."""
    server = make_graph_sandbox(conversations=60, seed=7)
    point_settings_at(settings, server)
    return server


@pytest.fixture
def page(db, sandbox) -> FacebookPage:
    return connect(sandbox)


@pytest.fixture
def start_daphne():
    started: list[Daphne] = []

    def start(server, **env: str) -> Daphne:
        daphne = Daphne(server, **env)
        started.append(daphne)
        return daphne

    yield start
    for daphne in started:
        daphne.stop()


@pytest.fixture
def staff_client(client, db):
    """A test client logged in as a staff user with access to the inbox."""
    client.force_login(create_inbox_staff())
    return client
