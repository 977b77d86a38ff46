"""The real Graph's behaviours as sandbox switches (issue 8), over real HTTP: omitted empty
edges, refused and ignored folders, cursor-less paging. Each switch is set through the command
line flag, configure() and the control API; off, the responses are the ones of before."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.graph_sandbox.real_graph_helpers import (
    WAYS,
    error_of,
    follow,
    link_params,
    page_ids,
    post_batch,
    start,
    truth_of,
)
from tests.graph_sandbox.sandbox_helpers import get

FOLDERS = ("inbox", "other", "page_done", "pending", "spam")


def tops(folders, limit=3, fields="id"):
    return ",".join(
        f"conversations.platform(messenger).folder({f}).limit({limit}).as({f}){{{fields}}}"
        for f in folders
    )


def ids_of(truth, folder):
    return [c["id"] for c in truth["conversations"] if c["folder"] == folder]


def empty_spam(server):
    """Move every spam conversation to the inbox: the spam folder is empty."""
    for cid in ids_of(truth_of(server), "spam"):
        server.sandbox.move_folder(server.page_id, cid, "inbox")


# -- omitted empty edges ---------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_omit_empty_edges_leaves_out_an_empty_folder_alias(make_graph_sandbox, way):
    server = start(make_graph_sandbox, way, {"omit_empty_edges": True}, ["--omit-empty-edges"])
    empty_spam(server)
    body = get(server, server.page_id, fields=tops(["inbox", "spam"])).json()
    assert set(body) == {"inbox"}
    assert [c["id"] for c in body["inbox"]["data"]] == ids_of(truth_of(server), "inbox")[:3]


def test_empty_edges_are_data_lists_when_the_switch_is_off(graph_sandbox):
    empty_spam(graph_sandbox)
    body = get(graph_sandbox, graph_sandbox.page_id, fields=tops(["inbox", "spam"])).json()
    assert body["spam"] == {"data": []}


@pytest.mark.parametrize("way", WAYS)
def test_omit_empty_edges_leaves_out_the_messages_of_a_thread_without_any(make_graph_sandbox, way):
    server = start(make_graph_sandbox, way, {"omit_empty_edges": True}, ["--omit-empty-edges"])
    (empty,) = server.sandbox.add_conversations(server.page_id, 1, messages=0)
    fields = "id,message_count,messages.limit(5){id}"
    listed = get(server, f"{server.page_id}/conversations", fields=fields, limit=2).json()
    first, second = listed["data"]
    assert first == {"id": empty, "message_count": 0}
    assert len(second["messages"]["data"]) > 0
    assert get(server, empty, fields=fields).json() == {"id": empty, "message_count": 0}
    # the edge read by itself is a list, empty or not
    assert get(server, f"{empty}/messages").json() == {"data": []}
    server.sandbox.clear_faults()
    assert get(server, empty, fields=fields).json()["messages"] == {"data": []}


# -- refused folders -------------------------------------------------------------------------

REFUSED = "(#100) Param folder must be one of {inbox, other, page_done, pending}"


@pytest.mark.parametrize("way", WAYS)
def test_a_refused_folder_answers_100_plain_expanded_and_in_a_batch(make_graph_sandbox, way):
    server = start(
        make_graph_sandbox, way, {"refused_folders": ["spam"]}, ["--refused-folders", "spam"]
    )
    plain = get(server, f"{server.page_id}/conversations", folder="spam", platform="messenger")
    assert plain.status_code == 400
    assert error_of(plain) == {"message": REFUSED, "type": "OAuthException", "code": 100}
    expanded = get(server, server.page_id, fields=tops(FOLDERS))
    assert (expanded.status_code, error_of(expanded)["code"]) == (400, 100)
    assert get(server, server.page_id, fields=tops(FOLDERS[:4])).ok
    items = post_batch(
        server, [f"{server.page_id}/conversations?folder={f}&limit=2" for f in FOLDERS]
    )
    assert [item["code"] for item in items] == [200, 200, 200, 200, 400]
    assert items[4]["body"]["error"]["message"] == REFUSED


def test_a_refused_folder_is_hidden_from_the_truth(make_graph_sandbox):
    server = make_graph_sandbox(refused_folders="spam,pending")
    full = make_graph_sandbox().sandbox.truth()
    truth = truth_of(server)
    assert truth["hidden_folders"] == {"pending": "refused", "spam": "refused"}
    assert truth["totals"]["spam"] == truth["totals"]["pending"] == 0
    visible = [c for c in full["conversations"] if c["folder"] not in ("spam", "pending")]
    assert [c["id"] for c in truth["conversations"]] == [c["id"] for c in visible]
    assert truth["total_conversations"] == len(visible)
    assert truth["total_messages"] == sum(c["message_count"] for c in visible)
    # every conversation a client can list is in the truth, and only those
    listed = []
    for folder in ("inbox", "other", "page_done"):
        listed += page_ids(server, f"{server.page_id}/conversations", folder=folder, limit=25)[0]
    assert sorted(listed) == sorted(c["id"] for c in truth["conversations"])
    # a refused folder's conversation can still be read by its id
    spam = ids_of(full, "spam")[0]
    assert get(server, spam, fields="id").json() == {"id": spam}


def test_refused_folders_odd_conversations_leave_the_truth_too(make_graph_sandbox):
    server = make_graph_sandbox(odd_values=True)
    odd_folders = {c["id"]: c["folder"] for c in truth_of(server)["conversations"]}
    server.sandbox.configure(refused_folders=["other", "page_done", "pending", "spam"])
    odd = truth_of(server)["odd"]
    assert odd
    assert {odd_folders[o["id"]] for o in odd} == {"inbox"}


def test_refused_and_ignored_folders_refuse_bad_values(graph_sandbox):
    with pytest.raises(ValueError, match="inbox"):
        graph_sandbox.sandbox.configure(refused_folders=["inbox"])
    with pytest.raises(ValueError, match="unknown folder"):
        graph_sandbox.sandbox.configure(ignored_folders="junk")
    assert graph_sandbox.sandbox.config.refused_folders == ()


# -- ignored folders -------------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_an_ignored_folder_lists_the_inbox(make_graph_sandbox, way):
    server = start(
        make_graph_sandbox, way, {"ignored_folders": ["pending"]}, ["--ignored-folders=pending"]
    )
    path = f"{server.page_id}/conversations"
    inbox, _ = page_ids(server, path, folder="inbox", limit=10)
    pending, pagings = page_ids(server, path, folder="pending", limit=10)
    assert pending == inbox
    assert all(link_params(p["next"])["folder"] == "pending" for p in pagings[:-1])
    body = get(server, server.page_id, fields=tops(["inbox", "pending"])).json()
    assert body["pending"]["data"] == body["inbox"]["data"]
    items = post_batch(server, [f"{path}?folder=pending&limit=3", f"{path}?folder=spam&limit=3"])
    assert [c["id"] for c in items[0]["body"]["data"]] == inbox[:3]
    truth = truth_of(server)
    assert [c["id"] for c in items[1]["body"]["data"]] == ids_of(truth, "spam")[:3]
    assert truth["hidden_folders"] == {"pending": "ignored"}
    assert ids_of(truth, "pending") == []
    assert ids_of(truth, "inbox") == inbox


def test_a_folder_both_refused_and_ignored_is_refused(make_graph_sandbox):
    server = make_graph_sandbox(refused_folders=["spam"], ignored_folders=["spam", "pending"])
    assert get(server, f"{server.page_id}/conversations", folder="spam").status_code == 400
    assert truth_of(server)["hidden_folders"] == {"spam": "refused", "pending": "ignored"}


# -- cursor-less paging ----------------------------------------------------------------------


def long_thread(server):
    return max(truth_of(server)["conversations"], key=lambda c: c["message_count"])


@pytest.mark.parametrize("way", WAYS)
def test_cursorless_messages_page_by_next_only_through_the_whole_thread(make_graph_sandbox, way):
    server = start(
        make_graph_sandbox, way, {"cursorless_messages": True}, ["--cursorless-messages"]
    )
    thread = long_thread(server)
    ids, pagings = page_ids(server, f"{thread['id']}/messages", limit=7, fields="id,created_time")
    assert ids == thread["message_ids"]
    assert len(pagings) == -(-len(ids) // 7)
    assert all(set(p) == {"next"} for p in pagings[:-1])
    assert pagings[-1] == {}
    first = link_params(pagings[0]["next"])
    assert set(first) == {"access_token", "limit", "fields", "until", "__paging_token"}
    assert first["access_token"] == server.access_token
    assert first["__paging_token"].startswith("enc_")
    page = get(server, f"{thread['id']}/messages", limit=7, fields="created_time").json()
    oldest = page["data"][-1]["created_time"]
    assert int(first["until"]) == _epoch(oldest)


def _epoch(graph_time):
    return int(datetime.strptime(graph_time, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def test_cursorless_nested_messages_continue_on_the_messages_edge(make_graph_sandbox):
    server = make_graph_sandbox(cursorless_messages=True)
    thread = long_thread(server)
    body = get(server, thread["id"], fields="id,messages.limit(6){id}").json()
    nested = body["messages"]
    assert set(nested["paging"]) == {"next"}
    params = link_params(nested["paging"]["next"])
    assert (params["limit"], params["fields"]) == ("6", "id")
    ids = [m["id"] for m in nested["data"]]
    response = follow(server, nested["paging"]["next"])
    while True:
        page = response.json()
        ids += [m["id"] for m in page["data"]]
        if "paging" not in page:
            break
        response = follow(server, page["paging"]["next"])
    assert ids == thread["message_ids"]
    # a short thread: one page and no paging at all
    short = min(truth_of(server)["conversations"], key=lambda c: c["message_count"])
    assert "paging" not in get(server, short["id"], fields="messages{id}").json()["messages"]


def test_cursorless_messages_until_alone_pages_by_time(make_graph_sandbox):
    server = make_graph_sandbox(cursorless_messages=True)
    thread = long_thread(server)
    page = get(server, f"{thread['id']}/messages", limit=5, fields="id,created_time").json()
    until = link_params(page["paging"]["next"])["until"]
    older = get(server, f"{thread['id']}/messages", limit=50, until=until, fields="id").json()
    ids = [m["id"] for m in older["data"]]
    # created at or before `until`: the page's last message, and any of the same second
    assert page["data"][-1]["id"] in ids
    assert ids == thread["message_ids"][thread["message_ids"].index(ids[0]) :][: len(ids)]
    bad = get(server, f"{thread['id']}/messages", __paging_token="enc_nope")
    assert error_of(bad)["code"] == 100


@pytest.mark.parametrize("way", WAYS)
def test_cursorless_conversations_page_by_next_only(make_graph_sandbox, way):
    server = start(
        make_graph_sandbox,
        way,
        {"cursorless_conversations": True},
        ["--cursorless-conversations"],
    )
    path = f"{server.page_id}/conversations"
    for folder in ("inbox", "other"):
        ids, pagings = page_ids(server, path, folder=folder, limit=4)
        assert ids == ids_of(truth_of(server), folder)
        assert all(set(p) == {"next"} for p in pagings[:-1])
        assert {"until", "__paging_token", "folder"} <= set(link_params(pagings[0]["next"]))
    nested = get(server, server.page_id, fields=tops(["inbox"], limit=4)).json()["inbox"]
    assert set(nested["paging"]) == {"next"}
    assert (
        follow(server, nested["paging"]["next"]).json()["data"][0]["id"]
        == ids_of(truth_of(server), "inbox")[4]
    )
    # messages keep their cursors unless their own switch is on
    assert "cursors" in get(server, f"{ids[0]}/messages", limit=1).json()["paging"]


def test_cursorless_empty_page_fault_still_resumes(make_graph_sandbox):
    server = make_graph_sandbox(cursorless_conversations=True)
    server.sandbox.inject("empty_page", endpoint="conversations")
    ids, pagings = page_ids(server, f"{server.page_id}/conversations", limit=10)
    assert ids == ids_of(truth_of(server), "inbox")
    assert pagings[0] == {"next": pagings[0]["next"]}
