import json
import time

import pytest
import requests

from graph_sandbox import appsecret_proof
from tests.graph_sandbox.sandbox_helpers import V, get, usage


def conversations(server, session=None, **params):
    return get(server, f"{server.page_id}/conversations", session=session, **params)


def test_auth_missing_token_is_error_104(graph_sandbox):
    r = get(graph_sandbox, graph_sandbox.page_id, access_token=None)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 104
    assert error["message"] == "(#104) An access token is required to request this resource."
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"] == r.headers["x-fb-trace-id"]
    assert graph_sandbox.page_id in usage(r)


def test_auth_unknown_token_is_190_without_subcode(graph_sandbox):
    r = get(graph_sandbox, graph_sandbox.page_id, access_token="EAABnope")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 190
    assert "error_subcode" not in r.json()["error"]


def test_auth_other_pages_token_is_error_200(make_graph_sandbox):
    server = make_graph_sandbox(pages=2)
    (page_a, _, _), (_, _, token_b) = server.pages
    r = get(server, f"{page_a}/conversations", access_token=token_b)
    assert r.json()["error"]["code"] == 200


def test_auth_expired_token_until_set_token(graph_sandbox):
    sandbox = graph_sandbox.sandbox
    sandbox.expire_token(graph_sandbox.page_id)
    r = get(graph_sandbox, graph_sandbox.page_id)
    assert (r.json()["error"]["code"], r.json()["error"]["error_subcode"]) == (190, 463)
    sandbox.set_token(graph_sandbox.page_id, "EAABfreshtoken")
    assert get(graph_sandbox, graph_sandbox.page_id, access_token="EAABfreshtoken").ok
    assert graph_sandbox.access_token == "EAABfreshtoken"


def test_auth_appsecret_proof_required_when_configured(make_graph_sandbox):
    server = make_graph_sandbox(app_secret="s3cret")
    token = server.access_token
    missing = get(server, server.page_id)
    assert missing.json()["error"]["code"] == 100
    wrong = get(server, server.page_id, appsecret_proof="00" * 32)
    assert wrong.json()["error"] == {
        "message": "(#100) Invalid appsecret_proof provided in the API argument",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": wrong.headers["x-fb-trace-id"],
    }
    proof = appsecret_proof("s3cret", token)
    ok = get(server, f"{server.page_id}/conversations", appsecret_proof=proof, limit=2)
    assert ok.status_code == 200
    nxt = ok.json()["paging"]["next"]
    assert f"appsecret_proof={proof}" in nxt
    assert requests.get(nxt, timeout=5).status_code == 200


def test_fault_transient_is_500_code_2(graph_sandbox):
    graph_sandbox.sandbox.inject("transient")
    r = conversations(graph_sandbox)
    assert r.status_code == 500
    error = r.json()["error"]
    assert (error["code"], error["is_transient"]) == (2, True)
    assert error["message"].startswith("(#2) ")
    assert conversations(graph_sandbox).status_code == 200


def test_fault_server_error_html_is_502_html(graph_sandbox):
    graph_sandbox.sandbox.inject("server_error_html")
    r = conversations(graph_sandbox)
    assert r.status_code == 502
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>")


def test_fault_invalid_json_is_200_truncated(graph_sandbox):
    graph_sandbox.sandbox.inject("invalid_json")
    r = conversations(graph_sandbox)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


def test_fault_html_200_is_html_with_status_200(graph_sandbox):
    graph_sandbox.sandbox.inject("html_200")
    r = conversations(graph_sandbox)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_fault_drop_connection_closes_socket(graph_sandbox):
    graph_sandbox.sandbox.inject("drop_connection")
    session = requests.Session()
    with pytest.raises(requests.exceptions.ConnectionError):
        conversations(graph_sandbox, session=session)
    assert conversations(graph_sandbox, session=session).status_code == 200


