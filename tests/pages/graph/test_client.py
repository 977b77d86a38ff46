"""The Graph client against the sandbox over real HTTP (fake time), and its pure helpers.

graph-api.md §2.4 (appsecret_proof), §5 (rate limiting), §6 (errors), §7 (batch); design.md §5.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from pages.graph.client import BatchRequest, GraphClient, Usage, parse_usage
from pages.graph.errors import (
    DEFAULT_PAUSE_SECONDS,
    GraphConfigurationError,
    GraphError,
    ObjectError,
    PolicyBlockError,
    RateLimitError,
    TokenError,
    TransientGraphError,
    error_from_payload,
    scrub,
)
from tests.conftest import FakeTime

VERSION = "v26.0"
THROTTLE_DEFAULTS = {
    4: 300.0,
    17: 300.0,
    32: 900.0,
    341: 300.0,
    613: 60.0,
    80001: 900.0,
    80006: 900.0,
}
BUC = "X-Business-Use-Case-Usage"


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def server(make_graph_sandbox):
    return make_graph_sandbox(conversations=3, seed=1)


def make_client(server, fake: FakeTime, **options) -> GraphClient:
    page_id, _, token = server.pages[0]
    options.setdefault("calls_per_second", 0)
    return GraphClient(
        token,
        base_url=server.url,
        version=VERSION,
        page_id=page_id,
        sleep=fake.sleep,
        clock=fake.clock,
        **options,
    )


def payload(code, subcode=None, message="(#0) Something", **extra) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Ab12"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def page_of(server) -> dict:
    page_id, name, _ = server.pages[0]
    return {"id": page_id, "name": name}


def api_calls(server) -> int:
    return server.sandbox.stats()["total"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- error_from_payload: classification (graph-api.md §5.3, §6.2) ------------------------------

STATUSES = [None, 200, 400, 403, 429, 500, 503]
MESSAGES = [
    "(#2) Service temporarily unavailable",
    "Error validating access token",
    "Calls to this api have exceeded the rate limit.",
]

CLASSIFICATION = [
    (190, None, TokenError),
    (190, 458, TokenError),
    (190, 459, TokenError),
    (190, 460, TokenError),
    (190, 463, TokenError),
    (190, 464, TokenError),
    (190, 467, TokenError),
    (190, 492, TokenError),
    (102, None, TokenError),
    (10, None, TokenError),
    (200, None, TokenError),
    (230, None, TokenError),
    (299, None, TokenError),
    (3, None, GraphConfigurationError),
    (100, None, ObjectError),
    (100, 33, ObjectError),
    (1, None, TransientGraphError),
    (2, None, TransientGraphError),
    (368, 1390008, PolicyBlockError),
    (104, None, GraphConfigurationError),
    (2500, None, GraphConfigurationError),
]


@pytest.mark.parametrize(("code", "subcode", "expected"), CLASSIFICATION)
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("message", MESSAGES)
def test_error_from_payload_classifies_by_code_not_status_or_text(
    code, subcode, expected, status, message
):
    error = error_from_payload(payload(code, subcode, message), status)

    assert type(error) is expected
    assert (error.code, error.subcode, error.http_status) == (code, subcode, status)
    assert error.message == message
    assert error.fbtrace_id == "Ab12"


@pytest.mark.parametrize(("code", "default"), sorted(THROTTLE_DEFAULTS.items()))
@pytest.mark.parametrize("status", STATUSES)
def test_error_from_payload_throttle_codes_use_documented_default_pause(code, default, status):
    error = error_from_payload(payload(code, message="(#4) Application request limit"), status)

    assert type(error) is RateLimitError
    assert error.code == code
    assert error.wait_seconds == default


def test_error_from_payload_throttle_defaults_cover_every_throttle_code():
    assert {code: int(s) for code, s in THROTTLE_DEFAULTS.items()} == DEFAULT_PAUSE_SECONDS


@pytest.mark.parametrize("code", sorted(THROTTLE_DEFAULTS))
def test_error_from_payload_throttle_uses_regain_minutes_hint(code):
    error = error_from_payload(payload(code), 400, wait_hint_minutes=7)

    assert type(error) is RateLimitError
    assert error.wait_seconds == 420.0


def test_error_from_payload_throttle_wins_over_is_transient():
    # the sandbox (like Graph) marks throttling errors is_transient: they must pause, not retry
    error = error_from_payload(payload(80006, 2446079, is_transient=True), 400)

    assert type(error) is RateLimitError
    assert (error.code, error.subcode, error.wait_seconds) == (80006, 2446079, 900.0)


@pytest.mark.parametrize("status", STATUSES)
def test_error_from_payload_is_transient_true_is_retryable(status):
    error = error_from_payload(payload(9999, is_transient=True), status)

    assert type(error) is TransientGraphError
    assert error.code == 9999


def test_error_from_payload_is_transient_false_does_not_override_code():
    assert type(error_from_payload(payload(2, is_transient=False), 500)) is TransientGraphError
    assert type(error_from_payload(payload(190, is_transient=False), 400)) is TokenError


@pytest.mark.parametrize("code", [199, 300])
def test_error_from_payload_permission_range_is_200_to_299(code):
    assert type(error_from_payload(payload(code), 400)) is GraphError


def test_error_from_payload_unknown_code_is_transient_only_on_5xx():
    assert type(error_from_payload(payload(9999), 400)) is GraphError
    assert type(error_from_payload(payload(9999), 502)) is TransientGraphError


def test_error_from_payload_code_as_string_is_read():
    error = error_from_payload(payload("190", "463"), 400)

    assert type(error) is TokenError
    assert (error.code, error.subcode) == (190, 463)


def test_error_from_payload_keeps_envelope_fields():
    error = error_from_payload(
        payload(368, 1390008, "(#368) Deemed abusive", error_user_msg="You are blocked"), 403
    )

    assert error.user_message == "You are blocked"
    assert str(error) == "(#368) Deemed abusive (fbtrace_id Ab12)"


def test_error_from_payload_without_message_names_the_code():
    error = error_from_payload({"error": {"code": 190}}, 400)

    assert str(error) == "Graph error 190"
    assert error.fbtrace_id == ""


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


# -- scrub -------------------------------------------------------------------------------------


def test_scrub_removes_token_and_proof_parameters():
    text = (
        "GET https://graph.facebook.com/v26.0/me?fields=id&access_token=EAAB1x-_.%2F"
        "&appsecret_proof=9f86d081884c7d65 and input_token=EAAC99 'access_token=EAAD7'"
    )

    assert scrub(text) == (
        "GET https://graph.facebook.com/v26.0/me?fields=id&access_token=[redacted]"
        "&appsecret_proof=[redacted] and input_token=[redacted] 'access_token=[redacted]'"
    )


def test_scrub_removes_given_secrets_anywhere_and_ignores_empty_ones():
    assert scrub("Malformed access token EAABsecret!", "EAABsecret", "") == (
        "Malformed access token [redacted]!"
    )
    assert scrub("nothing to hide", "") == "nothing to hide"


# -- GraphClient: plain calls ------------------------------------------------------------------


def test_get_returns_parsed_object_over_http(server):
    fake = FakeTime()
    client = make_client(server, fake)
    page_id = server.pages[0][0]

    assert client.get(page_id, {"fields": "id,name"}) == page_of(server)
    assert client.get_page(page_id) == page_of(server)
    assert client.api_version_served == VERSION
    assert client.last_usage == Usage(0, 0)
    assert client.calls == 2
    assert fake.sleeps == []


def test_get_sends_the_requested_version(server):
    client = make_client(server, FakeTime())

    client.get(f"/{server.pages[0][0]}/conversations", {"limit": 1})

    [request] = server.sandbox.stats()["requests"]
    assert (request["kind"], request["version"], request["params"]) == (
        "conversations",
        VERSION,
        {"limit": "1"},
    )


# -- GraphClient: errors over HTTP -------------------------------------------------------------


def test_get_expired_token_raises_token_error_without_retry(server):
    fake = FakeTime()
    client = make_client(server, fake)
    server.sandbox.expire_token()

    with pytest.raises(TokenError) as caught:
        client.get_page(server.pages[0][0])

    assert (caught.value.code, caught.value.subcode, caught.value.http_status) == (190, 463, 400)
    assert api_calls(server) == 1
    assert fake.sleeps == []


@pytest.mark.parametrize(
    ("kind", "params", "expected", "code"),
    [
        ("policy_block", {}, PolicyBlockError, 368),
        ("permission", {"code": 10}, TokenError, 10),
        ("permission", {"code": 200}, TokenError, 200),
        ("object_error", {}, ObjectError, 100),
    ],
)
def test_get_non_retryable_errors_raise_after_one_request(server, kind, params, expected, code):
    fake = FakeTime()
    client = make_client(server, fake)
    server.sandbox.inject(kind, **params)

    with pytest.raises(expected) as caught:
        client.get_page(server.pages[0][0])

    assert type(caught.value) is expected
    assert caught.value.code == code
    assert api_calls(server) == 1
    assert client.calls == 1
    assert fake.sleeps == []


# -- GraphClient: transient errors and backoff -------------------------------------------------

TRANSIENT_FAULTS = [
    ("transient", "(#2) Service temporarily unavailable", 500),
    (
        "heavy",
        "(#1) Please reduce the amount of data you're asking for, then retry your request",
        500,
    ),
    ("server_error_html", "Graph answered HTTP 502 with an HTML page.", 502),
    ("invalid_json", "Graph answered HTTP 200 with a body that is not JSON.", 200),
    ("html_200", "Graph answered HTTP 200 with an HTML page.", 200),
    ("drop_connection", "Could not reach Graph: ConnectionError", None),
]


@pytest.mark.parametrize(("kind", "message", "status"), TRANSIENT_FAULTS)
def test_get_transient_fault_is_retried_then_succeeds(server, caplog, kind, message, status):
    caplog.set_level(logging.INFO, logger="pages.graph.client")
    fake = FakeTime()
    client = make_client(server, fake)
    server.sandbox.inject(kind, count=2)

    assert client.get_page(server.pages[0][0]) == page_of(server)

    assert client.calls == 3
    assert api_calls(server) == 3
    assert len(fake.sleeps) == 2
    assert 0 <= fake.sleeps[0] <= 1
    assert 0 <= fake.sleeps[1] <= 2
    retries = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(retries) == 2
    assert all(r.startswith(f"Retrying Graph call after: {message}") for r in retries)


@pytest.mark.parametrize(("kind", "message", "status"), TRANSIENT_FAULTS)
def test_get_transient_fault_gives_up_after_max_attempts(server, kind, message, status):
    fake = FakeTime()
    client = make_client(server, fake, max_attempts=3)
    server.sandbox.inject(kind, count=None)

    with pytest.raises(TransientGraphError) as caught:
        client.get_page(server.pages[0][0])

    error = caught.value
    assert error.message == message
    assert str(error).startswith(message)
    assert error.http_status == status
    assert client.calls == 3
    assert api_calls(server) == 3
    assert len(fake.sleeps) == 2


def test_get_backoff_is_jittered_exponential_through_injected_sleep(server):
    fake = FakeTime()
    client = make_client(server, fake, max_attempts=6)
    server.sandbox.inject("transient", count=None)

    with pytest.raises(TransientGraphError):
        client.get_page(server.pages[0][0])

    assert len(fake.sleeps) == 5
    for attempt, seconds in enumerate(fake.sleeps):
        assert 0 <= seconds <= 2**attempt
    # jitter: not the bare exponential sequence
    assert fake.sleeps != [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(set(fake.sleeps)) == 5


def test_get_timeout_is_transient_and_retried(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, latency_ms=300)
    fake = FakeTime()
    client = make_client(server, fake, timeout=0.05, max_attempts=2)

    with pytest.raises(TransientGraphError) as caught:
        client.get_page(server.pages[0][0])

    assert str(caught.value) == "Could not reach Graph: ReadTimeout"
    assert client.calls == 2
    assert len(fake.sleeps) == 1


def test_get_connection_refused_is_transient_and_retried():
    fake = FakeTime()
    client = GraphClient(
        "EAABrefusedtoken123",
        base_url=f"http://127.0.0.1:{closed_port()}",
        version=VERSION,
        calls_per_second=0,
        max_attempts=2,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    with pytest.raises(TransientGraphError) as caught:
        client.get("me")

    assert str(caught.value) == "Could not reach Graph: ConnectionError"
    assert client.calls == 2
    assert len(fake.sleeps) == 1


@pytest.fixture
def truncating_server():
    """A real HTTP peer that promises 100 bytes of JSON, sends 7 and closes the connection
    (a connection reset mid-body; the sandbox has no fault for it)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.02)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                conn.recv(65536)
                hits.append(1)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100\r\n\r\n{"id": '
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", hits
    stop.set()
    thread.join(timeout=2)
    listener.close()


def test_get_connection_broken_mid_body_is_transient_and_retried(truncating_server):
    url, hits = truncating_server
    fake = FakeTime()
    client = GraphClient(
        "EAABtruncatedtoken123",
        base_url=url,
        version=VERSION,
        calls_per_second=0,
        max_attempts=3,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    with pytest.raises(GraphError) as caught:
        client.get("me")

    assert type(caught.value) is TransientGraphError
    assert len(hits) == 3
    assert len(fake.sleeps) == 2


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


# -- GraphClient: appsecret_proof (graph-api.md §2.4) ------------------------------------------


def test_get_sends_appsecret_proof_accepted_by_sandbox(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, app_secret="s3cret")
    client = make_client(server, FakeTime(), app_secret="s3cret")

    assert client.get_page(server.pages[0][0]) == page_of(server)
    assert server.sandbox.stats()["errors"] == 0


def test_batch_sends_appsecret_proof_accepted_by_sandbox(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, app_secret="s3cret")
    client = make_client(server, FakeTime(), app_secret="s3cret")
    page_id = server.pages[0][0]

    assert client.batch([BatchRequest(page_id, {"fields": "id,name"})]) == [page_of(server)]


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("wrong", "(#100) Invalid appsecret_proof provided in the API argument"),
        ("", "(#100) API calls from the server require an appsecret_proof argument"),
    ],
)
def test_get_wrong_or_missing_appsecret_proof_is_refused(make_graph_sandbox, secret, message):
    server = make_graph_sandbox(conversations=3, app_secret="s3cret")
    fake = FakeTime()
    client = make_client(server, fake, app_secret=secret)

    with pytest.raises(GraphError) as caught:
        client.get_page(server.pages[0][0])

    assert not isinstance(caught.value, TransientGraphError)
    assert caught.value.code == 100
    assert caught.value.message == message
    assert api_calls(server) == 1
    assert fake.sleeps == []


