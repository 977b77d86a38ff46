import http.client
import json
import time

import pytest
import requests

from tests.graph_sandbox.sandbox_helpers import LIGHT, V, get, truth_ids, usage, walk


def test_page_returns_only_requested_fields(graph_sandbox):
    r = get(graph_sandbox, graph_sandbox.page_id, fields="id,name")
    assert r.status_code == 200
    assert r.json() == {"id": graph_sandbox.page_id, "name": "Lisbon Bike Shop"}
    assert get(graph_sandbox, graph_sandbox.page_id, fields="name").json() == {
        "name": "Lisbon Bike Shop"
    }


def test_page_ids_are_json_strings_above_2_53(graph_sandbox):
    r = get(graph_sandbox, graph_sandbox.page_id)
    assert f'"id":"{graph_sandbox.page_id}"' in r.text
    assert int(graph_sandbox.page_id) > 2**53


def test_page_me_is_the_tokens_page(graph_sandbox):
    assert get(graph_sandbox, "me", fields="id").json() == {"id": graph_sandbox.page_id}


def test_response_headers_are_graph_like(graph_sandbox):
    r = get(graph_sandbox, graph_sandbox.page_id)
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert r.headers["facebook-api-version"] == V
    assert r.headers["x-fb-trace-id"]
    assert usage(r) == {
        graph_sandbox.page_id: [
            {
                "type": "messenger",
                "call_count": 0,
                "total_cputime": 0,
                "total_time": 0,
                "estimated_time_to_regain_access": 0,
            }
        ]
    }


def test_version_expired_is_served_by_oldest_and_missing_by_default(graph_sandbox):
    url = f"{graph_sandbox.url}/v20.0/{graph_sandbox.page_id}"
    r = requests.get(url, params={"access_token": graph_sandbox.access_token}, timeout=5)
    assert r.headers["facebook-api-version"] == "v21.0"
    url = f"{graph_sandbox.url}/{graph_sandbox.page_id}"
    r = requests.get(url, params={"access_token": graph_sandbox.access_token}, timeout=5)
    assert r.headers["facebook-api-version"] == "v26.0"


def test_json_is_ascii_with_escaped_slashes(make_graph_sandbox):
    server = make_graph_sandbox(conversations=200, seed=3)
    r = get(server, f"{server.page_id}/conversations", fields="id,link,participants", limit=100)
    assert r.content.isascii()
    assert "\\/" in r.text
    assert r.json()["data"][0]["link"].startswith(f"/{server.page_id}/inbox/")


def test_keep_alive_serves_many_requests_on_one_connection(graph_sandbox):
    conn = http.client.HTTPConnection(graph_sandbox.url.removeprefix("http://"), timeout=5)
    for _ in range(3):
        conn.request(
            "GET", f"/{V}/{graph_sandbox.page_id}?access_token={graph_sandbox.access_token}"
        )
        response = conn.getresponse()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(response.read())
    conn.close()


def test_conversations_default_fields_and_order(graph_sandbox):
    body = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", platform="messenger").json()
    assert all(set(c) == {"id", "updated_time"} for c in body["data"])
    assert len(body["data"]) == 25
    keys = [(c["updated_time"], c["id"]) for c in body["data"]]
    assert keys == sorted(keys, reverse=True)
    assert [c["id"] for c in body["data"]] == truth_ids(graph_sandbox, "inbox")[:25]


def test_conversations_light_fields_shapes(graph_sandbox):
    body = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", fields=LIGHT).json()
    truth = {c["id"]: c for c in graph_sandbox.sandbox.truth()["conversations"]}
    for conv in body["data"]:
        assert set(conv) == set(LIGHT.split(","))
        expected = truth[conv["id"]]
        assert conv["updated_time"] == expected["updated_time"]
        assert conv["message_count"] == expected["reported_message_count"]
        person, page = conv["participants"]["data"]
        assert person["id"] == expected["participant"]["id"]
        assert person.get("name") == expected["participant"]["name"]
        assert person["email"] == f"{person['id']}@facebook.com"
        assert page == {
            "id": graph_sandbox.page_id,
            "name": "Lisbon Bike Shop",
            "email": f"{graph_sandbox.page_id}@facebook.com",
        }
        assert len(conv["snippet"]) <= 100


