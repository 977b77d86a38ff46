"""The Graph client's batch requests and its calls counter, against the sandbox over real HTTP
(fake time).

graph-api.md §7 (batch); design.md §5.
"""

from __future__ import annotations

import pytest

from pages.graph.client import BatchRequest
from pages.graph.errors import ObjectError, PolicyBlockError, TransientGraphError
from tests.helpers import FakeTime
from tests.pages.graph.client_helpers import api_calls, make_client, page_of

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