@pytest.mark.parametrize("code", [4, 17, 32, 341, 613, 80001, 80006])
def test_fault_rate_limit_codes_with_usage_header(graph_sandbox, code):
    graph_sandbox.sandbox.inject("rate_limit", code=code, estimated_minutes=7)
    r = conversations(graph_sandbox)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"].startswith(f"({'#'}{code}) ")
    assert usage(r)[graph_sandbox.page_id][0] == {
        "type": "messenger",
        "call_count": 100,
        "total_cputime": 100,
        "total_time": 100,
        "estimated_time_to_regain_access": 7,
    }


def test_fault_token_expired_stays_until_set_token(graph_sandbox):
    graph_sandbox.sandbox.inject("token_expired", endpoint="messages")
    assert conversations(graph_sandbox).ok
    conv_id = conversations(graph_sandbox).json()["data"][0]["id"]
    for _ in range(2):
        r = get(graph_sandbox, f"{conv_id}/messages")
        assert (r.json()["error"]["code"], r.json()["error"]["error_subcode"]) == (190, 463)
    assert conversations(graph_sandbox).json()["error"]["code"] == 190
    graph_sandbox.sandbox.set_token(graph_sandbox.page_id, "EAABnew")
    assert get(graph_sandbox, f"{conv_id}/messages", access_token="EAABnew").ok


def test_fault_policy_permission_and_heavy_codes(graph_sandbox):
    sandbox = graph_sandbox.sandbox
    sandbox.inject("policy_block")
    sandbox.inject("permission", code=200)
    sandbox.inject("permission")
    sandbox.inject("heavy")
    codes = [conversations(graph_sandbox).json()["error"]["code"] for _ in range(4)]
    assert codes == [368, 200, 10, 1]
    assert conversations(graph_sandbox).ok


def test_fault_object_error_targets_one_conversation(graph_sandbox):
    ids = [c["id"] for c in conversations(graph_sandbox, limit=3).json()["data"]]
    graph_sandbox.sandbox.inject("object_error", count=None, endpoint="messages", object_id=ids[1])
    assert get(graph_sandbox, f"{ids[0]}/messages").ok
    for _ in range(2):
        error = get(graph_sandbox, f"{ids[1]}/messages").json()["error"]
        assert (error["code"], error["error_subcode"]) == (100, 33)
    assert get(graph_sandbox, f"{ids[2]}/messages").ok
    assert len(graph_sandbox.sandbox.pending_faults()) == 1
    graph_sandbox.sandbox.clear_faults()
    assert get(graph_sandbox, f"{ids[1]}/messages").ok


def test_fault_after_calls_and_count(graph_sandbox):
    graph_sandbox.sandbox.inject("transient", count=2, after_calls=1, endpoint="page")
    statuses = [get(graph_sandbox, graph_sandbox.page_id).status_code for _ in range(4)]
    assert statuses == [200, 500, 500, 200]


def test_fault_endpoint_filter_leaves_others_alone(graph_sandbox):
    graph_sandbox.sandbox.inject("transient", endpoint="messages")
    assert get(graph_sandbox, graph_sandbox.page_id).ok
    assert conversations(graph_sandbox).ok
    conv_id = conversations(graph_sandbox).json()["data"][0]["id"]
    assert get(graph_sandbox, f"{conv_id}/messages").status_code == 500


def test_fault_empty_page_keeps_next_at_same_position(graph_sandbox):
    first = conversations(graph_sandbox, limit=5).json()
    graph_sandbox.sandbox.inject("empty_page", endpoint="conversations")
    empty = requests.get(first["paging"]["next"], timeout=5).json()
    assert empty["data"] == []
    second = requests.get(empty["paging"]["next"], timeout=5).json()
    direct = requests.get(first["paging"]["next"], timeout=5).json()
    assert second["data"] == direct["data"]
    assert len(second["data"]) == 5


def test_fault_short_page_still_has_next(graph_sandbox):
    graph_sandbox.sandbox.inject("short_page", endpoint="conversations")
    body = conversations(graph_sandbox, limit=10).json()
    assert len(body["data"]) == 5
    rest = requests.get(body["paging"]["next"], timeout=5).json()
    full = conversations(graph_sandbox, limit=10).json()
    assert rest["data"][:5] == full["data"][5:]


