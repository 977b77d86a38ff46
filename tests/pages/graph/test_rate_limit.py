"""Call spacing shared by every process: during a Redis outage it falls back to the database
without paying for Redis on every call."""

import logging

import pytest
import redis

from pages.graph import rate_limit
from pages.graph.rate_limit import RedisCallSpacing
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


def test_a_redis_outage_costs_one_attempt_and_one_log_line_per_retry_window(
    page, caplog, monkeypatch
):
    unreachable = redis.Redis(port=free_port(), socket_timeout=0.5, socket_connect_timeout=0.5)
    spacing = RedisCallSpacing(page.pk, 1000, unreachable)
    attempts = []
    real_script = spacing.script

    def counted_script(**kwargs):
        attempts.append(kwargs)
        return real_script(**kwargs)

    spacing.script = counted_script

    with caplog.at_level(logging.WARNING, logger="pages.graph.rate_limit"):
        waits = [spacing.reserve() for _ in range(20)]

    assert len(attempts) == 1  # Redis is left alone for REDIS_RETRY_SECONDS
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None  # one line, no traceback
    assert all(wait >= 0 for wait in waits)  # the database spaced the calls meanwhile

    monkeypatch.setattr(rate_limit.time, "monotonic", lambda: 10**9)  # the window has passed
    spacing.reserve()
    assert len(attempts) == 2  # and Redis is tried again