def test_conversations_unknown_field_is_error_100(graph_sandbox):
    r = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", fields="id,bogus")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 100
    assert error["message"] == (
        "(#100) Tried accessing nonexisting field (bogus) on node type (UnifiedThread)"
    )


def test_conversations_bad_fields_syntax_is_error_2500(graph_sandbox):
    r = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", fields="id,messages{id")
    assert r.json()["error"]["code"] == 2500


def test_conversations_unknown_folder_is_error_100(graph_sandbox):
    r = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", folder="archive")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 100


def test_conversations_limit_is_capped_at_100_with_messages_and_505_for_light_fields(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=1300, seed=2)
    path = f"{server.page_id}/conversations"
    heavy = get(server, path, limit=1000, fields="id,messages.limit(2){id}").json()
    assert len(heavy["data"]) == 100
    assert len(get(server, path, limit=1000, fields="id,updated_time").json()["data"]) == 505
    assert len(get(server, path, limit=1000).json()["data"]) == 505  # default fields are light


def test_conversations_full_walk_sees_each_exactly_once(make_graph_sandbox):
    server = make_graph_sandbox(conversations=120, seed=4)
    for folder in ("inbox", "other", "page_done", "pending", "spam"):
        ids = [c["id"] for c in walk(server, folder=folder, limit=7)]
        assert ids == truth_ids(server, folder)
    truth = server.sandbox.truth()
    assert sum(truth["totals"].values()) == 120


def test_conversations_last_page_has_no_next_and_first_no_previous(graph_sandbox):
    path = f"{graph_sandbox.page_id}/conversations"
    total = len(truth_ids(graph_sandbox, "inbox"))
    first = get(graph_sandbox, path, limit=total - 1).json()
    assert "previous" not in first["paging"]
    assert "next" in first["paging"]
    last = requests.get(first["paging"]["next"], timeout=5).json()
    assert len(last["data"]) == 1
    assert "next" not in last["paging"]
    assert "previous" in last["paging"]
    back = requests.get(last["paging"]["previous"], timeout=5).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first["data"]]


def test_conversations_next_url_carries_token_and_after(graph_sandbox):
    body = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", limit=5).json()
    nxt = body["paging"]["next"]
    assert nxt.startswith(f"{graph_sandbox.url}/{V}/{graph_sandbox.page_id}/conversations?")
    assert f"access_token={graph_sandbox.access_token}" in nxt
    assert f"after={body['paging']['cursors']['after']}" in nxt


def test_conversations_empty_folder_has_no_paging(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=1)
    empty = [f for f, n in server.sandbox.truth()["totals"].items() if n == 0]
    body = get(server, f"{server.page_id}/conversations", folder=empty[0]).json()
    assert body == {"data": []}


def test_conversations_moved_item_is_skipped_by_open_walk(make_graph_sandbox):
    server = make_graph_sandbox(conversations=100, seed=2)
    inbox = truth_ids(server, "inbox")
    path = f"{server.page_id}/conversations"
    first = get(server, path, limit=10).json()
    seen = [c["id"] for c in first["data"]]
    moved = inbox[40]
    assert server.sandbox.add_messages(server.page_id, conversation_ids=[moved]) == [moved]
    r = requests.get(first["paging"]["next"], timeout=5)
    while True:
        body = r.json()
        seen.extend(c["id"] for c in body["data"])
        if "next" not in body.get("paging", {}):
            break
        r = requests.get(body["paging"]["next"], timeout=5)
    assert moved not in seen
    assert sorted(seen) == sorted(set(inbox) - {moved})
    assert truth_ids(server, "inbox")[0] == moved


def test_conversations_equal_updated_times_are_tie_broken_by_id(make_graph_sandbox):
    server = make_graph_sandbox(conversations=400, seed=6)
    items = walk(server, limit=3)
    pairs = [(c["updated_time"], c["id"]) for c in items]
    assert pairs == sorted(pairs, reverse=True)
    assert len({p[0] for p in pairs}) < len(pairs)  # equal timestamps do occur