def test_batch_wrong_appsecret_proof_is_refused(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, app_secret="s3cret")
    client = make_client(server, FakeTime(), app_secret="wrong")

    with pytest.raises(GraphError) as caught:
        client.batch([BatchRequest(server.pages[0][0])])

    assert caught.value.code == 100
    assert caught.value.message == "(#100) Invalid appsecret_proof provided in the API argument"


# -- GraphClient: the token stays secret -------------------------------------------------------


def leaked(token: str, records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if token in r.getMessage() or token in str(r.args)]


def test_token_absent_from_logs_and_errors_across_outcomes(make_graph_sandbox, caplog):
    server = make_graph_sandbox(conversations=3, app_secret="s3cret")
    page_id, _, token = server.pages[0]
    caplog.set_level(logging.DEBUG, logger="pages.graph.client")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    fake = FakeTime()
    client = make_client(server, fake, app_secret="s3cret", max_attempts=2)
    errors: list[GraphError] = []

    client.get_page(page_id)
    server.sandbox.inject("transient")
    client.get_page(page_id)
    server.sandbox.inject("drop_connection")
    client.get_page(page_id)
    client.batch([BatchRequest(page_id), BatchRequest("nope")])
    for kind in ("drop_connection", "html_200", "rate_limit"):
        server.sandbox.inject(kind, count=None)
        with pytest.raises(GraphError) as caught:
            make_client(server, fake, app_secret="s3cret", max_attempts=2, max_pauses=0).get(
                page_id
            )
        errors.append(caught.value)
        server.sandbox.clear_faults()
    server.sandbox.expire_token()
    with pytest.raises(TokenError) as caught:
        client.get_page(page_id)
    errors.append(caught.value)

    assert len(caplog.records) > 10
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert leaked(token, caplog.records) == []
    for error in errors:
        assert token not in str(error)
        assert token not in repr(error)
        assert token not in error.message


