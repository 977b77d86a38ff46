"""The Graph client's rate limiting against the sandbox over real HTTP (fake time): the usage
headers it parses, throttling errors, and proactive throttling (call spacing, usage delays).

graph-api.md §5 (rate limiting); design.md §5.
"""

from __future__ import annotations

import pytest

from pages.graph.client import GraphClient
from pages.graph.errors import ObjectError, RateLimitError, TokenError
from pages.graph.usage import Usage, parse_usage
from tests.helpers import FakeTime
from tests.pages.graph.client_helpers import BUC, VERSION, api_calls, make_client, page_of
from tests.pages.graph.graph_codes import THROTTLE_DEFAULTS

# -- parse_usage (graph-api.md §5.2) ----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Content-Type", "application/json"), ("x-fb-trace-id", "abc")],
        [(BUC, "{}")],
        [(BUC, "not json")],
        [(BUC, "[1, 2]")],
        [(BUC, '{"999": [{"call_count": 95}]}')],
        [(BUC, '{"111": {"call_count": 95}}')],
    ],
)
def test_parse_usage_without_usable_header_is_none(headers):
    assert parse_usage(headers, "111") is None


def test_parse_usage_reads_this_pages_buc_entries_and_takes_the_maximum():
    value = (
        '{"111": [{"type": "messenger", "call_count": 42, "total_cputime": 7, "total_time": 61,'
        ' "estimated_time_to_regain_access": 0},'
        ' {"type": "pages", "call_count": 12, "estimated_time_to_regain_access": 3}],'
        ' "999": [{"type": "messenger", "call_count": 99, "estimated_time_to_regain_access": 60}]}'
    )

    assert parse_usage([("x-business-use-case-usage", value)], "111") == Usage(61, 3)
    assert parse_usage([(BUC, value)], None) == Usage(99, 60)


def test_parse_usage_reads_app_and_page_usage_case_insensitively():
    headers = [
        ("X-APP-USAGE", '{"call_count": 28, "total_cputime": 5, "total_time": 12}'),
        ("x-page-usage", '{"call_count": 3, "total_cputime": 77, "total_time": 1}'),
    ]

    assert parse_usage(headers, "111") == Usage(77, 0)


def test_parse_usage_zero_usage_header_is_reported_as_zero():
    assert parse_usage([(BUC, '{"111": [{"call_count": 0}]}')], "111") == Usage(0, 0)


# -- GraphClient: throttling errors ------------------------------------------------------------


@pytest.mark.parametrize(("code", "default"), sorted(THROTTLE_DEFAULTS.items()))
def test_get_throttle_without_hint_pauses_documented_default_then_succeeds(server, code, default):
    fake = FakeTime()
    client = make_client(server, fake)
    server.sandbox.inject("rate_limit", code=code)

    assert client.get_page(server.pages[0][0]) == page_of(server)

    assert fake.sleeps == [default]
    assert client.calls == 2
    assert api_calls(server) == 2


@pytest.mark.parametrize("code", sorted(THROTTLE_DEFAULTS))
def test_get_throttle_pauses_estimated_time_to_regain_access(server, code):
    fake = FakeTime()
    client = make_client(server, fake)
    server.sandbox.inject("rate_limit", code=code, estimated_minutes=3)

    assert client.get_page(server.pages[0][0]) == page_of(server)

    assert fake.sleeps == [180.0]
    assert client.calls == 2


def test_get_throttle_longer_than_max_inline_pause_raises_rate_limit_error(server):
    fake = FakeTime()
    client = make_client(server, fake, max_inline_pause=600)
    server.sandbox.inject("rate_limit", code=80006, estimated_minutes=30)

    with pytest.raises(RateLimitError) as caught:
        client.get_page(server.pages[0][0])

    assert (caught.value.code, caught.value.subcode) == (80006, 2446079)
    assert caught.value.wait_seconds == 1800.0
    assert fake.sleeps == []
    assert api_calls(server) == 1


def test_get_throttle_default_longer_than_max_inline_pause_raises(server):
    fake = FakeTime()
    client = make_client(server, fake, max_inline_pause=600)
    server.sandbox.inject("rate_limit", code=32)

    with pytest.raises(RateLimitError) as caught:
        client.get_page(server.pages[0][0])

    assert caught.value.wait_seconds == 900.0
    assert fake.sleeps == []


def test_get_throttle_within_max_inline_pause_sleeps(server):
    fake = FakeTime()
    client = make_client(server, fake, max_inline_pause=60)
    server.sandbox.inject("rate_limit", code=613)

    assert client.get_page(server.pages[0][0]) == page_of(server)
    assert fake.sleeps == [60.0]


def test_get_throttle_gives_up_after_max_pauses(server):
    fake = FakeTime()
    client = make_client(server, fake, max_pauses=2)
    server.sandbox.inject("rate_limit", count=None, code=613)

    with pytest.raises(RateLimitError) as caught:
        client.get_page(server.pages[0][0])

    assert caught.value.code == 613
    # graph-api.md §5.3, 613: "Back off 60 s+, exponential"
    assert fake.sleeps == [60.0, 120.0]
    assert client.calls == 3


