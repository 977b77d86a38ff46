"""Fixtures of the conversation screen tests (test_views*.py): a page filled by a real sync of
the 60-conversation sandbox, and a page for hand-made content. Never imported; helpers are in
view_helpers.py."""

from __future__ import annotations

import pytest

from conversations.models import Conversation
from pages.models import FacebookPage
from tests.helpers import sync


@pytest.fixture
def synced(page) -> FacebookPage:
    run = sync(page)
    assert run.status == "complete"
    assert Conversation.objects.filter(page=page).count() == 60
    return page


@pytest.fixture
def shop(db) -> FacebookPage:
    """A page with hand-made content (no sandbox)."""
    return FacebookPage.objects.create(facebook_id="10000000000000001", name="Bike Shop")
