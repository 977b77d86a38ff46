import json

import requests

from tests.graph_sandbox.sandbox_helpers import V, usage


def post_batch(server, items, **extra):
    data = {"access_token": server.access_token, "batch": json.dumps(items), **extra}
    return requests.post(f"{server.url}/{V}/", data=data, timeout=5)


def test_batch_answers_items_in_order(graph_sandbox):
    convs = graph_sandbox.sandbox.truth()["conversations"][:3]
    items = [
        {"method": "GET", "relative_url": f"{V}/{c['id']}/messages?limit=2&fields=id"}
        for c in convs
    ]
    items.append({"method": "GET", "relative_url": "/t_1?fields=id"})
    r = post_batch(graph_sandbox, items)
    assert r.status_code == 200
    body = r.json()
    assert [item["code"] for item in body] == [200, 200, 200, 400]
    for conv, item in zip(convs, body[:3], strict=True):
        assert isinstance(item["body"], str)
        assert [m["id"] for m in json.loads(item["body"])["data"]] == conv["message_ids"][:2]
        names = {h["name"] for h in item["headers"]}
        assert {"Content-Type", "X-Business-Use-Case-Usage", "facebook-api-version"} <= names
    assert json.loads(body[3]["body"])["error"]["code"] == 100


def test_batch_without_headers(graph_sandbox):
    r = post_batch(
        graph_sandbox, [{"method": "GET", "relative_url": "me?fields=id"}], include_headers="false"
    )
    assert r.json() == [
        {"code": 200, "body": json.dumps({"id": graph_sandbox.page_id}).replace(" ", "")}
    ]


def test_batch_over_50_is_error_100(graph_sandbox):
    items = [{"method": "GET", "relative_url": f"{V}/me"}] * 51
    r = post_batch(graph_sandbox, items)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 100
    assert graph_sandbox.page_id in usage(r)


def test_batch_items_count_for_stats_and_usage(make_graph_sandbox):
    server = make_graph_sandbox(hourly_call_budget=100)
    server.sandbox.reset_stats()
    post_batch(server, [{"method": "GET", "relative_url": f"{V}/me"}] * 5)
    stats = server.sandbox.stats()
    assert (stats["batch"], stats["batch_items"], stats["page"], stats["total"]) == (1, 5, 5, 5)
    r = requests.get(
        f"{server.url}/{V}/me", params={"access_token": server.access_token}, timeout=10
    )
    assert usage(r)[server.page_id][0]["call_count"] == 6


def test_batch_timeout_fault_gives_null_item(graph_sandbox):
    graph_sandbox.sandbox.inject("batch_timeout", after_calls=1)
    r = post_batch(graph_sandbox, [{"method": "GET", "relative_url": f"{V}/me"}] * 3)
    assert [item is None for item in r.json()] == [False, True, False]


def test_batch_item_errors_carry_envelope(graph_sandbox):
    graph_sandbox.sandbox.inject("rate_limit", code=80006, estimated_minutes=3)
    r = post_batch(graph_sandbox, [{"method": "GET", "relative_url": f"{V}/me"}])
    item = r.json()[0]
    assert item["code"] == 400
    assert json.loads(item["body"])["error"]["code"] == 80006
    header = next(h["value"] for h in item["headers"] if h["name"] == "X-Business-Use-Case-Usage")
    assert json.loads(header)[graph_sandbox.page_id][0]["estimated_time_to_regain_access"] == 3