def test_fault_unknown_kind_is_rejected(graph_sandbox):
    with pytest.raises(ValueError, match="unknown fault kind"):
        graph_sandbox.sandbox.inject("meteor")


def test_transient_error_rate_mixes_kinds_deterministically(make_graph_sandbox):
    server = make_graph_sandbox(transient_error_rate=0.5, seed=3)
    session = requests.Session()
    outcomes = []
    for _ in range(60):
        r = get(server, server.page_id, session=session)
        if r.headers["Content-Type"].startswith("text/html"):
            outcomes.append(("html", r.status_code))
        else:
            outcomes.append((r.json().get("error", {}).get("code"), r.status_code))
    kinds = set(outcomes)
    assert {(None, 200), (2, 500), (1, 500), ("html", 503)} == kinds
    again = make_graph_sandbox(transient_error_rate=0.5, seed=3)
    statuses = [get(again, again.page_id).status_code for _ in range(60)]
    assert statuses == [s for _, s in outcomes]


def test_latency_delays_every_request(make_graph_sandbox):
    server = make_graph_sandbox(latency_ms=60)
    start = time.perf_counter()
    get(server, server.page_id)
    assert time.perf_counter() - start >= 0.06


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rate_limit_per_second_rejects_excess_calls(make_graph_sandbox):
    clock = Clock()
    server = make_graph_sandbox(rate_limit_per_second=2, clock=clock)
    assert get(server, server.page_id).ok
    clock.now += 0.1
    assert get(server, server.page_id).ok
    clock.now += 0.1
    r = get(server, server.page_id)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 613
    assert r.json()["error"]["message"] == "(#613) Calls to this api have exceeded the rate limit."
    assert usage(r)[server.page_id][0]["call_count"] == 100
    clock.now = 1001.05  # the rejected call at 1000.2 does not count
    assert get(server, server.page_id).ok


def test_rate_limit_calls_spaced_one_over_r_always_pass(make_graph_sandbox):
    clock = Clock()
    server = make_graph_sandbox(rate_limit_per_second=2, clock=clock)
    for step in range(6):
        clock.now = 1000.0 + step * 0.5
        assert get(server, server.page_id).ok


def test_rate_limit_counts_batch_items(make_graph_sandbox):
    server = make_graph_sandbox(rate_limit_per_second=2, clock=Clock())
    batch = json.dumps([{"method": "GET", "relative_url": f"{V}/{server.page_id}"}] * 3)
    r = requests.post(
        f"{server.url}/{V}/", data={"access_token": server.access_token, "batch": batch}, timeout=5
    )
    assert [item["code"] for item in r.json()] == [200, 200, 400]


def test_usage_header_grows_with_calls_and_on_errors(make_graph_sandbox):
    server = make_graph_sandbox(hourly_call_budget=10)
    for _ in range(3):
        get(server, server.page_id)
    r = get(server, "t_1")  # an error still carries the header
    assert r.status_code == 400
    assert usage(r)[server.page_id][0]["call_count"] == 40


def test_usage_hourly_budget_enforced_gives_80006(make_graph_sandbox):
    server = make_graph_sandbox(hourly_call_budget=2, enforce_hourly_budget=True, clock=Clock())
    assert get(server, server.page_id).ok
    assert get(server, server.page_id).ok
    r = get(server, server.page_id)
    assert r.json()["error"]["code"] == 80006
    assert usage(r)[server.page_id][0]["estimated_time_to_regain_access"] == 60


def test_usage_forced_by_set_usage(graph_sandbox):
    graph_sandbox.sandbox.set_usage(graph_sandbox.page_id, 91, 12, 30, 0)
    assert usage(get(graph_sandbox, graph_sandbox.page_id))[graph_sandbox.page_id][0] == {
        "type": "messenger",
        "call_count": 91,
        "total_cputime": 12,
        "total_time": 30,
        "estimated_time_to_regain_access": 0,
    }
    graph_sandbox.sandbox.set_usage(graph_sandbox.page_id)
    entry = usage(get(graph_sandbox, graph_sandbox.page_id))[graph_sandbox.page_id][0]
    assert entry["call_count"] == 0