def test_conversations_garbled_cursor_is_error_100(graph_sandbox):
    path = f"{graph_sandbox.page_id}/conversations"
    for cursor in ("garbage", "QVFIbm90anNvbg", "QVFI!!"):
        r = get(graph_sandbox, path, after=cursor)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == 100


def test_conversations_cursor_expires_after_ttl(make_graph_sandbox):
    server = make_graph_sandbox(cursor_ttl_seconds=0.2)
    body = get(server, f"{server.page_id}/conversations", limit=5).json()
    assert requests.get(body["paging"]["next"], timeout=5).status_code == 200
    time.sleep(0.25)
    r = requests.get(body["paging"]["next"], timeout=5)
    assert r.json()["error"]["code"] == 100
    assert "cursor" in r.json()["error"]["message"]


def test_conversations_user_id_finds_the_thread(graph_sandbox):
    conv = graph_sandbox.sandbox.truth()["conversations"][3]
    body = get(
        graph_sandbox,
        f"{graph_sandbox.page_id}/conversations",
        user_id=conv["participant"]["id"],
        fields="id",
    ).json()
    assert body == {"data": [{"id": conv["id"]}]}


def test_conversations_nested_messages_with_own_paging(graph_sandbox):
    fields = "id,messages.limit(2){id,created_time,from,message}"
    body = get(graph_sandbox, f"{graph_sandbox.page_id}/conversations", fields=fields).json()
    truth = {c["id"]: c for c in graph_sandbox.sandbox.truth()["conversations"]}
    multi = [c for c in body["data"] if truth[c["id"]]["message_count"] > 2]
    single = [c for c in body["data"] if truth[c["id"]]["message_count"] == 1]
    assert multi
    for conv in multi:
        msgs = conv["messages"]
        assert [m["id"] for m in msgs["data"]] == truth[conv["id"]]["message_ids"][:2]
        assert all(set(m) <= {"id", "created_time", "from", "message"} for m in msgs["data"])
        nxt = msgs["paging"]["next"]
        assert nxt.startswith(f"{graph_sandbox.url}/{V}/{conv['id']}/messages?")
        rest = requests.get(nxt, timeout=5).json()
        assert rest["data"][0]["id"] == truth[conv["id"]]["message_ids"][2]
    for conv in single:
        assert "next" not in conv["messages"]["paging"]


def test_conversations_nested_messages_default_limit_is_25(make_graph_sandbox):
    server = make_graph_sandbox(conversations=100, seed=1)
    long_id = max(server.sandbox.truth()["conversations"], key=lambda c: c["message_count"])["id"]
    body = get(server, long_id, fields="messages{id}").json()
    assert len(body["messages"]["data"]) == 25


def test_conversations_too_much_nested_data_is_error_1(graph_sandbox):
    path = f"{graph_sandbox.page_id}/conversations"
    ok = get(graph_sandbox, path, limit=100, fields="id,messages.limit(25){id}")
    assert ok.status_code == 200
    r = get(graph_sandbox, path, limit=100, fields="id,messages.limit(26){id}")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == 1
    assert r.json()["error"]["message"] == (
        "(#1) Please reduce the amount of data you're asking for, then retry your request"
    )


def test_conversation_node_uses_same_field_selection(graph_sandbox):
    conv = graph_sandbox.sandbox.truth()["conversations"][0]
    body = get(graph_sandbox, conv["id"], fields="id,updated_time,participants{id}").json()
    assert body == {
        "id": conv["id"],
        "updated_time": conv["updated_time"],
        "participants": {
            "data": [{"id": conv["participant"]["id"]}, {"id": graph_sandbox.page_id}]
        },
    }


def test_conversation_unknown_object_is_error_100_33(graph_sandbox):
    r = get(graph_sandbox, "t_000000000000001", fields="id")
    assert r.status_code == 400
    assert (r.json()["error"]["code"], r.json()["error"]["error_subcode"]) == (100, 33)