def test_token_absent_from_connection_error_and_logs(caplog):
    token = "EAABsupersecrettoken42"
    caplog.set_level(logging.DEBUG, logger="pages.graph.client")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    fake = FakeTime()
    client = GraphClient(
        token,
        base_url=f"http://127.0.0.1:{closed_port()}",
        version=VERSION,
        app_secret="s3cret",
        calls_per_second=0,
        max_attempts=2,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    with pytest.raises(TransientGraphError) as caught:
        client.get("me", {"fields": "id"})

    error = caught.value
    assert token not in str(error)
    assert token not in repr(error)
    assert error.__cause__ is None
    assert error.__suppress_context__ is True
    assert leaked(token, caplog.records) == []
    assert [r.getMessage() for r in caplog.records if r.name == "pages.graph.client"] == [
        "Retrying Graph call after: Could not reach Graph: ConnectionError"
    ]


def test_token_echoed_by_graph_is_scrubbed_from_error(server):
    # Graph echoes what it could not resolve (e.g. "Malformed access token EAAB…"); here the
    # sandbox echoes an unknown object id, which we make the token.
    token = server.pages[0][2]
    client = make_client(server, FakeTime())

    with pytest.raises(ObjectError) as caught:
        client.get(token)

    error = caught.value
    assert "Object with ID '[redacted]' does not exist" in str(error)
    assert token not in str(error)
    assert token not in error.message
    assert token not in repr(error)
    assert all(token not in str(arg) for arg in error.args)


# -- GraphClient: batch (graph-api.md §7) ------------------------------------------------------


def test_batch_returns_parsed_items_in_order_with_errors_as_instances(server):
    fake = FakeTime()
    client = make_client(server, fake)
    page_id = server.pages[0][0]
    conversations = [c["id"] for c in server.sandbox.truth()["conversations"]]

    results = client.batch(
        [
            BatchRequest(page_id, {"fields": "id,name"}),
            BatchRequest(conversations[1], {"fields": "id"}),
            BatchRequest("404404404"),
            BatchRequest(conversations[0], {"fields": "id"}),
        ]
    )

    assert results[0] == page_of(server)
    assert results[1] == {"id": conversations[1]}
    assert type(results[2]) is ObjectError
    assert (results[2].code, results[2].subcode, results[2].http_status) == (100, 33, 400)
    assert results[3] == {"id": conversations[0]}
    assert len(results) == 4
    stats = server.sandbox.stats()
    assert (stats["batch"], stats["batch_items"]) == (1, 4)


def test_batch_item_fault_comes_back_as_error_instance(server):
    client = make_client(server, FakeTime())
    page_id = server.pages[0][0]
    server.sandbox.inject("policy_block", after_calls=1)

    results = client.batch([BatchRequest(page_id), BatchRequest(page_id), BatchRequest(page_id)])

    assert results[0] == page_of(server)
    assert type(results[1]) is PolicyBlockError
    assert results[1].code == 368
    assert results[2] == page_of(server)


def test_batch_timed_out_item_is_transient_error(server):
    client = make_client(server, FakeTime())
    page_id = server.pages[0][0]
    server.sandbox.inject("batch_timeout", after_calls=1)

    results = client.batch([BatchRequest(page_id), BatchRequest(page_id)])

    assert results[0] == page_of(server)
    assert type(results[1]) is TransientGraphError
    assert str(results[1]) == "A batched request did not finish in time."


def test_batch_of_fifty_is_one_http_request(server):
    client = make_client(server, FakeTime())
    page_id = server.pages[0][0]

    results = client.batch([BatchRequest(page_id, {"fields": "id"})] * 50)

    assert results == [{"id": page_id}] * 50
    assert client.calls == 50
    assert server.sandbox.stats()["batch"] == 1


@pytest.mark.parametrize("size", [0, 51])
def test_batch_outside_1_to_50_raises_value_error_without_request(server, size):
    client = make_client(server, FakeTime())

    with pytest.raises(ValueError, match="A batch holds 1 to 50 requests."):
        client.batch([BatchRequest(server.pages[0][0])] * size)

    assert client.calls == 0
    assert api_calls(server) == 0


def test_batch_timeout_is_retried_then_gives_up(make_graph_sandbox):
    # the sandbox's transport faults never hit the batch envelope; a slow server does
    server = make_graph_sandbox(conversations=3, latency_ms=300)
    fake = FakeTime()
    client = make_client(server, fake, timeout=0.05, max_attempts=2)

    with pytest.raises(TransientGraphError) as caught:
        client.batch([BatchRequest(server.pages[0][0])] * 2)

    assert str(caught.value) == "Could not reach Graph: ReadTimeout"
    assert client.calls == 4
    assert len(fake.sleeps) == 1


# -- GraphClient: calls counter ----------------------------------------------------------------


def test_calls_counts_http_requests_and_batch_items(server):
    fake = FakeTime()
    client = make_client(server, fake)
    page_id = server.pages[0][0]

    client.get_page(page_id)
    assert client.calls == 1
    client.batch([BatchRequest(page_id)] * 3)
    assert client.calls == 4
    server.sandbox.inject("transient")
    client.get_page(page_id)
    assert client.calls == 6
    # the sandbox counts the batch items, not the envelope, as API calls
    assert api_calls(server) == 6
    assert server.sandbox.stats()["batch"] == 1


def test_calls_batch_units_are_spaced_like_single_calls(server):
    fake = FakeTime()
    client = make_client(server, fake, calls_per_second=2)
    page_id = server.pages[0][0]

    client.batch([BatchRequest(page_id)] * 3)
    client.get_page(page_id)

    assert fake.sleeps == [1.5]
    assert client.calls == 4
