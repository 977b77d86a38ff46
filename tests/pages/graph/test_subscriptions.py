"""A Page's webhook subscription (pages/graph/subscriptions.py) and `GraphClient.post`, against
the sandbox's `/{page}/subscribed_apps` over real HTTP (graph-api.md §8.1)."""

from __future__ import annotations

import pytest

from pages.graph import subscriptions
from pages.graph.errors import GraphError
from tests.helpers import FakeTime
from tests.pages.graph.client_helpers import make_client


def page_id_of(server) -> str:
    return server.pages[0][0]


def test_an_unsubscribed_page_has_no_fields(server):
    client = make_client(server, FakeTime())
    assert subscriptions.subscribed_fields(client, page_id_of(server)) == []


def test_subscribing_returns_what_graph_reads_back(server):
    client = make_client(server, FakeTime())
    fields = subscriptions.subscribe(client, page_id_of(server))
    assert fields == sorted(subscriptions.WEBHOOK_FIELDS)
    assert server.sandbox.subscriptions_info() == {
        page_id_of(server): list(subscriptions.WEBHOOK_FIELDS)
    }
    assert subscriptions.missing_fields(fields) == []
    assert client.calls == 2  # the POST, then the read back


def test_only_this_apps_entry_counts_when_the_app_id_is_set(server, settings):
    client = make_client(server, FakeTime())
    subscriptions.subscribe(client, page_id_of(server), ["messages"])
    settings.FACEBOOK_APP_ID = server.sandbox.app_credentials()["app_id"]
    assert subscriptions.subscribed_fields(client, page_id_of(server)) == ["messages"]
    settings.FACEBOOK_APP_ID = "another-app"
    assert subscriptions.subscribed_fields(client, page_id_of(server)) == []


def test_missing_fields_are_named_in_order():
    assert subscriptions.missing_fields(["message_reads", "messages"]) == [
        "message_echoes",
        "message_deliveries",
        "messaging_postbacks",
        "message_reactions",
    ]


def test_a_post_carries_the_appsecret_proof(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=1, app_secret="s3cret")
    proved = make_client(server, FakeTime(), app_secret="s3cret")
    assert subscriptions.subscribe(proved, page_id_of(server), ["messages"]) == ["messages"]
    unproved = make_client(server, FakeTime())
    with pytest.raises(GraphError):
        unproved.post(f"{page_id_of(server)}/subscribed_apps", {"subscribed_fields": "messages"})


def test_a_refused_field_is_a_graph_error(server):
    client = make_client(server, FakeTime())
    with pytest.raises(GraphError, match="subscribed_fields"):
        subscriptions.subscribe(client, page_id_of(server), ["no_such_field"])
    assert server.sandbox.subscriptions_info() == {}