def test_messages_walk_newest_first_matches_truth(make_graph_sandbox):
    server = make_graph_sandbox(conversations=100, seed=1)
    conv = max(server.sandbox.truth()["conversations"], key=lambda c: c["message_count"])
    assert conv["message_count"] >= 200
    fields = "id,created_time,from,to,message,attachments,sticker,shares{link,name},tags"
    r = get(server, f"{conv['id']}/messages", fields=fields, limit=100)
    ids, stamps = [], []
    while True:
        body = r.json()
        ids.extend(m["id"] for m in body["data"])
        stamps.extend(m["created_time"] for m in body["data"])
        if "next" not in body["paging"]:
            break
        r = requests.get(body["paging"]["next"], timeout=5)
    assert ids == conv["message_ids"]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] == conv["updated_time"]


def test_messages_default_fields_and_shares_need_subfields(make_graph_sandbox):
    server = make_graph_sandbox(conversations=300, seed=1)
    sandbox = server.sandbox
    page = sandbox.dataset.pages[server.page_id]
    conv, index = next(
        (c, m.index)
        for c in page.conversations.values()
        for m in sandbox.dataset.messages_before(c, c.message_count, c.message_count)
        if m.shares
    )
    body = get(server, f"{conv.id}/messages", limit=100).json()
    assert all(set(m) == {"id", "created_time"} for m in body["data"])
    position = conv.message_count - 1 - index
    bare = get(server, f"{conv.id}/messages", fields="shares", limit=100).json()["data"][position]
    assert bare == {"shares": {"data": [{}]}}
    full = get(server, f"{conv.id}/messages", fields="shares{link}", limit=100).json()
    assert list(full["data"][position]["shares"]["data"][0]) == ["link"]


def test_messages_cursor_of_other_conversation_is_error_100(graph_sandbox):
    convs = [c for c in graph_sandbox.sandbox.truth()["conversations"] if c["message_count"] > 3]
    first = get(graph_sandbox, f"{convs[0]['id']}/messages", limit=1).json()
    after = first["paging"]["cursors"]["after"]
    r = get(graph_sandbox, f"{convs[1]['id']}/messages", limit=1, after=after)
    assert r.json()["error"]["code"] == 100


def test_messages_attachment_subselection(make_graph_sandbox):
    server = make_graph_sandbox(conversations=200, seed=2)
    fields = "attachments{id,image_data{url}}"
    found = False
    for conv in server.sandbox.truth()["conversations"][:60]:
        body = get(server, f"{conv['id']}/messages", fields=fields, limit=100).json()
        for m in body["data"]:
            for att in m.get("attachments", {}).get("data", []):
                assert set(att) <= {"id", "image_data"}
                if "image_data" in att:
                    assert list(att["image_data"]) == ["url"]
                    found = True
    assert found


@pytest.mark.parametrize("method", ["header", "form"])
def test_auth_token_in_header_or_form(graph_sandbox, method):
    url = f"{graph_sandbox.url}/{V}/{graph_sandbox.page_id}"
    if method == "header":
        r = requests.get(
            url, headers={"Authorization": f"Bearer {graph_sandbox.access_token}"}, timeout=10
        )
    else:
        r = requests.get(
            url + "?fields=id", data={"access_token": graph_sandbox.access_token}, timeout=10
        )
    assert r.status_code == 200
    assert json.loads(r.text)["id"] == graph_sandbox.page_id


def test_page_node_expands_the_conversations_edge_per_folder(graph_sandbox):
    page_id = graph_sandbox.page_id
    fields = (
        "conversations.folder(spam).limit(2).as(spam){id,updated_time},"
        "conversations.folder(inbox).limit(3).as(inbox){id}"
    )

    node = get(graph_sandbox, f"/{page_id}", fields=fields).json()
    edge = get(
        graph_sandbox, f"/{page_id}/conversations", folder="spam", limit=2, fields="id,updated_time"
    ).json()

    assert set(node) == {"spam", "inbox"}
    assert node["spam"]["data"] == edge["data"]
    assert [c["id"] for c in node["inbox"]["data"]] == truth_ids(graph_sandbox, "inbox")[:3]
    assert f"/{page_id}/conversations?" in node["inbox"]["paging"]["next"]
    assert "folder=inbox" in node["inbox"]["paging"]["next"]
    assert graph_sandbox.sandbox.stats(page_id)["page"] == 1  # one call for both folders
