import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from graph_sandbox import SandboxControl
from graph_sandbox.control import SandboxControlError
from tests.graph_sandbox.sandbox_helpers import get, truth_ids, walk

ROOT = Path(__file__).resolve().parents[2]


def test_control_pages_and_truth_over_http(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    assert control.pages() == [
        {
            "id": graph_sandbox.page_id,
            "name": "Lisbon Bike Shop",
            "access_token": graph_sandbox.access_token,
        }
    ]
    truth = control.truth(graph_sandbox.page_id)
    assert truth == json.loads(json.dumps(graph_sandbox.sandbox.truth()))
    assert truth["total_conversations"] == 60


def test_control_add_conversations_puts_them_on_top(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    before = graph_sandbox.sandbox.truth()["conversations"]
    newest_before = max(c["updated_time"] for c in before)
    ids = control.add_conversations(graph_sandbox.page_id, 2, folder="other")
    assert len(ids) == 2
    assert set(truth_ids(graph_sandbox, "other")[:2]) == set(ids)
    truth = {c["id"]: c for c in graph_sandbox.sandbox.truth()["conversations"]}
    assert all(truth[i]["updated_time"] > newest_before for i in ids)


def test_control_add_messages_moves_to_top_strictly_newer(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    before = {c["id"]: c for c in graph_sandbox.sandbox.truth()["conversations"]}
    newest_before = max(c["updated_time"] for c in before.values())
    touched = control.add_messages(graph_sandbox.page_id, n_conversations=2, per_conversation=3)
    assert len(touched) == 2
    inbox_before = [cid for cid, c in before.items() if c["folder"] == "inbox"]
    assert all(inbox_before.index(cid) >= len(inbox_before) // 2 for cid in touched)
    after = {c["id"]: c for c in graph_sandbox.sandbox.truth()["conversations"]}
    assert set(truth_ids(graph_sandbox, "inbox")[:2]) == set(touched)
    for cid in touched:
        assert after[cid]["updated_time"] > newest_before
        assert after[cid]["message_count"] == before[cid]["message_count"] + 3
        assert after[cid]["message_ids"][3:] == before[cid]["message_ids"]
    body = get(graph_sandbox, f"{touched[0]}/messages", fields="id,from,created_time").json()
    newest = body["data"][0]
    assert newest["id"] == after[touched[0]]["message_ids"][0]
    assert newest["from"]["id"] == after[touched[0]]["participant"]["id"]
    assert newest["created_time"] == after[touched[0]]["updated_time"]


def test_control_add_messages_by_id_is_deterministic(make_graph_sandbox):
    results = []
    for _ in range(2):
        server = make_graph_sandbox(seed=5)
        server.sandbox.add_messages(server.page_id, n_conversations=3)
        results.append(server.sandbox.truth()["conversations"])
    strip = [[(c["id"], c["message_ids"][1:]) for c in r] for r in results]
    assert strip[0] == strip[1]


def test_control_rename_keeps_updated_time(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    before = {c["id"]: c for c in graph_sandbox.sandbox.truth()["conversations"]}
    cid = next(iter(before))
    assert control.rename_participant(graph_sandbox.page_id, [cid], name="Zoë 🚲 Ferreira") == [
        (cid, "Zoë 🚲 Ferreira")
    ]
    body = get(graph_sandbox, cid, fields="updated_time,participants").json()
    assert body["updated_time"] == before[cid]["updated_time"]
    assert body["participants"]["data"][0]["name"] == "Zoë 🚲 Ferreira"
    renamed = control.rename_participant(graph_sandbox.page_id, n=2)
    assert len(renamed) == 2
    assert all(name != before[c]["participant"]["name"] for c, name in renamed)


def test_control_move_folder(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    cid = truth_ids(graph_sandbox, "inbox")[5]
    control.move_folder(graph_sandbox.page_id, cid, "page_done")
    assert cid in [c["id"] for c in walk(graph_sandbox, folder="page_done")]
    assert cid not in [c["id"] for c in walk(graph_sandbox, folder="inbox")]


def test_control_stats_lists_cursors_without_tokens(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    control.reset_stats()
    items = walk(graph_sandbox, limit=20)
    get(graph_sandbox, f"{items[0]['id']}/messages")
    get(graph_sandbox, graph_sandbox.page_id)
    get(graph_sandbox, "t_1")  # made with the page's token: counted for the page
    get(graph_sandbox, "t_1", access_token="EAABunknown")  # no page to count it for
    stats = control.stats(graph_sandbox.page_id)
    pages = -(-len(items) // 20)
    assert stats["conversations"] == pages
    assert (stats["messages"], stats["page"], stats["unknown"], stats["errors"]) == (1, 1, 1, 1)
    assert stats["total"] == pages + 3
    assert control.stats()["total"] == pages + 4
    assert control.stats()["errors"] == 2
    listed = [r for r in stats["requests"] if r["kind"] == "conversations"]
    assert "after" not in listed[0]["params"]
    assert all("after" in r["params"] for r in listed[1:])
    assert all(r["params"].get("folder", "inbox") == "inbox" for r in listed)
    assert graph_sandbox.access_token not in json.dumps(stats)


def test_control_configure_and_inject_over_http(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    assert control.configure(latency_ms=1)["latency_ms"] == 1
    control.inject("transient", endpoint="page")
    assert control.faults()[0]["kind"] == "transient"
    assert get(graph_sandbox, graph_sandbox.page_id).status_code == 500
    control.set_usage(graph_sandbox.page_id, call_count=95)
    r = get(graph_sandbox, graph_sandbox.page_id)
    assert (
        json.loads(r.headers["X-Business-Use-Case-Usage"])[graph_sandbox.page_id][0]["call_count"]
        == 95
    )
    control.expire_token(graph_sandbox.page_id)
    assert get(graph_sandbox, graph_sandbox.page_id).json()["error"]["error_subcode"] == 463
    control.set_token(graph_sandbox.page_id, "EAABcontrol")
    assert get(graph_sandbox, graph_sandbox.page_id, access_token="EAABcontrol").ok
    control.clear_faults()
    assert control.faults() == []


def test_control_bad_arguments_are_http_400(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    with pytest.raises(SandboxControlError, match="HTTP 400"):
        control.move_folder(graph_sandbox.page_id, "t_1", "inbox")
    with pytest.raises(SandboxControlError, match="HTTP 400"):
        control.configure(warp_speed=True)
    assert requests.post(f"{graph_sandbox.url}/_sandbox/nope", timeout=5).status_code == 404


def test_control_calls_do_not_count_as_api_calls(graph_sandbox):
    control = SandboxControl(graph_sandbox.url)
    control.reset_stats()
    control.truth(graph_sandbox.page_id)
    assert control.stats()["total"] == 0


@pytest.mark.slow
def test_management_command_prints_json_and_stops_on_sigterm(tmp_path):
    script = (
        "import django; from django.conf import settings;"
        "settings.configure(INSTALLED_APPS=['graph_sandbox']); django.setup();"
        "from django.core.management import call_command;"
        "call_command('graph_sandbox', port=0, conversations=55, seed=2, pages=2)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        info = None
        for line in proc.stdout:
            if line.startswith("{"):
                info = json.loads(line)
                break
        assert info is not None
        assert [p["name"] for p in info["pages"]] == ["Lisbon Bike Shop", "Porto Coffee Roasters"]
        page = info["pages"][0]
        r = requests.get(
            f"{info['url']}/v26.0/{page['id']}/conversations",
            params={"access_token": page["access_token"], "limit": 1},
            timeout=5,
        )
        assert r.status_code == 200
        assert SandboxControl(info["url"]).truth(page["id"])["total_conversations"] == 55
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        assert proc.returncode == 0
