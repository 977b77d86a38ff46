"""graph_probe tells, against the sandbox in each of its real-Graph settings, how Graph
behaves for the Page, and stores what syncs use."""

import json

import pytest

from pages.graph.client import GraphClient
from pages.probe import Probe
from pages.sync import findings
from tests.helpers import connect, manage, point_settings_at, sync

pytestmark = pytest.mark.django_db


def probe(server, settings, **switches):
    server.sandbox.configure(**switches)
    point_settings_at(settings, server)
    page = connect(server)
    client = GraphClient.for_page(page)
    try:
        return page, Probe(page, client).run()
    finally:
        client.session.close()


def test_a_plain_page(make_graph_sandbox, settings):
    page, report = probe(make_graph_sandbox(conversations=60, seed=3), settings)

    assert set(report.folders) == {"inbox", "other", "page_done", "pending", "spam"}
    assert set(report.folders.values()) <= {"accepted", "empty"}
    assert report.one_call_tops == "works"
    assert report.messages_paging == "cursors"
    assert report.conversations_paging == "cursors"
    assert report.removed_fields == []
    assert report.largest_page == 100  # the sandbox's cap without a weight budget
    assert report.api_version == "v26.0"
    assert report.webhooks == "not subscribed"  # nobody subscribed the Page yet
    assert report.calls <= 15
    assert report.token.startswith("Checked with Facebook")  # no app credentials here
    assert any("Advanced Access" in note for note in report.token_notes)
    page.refresh_from_db()
    assert page.graph_findings["probe"]["one_call_tops"] == "works"


@pytest.mark.parametrize(
    ("omit", "expected"), [(True, "omitted"), (False, "returned as empty lists")]
)
def test_empty_edges(make_graph_sandbox, settings, omit, expected):
    server = make_graph_sandbox(conversations=2, seed=3)
    _, report = probe(server, settings, omit_empty_edges=omit)

    assert "empty" in report.folders.values()
    assert report.empty_edges == expected


def test_refused_and_ignored_folders_are_found_and_stored(make_graph_sandbox, settings):
    page, report = probe(
        make_graph_sandbox(conversations=60, seed=3),
        settings,
        refused_folders=["spam"],
        ignored_folders=["pending"],
    )

    assert report.folders["spam"] == "refused"
    assert report.folders["pending"] == "ignored"
    assert report.one_call_tops == "works"  # asked without the refused folder
    assert findings.unavailable_folders(page) == {"spam": "refused", "pending": "ignored"}


def test_cursorless_message_paging(make_graph_sandbox, settings):
    _, report = probe(
        make_graph_sandbox(conversations=60, seed=3), settings, cursorless_messages=True
    )
    assert report.messages_paging == "next only"


def test_cursorless_conversation_paging_and_removed_fields(make_graph_sandbox, settings):
    page, report = probe(
        make_graph_sandbox(conversations=60, seed=3),
        settings,
        cursorless_conversations=True,
        removed_fields=["snippet", "Message.sticker"],
    )
    assert report.conversations_paging == "next only"
    assert report.messages_paging == "cursors"
    assert sorted(report.removed_fields) == ["snippet", "sticker"]
    assert findings.degraded_fields(page) == ["snippet", "sticker"]


def test_a_weight_budget_bounds_the_pages_with_messages(make_graph_sandbox, settings):
    _, report = probe(
        make_graph_sandbox(conversations=200, seed=3),
        settings,
        weight_budget=400,
        weight_max_limit=505,
    )
    assert report.largest_page == 100
    assert report.largest_page_with_messages is None or report.largest_page_with_messages < 100


def test_the_command_prints_a_report_or_json(make_graph_sandbox, transactional_db):
    server = make_graph_sandbox(conversations=20, seed=3, refused_folders=["spam"])
    page = connect(server)

    text = manage(server, "graph_probe", page.facebook_id)
    as_json = manage(server, "graph_probe", page.facebook_id, "--json")

    assert text.returncode == 0, text.stderr
    assert "spam refused" in text.stdout
    assert "Messages paging: cursors" in text.stdout
    report = json.loads(as_json.stdout)
    assert report["folders"]["spam"] == "refused"
    assert page.access_token not in text.stdout + text.stderr + as_json.stdout


def test_an_unknown_page_is_a_clear_error(make_graph_sandbox, transactional_db):
    result = manage(make_graph_sandbox(conversations=1, seed=3), "graph_probe", "123")
    assert result.returncode != 0
    assert "not connected" in result.stderr


def test_a_sync_skips_the_one_call_read_the_probe_found_refused(page, sandbox):
    sync(page)
    findings.record_probe(page, {"one_call_tops": "refused"})
    sandbox.sandbox.reset_stats()

    run = sync(page)

    assert run.status == "complete"
    assert not [r for r in sandbox.sandbox.stats()["requests"] if r["kind"] == "page"]


def test_per_item_batch_throttling_does_not_mislead_the_probe(make_graph_sandbox, settings):
    """The probe sends no batch (each item would count against the Page's rate): with the
    sandbox throttling batch items one by one, it finds what it finds on a plain Page."""
    server = make_graph_sandbox(conversations=60, seed=3)
    _, report = probe(server, settings, batch_item_rate_limit=1)
    assert report.problems == []
    assert server.sandbox.stats()["batch"] == 0
    assert report.one_call_tops == "works"
    assert set(report.folders.values()) <= {"accepted", "empty"}


def test_a_subscribed_page_says_to_which_fields(make_graph_sandbox, settings):
    server = make_graph_sandbox(conversations=10, seed=3)
    server.sandbox.subscriptions[server.page_id] = ["message_echoes", "messages"]
    _page, report = probe(server, settings)
    assert report.webhooks == "subscribed (message_echoes, messages)"
