"""The Graph client against the sandbox over real HTTP (fake time): plain calls, errors,
transient errors and backoff, appsecret_proof, and the token's secrecy.

Throttling and usage headers are in test_client_throttling.py, batch and the calls counter in
test_client_batch.py; shared helpers in client_helpers.py, fixtures in conftest.py.
graph-api.md §2.4 (appsecret_proof), §6 (errors); design.md §5.
"""

from __future__ import annotations

import logging

import pytest

from pages.graph.client import BatchRequest, GraphClient
from pages.graph.errors import (
    GraphError,
    ObjectError,
    PolicyBlockError,
    TokenError,
    TooMuchDataError,
    TransientGraphError,
)
from pages.graph.usage import Usage
from tests.helpers import FakeTime
from tests.pages.graph.client_helpers import VERSION, api_calls, closed_port, make_client, page_of

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

TOO_MUCH_DATA = "(#1) Please reduce the amount of data you're asking for, then retry your request"
TRANSIENT_FAULTS = [
    ("transient", "(#2) Service temporarily unavailable", 500),
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


def test_too_much_data_is_not_asked_for_again_unchanged(server):
    """Asking for as much again would fail again: the caller asks for less instead
    (pages.sync.sizes), so the client raises at once."""
    fake = FakeTime()
    client = make_client(server, fake, max_attempts=3)
    server.sandbox.inject("heavy", count=None)

    with pytest.raises(TooMuchDataError) as caught:
        client.get_page(server.pages[0][0])

    assert caught.value.message == TOO_MUCH_DATA
    assert caught.value.code == 1
    assert (client.calls, api_calls(server), fake.sleeps) == (1, 1, [])


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
