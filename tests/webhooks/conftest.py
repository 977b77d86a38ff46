"""Fixtures of the webhook tests. Never imported; helpers are in bodies.py and
sandbox_events.py."""

from __future__ import annotations

import pytest

from webhooks import processing


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list[tuple[int, int]]:
    """The live notices processing sends (page pk, conversation pk), in order; recorded
    instead of sent (conversations.live, tested on its own, publishes from a timer thread
    that would outlive the test's database)."""
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(
        processing, "publish_conversation_changed", lambda page, conv: sent.append((page, conv))
    )
    return sent