def test_get_throttle_fallback_pause_doubles_up_to_an_hour(server):
    # graph-api.md §5.3, 80006/80001/32: "fallback: 15 min, doubling up to 60"
    fake = FakeTime()
    client = make_client(server, fake)
    server.sandbox.inject("rate_limit", count=4, code=80006)

    assert client.get_page(server.pages[0][0]) == page_of(server)
    assert fake.sleeps == [900.0, 1800.0, 3600.0, 3600.0]


def test_get_sandbox_per_second_limit_without_spacing_pauses_on_613(make_graph_sandbox):
    fake = FakeTime()
    server = make_graph_sandbox(conversations=3, rate_limit_per_second=2, clock=fake.clock)
    client = make_client(server, fake, calls_per_second=0)
    page_id = server.pages[0][0]

    for _ in range(3):
        client.get_page(page_id)

    assert fake.sleeps == [60.0]
    assert client.calls == 4


# -- GraphClient: proactive throttling ---------------------------------------------------------


def test_get_calls_are_spaced_at_calls_per_second(make_graph_sandbox):
    fake = FakeTime()
    server = make_graph_sandbox(conversations=3, rate_limit_per_second=2, clock=fake.clock)
    client = make_client(server, fake, calls_per_second=2)
    page_id = server.pages[0][0]

    for _ in range(5):
        client.get_page(page_id)

    assert fake.sleeps == [0.5, 0.5, 0.5, 0.5]
    assert server.sandbox.stats()["errors"] == 0
    assert client.calls == 5


def test_get_spacing_counts_elapsed_time(server):
    fake = FakeTime()
    client = make_client(server, fake, calls_per_second=2)
    page_id = server.pages[0][0]

    client.get_page(page_id)
    fake.now += 0.3
    client.get_page(page_id)
    fake.now += 5
    client.get_page(page_id)

    assert fake.sleeps == [pytest.approx(0.2)]


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"call_count": 49}, []),
        ({"call_count": 50}, [1.0]),
        ({"call_count": 74}, [1.0]),
        ({"call_count": 75}, [5.0]),
        ({"total_cputime": 80}, [5.0]),
        ({"call_count": 89}, [5.0]),
        ({"call_count": 90}, [300.0]),
        ({"total_time": 95}, [300.0]),
        ({"call_count": 100}, [300.0]),
        ({"call_count": 20, "estimated_minutes": 2}, [120.0]),
    ],
)
def test_get_usage_header_adds_policy_delay(server, usage, expected):
    fake = FakeTime()
    client = make_client(server, fake)
    page_id = server.pages[0][0]
    server.sandbox.set_usage(page_id, **usage)

    client.get_page(page_id)
    assert fake.sleeps == []
    client.get_page(page_id)

    assert fake.sleeps == expected


def test_get_usage_delay_read_from_error_responses(server):
    fake = FakeTime()
    client = make_client(server, fake)
    page_id = server.pages[0][0]
    server.sandbox.set_usage(page_id, call_count=75)
    server.sandbox.inject("object_error")

    with pytest.raises(ObjectError):
        client.get_page(page_id)
    client.get_page(page_id)

    assert fake.sleeps == [5.0]


def test_get_usage_delay_replaces_shorter_spacing(server):
    fake = FakeTime()
    client = make_client(server, fake, calls_per_second=2)
    page_id = server.pages[0][0]
    server.sandbox.set_usage(page_id, call_count=60)

    for _ in range(3):
        client.get_page(page_id)

    assert fake.sleeps == [1.0, 1.0]


def test_get_usage_delay_longer_than_max_inline_pause_raises_without_request(server):
    fake = FakeTime()
    client = make_client(server, fake, max_inline_pause=60)
    page_id = server.pages[0][0]
    server.sandbox.set_usage(page_id, call_count=92)
    client.get_page(page_id)

    with pytest.raises(RateLimitError) as caught:
        client.get_page(page_id)

    assert caught.value.wait_seconds == 300.0
    assert caught.value.code is None
    assert fake.sleeps == []
    assert client.calls == 1
    assert api_calls(server) == 1


def test_get_missing_usage_header_is_not_zero_usage(server):
    fake = FakeTime()
    client = GraphClient(
        "EAABnotarealtoken",
        base_url=server.url,
        version=VERSION,
        page_id=server.pages[0][0],
        calls_per_second=0,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    with pytest.raises(TokenError):
        client.get("me")

    # the sandbox answered with an empty X-Business-Use-Case-Usage ({}): nothing was reported
    assert client.last_usage is None


def test_get_usage_for_another_page_is_ignored(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, pages=2)
    (first, _, token), (second, _, _) = server.pages
    server.sandbox.set_usage(second, call_count=95)
    fake = FakeTime()
    client = GraphClient(
        token,
        base_url=server.url,
        version=VERSION,
        page_id=first,
        calls_per_second=0,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    client.get_page(first)
    client.get_page(first)

    assert client.last_usage == Usage(0, 0)
    assert fake.sleeps == []
