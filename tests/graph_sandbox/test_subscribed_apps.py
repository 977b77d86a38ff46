"""`/{page-id}/subscribed_apps` over real HTTP (graph_sandbox/subscriptions.py): subscribing a
Page to the app's webhooks, reading and removing it, Graph's errors, and the controls the
sandbox's webhook sender and tests use."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests

from graph_sandbox import SandboxControl, appsecret_proof
from graph_sandbox.subscriptions import WEBHOOK_FIELDS
from tests.graph_sandbox.sandbox_helpers import V

FIELDS = "messages,message_echoes,message_reads,message_deliveries,message_reactions"


def edge(server, method="GET", page_id=None, token=None, **params):
    params = {"access_token": token or server.access_token, **params}
    url = f"{server.url}/{V}/{page_id or server.page_id}/subscribed_apps"
    return requests.request(method, url, params=params, timeout=10)


def error_of(response, status=400):
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_subscribe_read_and_unsubscribe_a_page(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    app = server.sandbox.app_credentials()

    before = edge(server)
    subscribed = edge(server, "POST", subscribed_fields=FIELDS)
    listed = edge(server)
    state = server.sandbox.subscriptions_info()
    removed = edge(server, "DELETE")
    after = edge(server)

    assert before.json() == {"data": []}
    assert subscribed.json() == {"success": True}
    assert listed.json() == {
        "data": [
            {"name": "fbsync sandbox", "id": app["app_id"], "subscribed_fields": FIELDS.split(",")}
        ]
    }
    assert state == {server.page_id: FIELDS.split(",")}
    assert removed.json() == {"success": True}
    assert after.json() == {"data": []}
    assert server.sandbox.subscriptions == {}


def test_fields_come_from_a_form_or_a_json_array_and_a_new_post_replaces_them(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=2)
    url = f"{server.url}/{V}/{server.page_id}/subscribed_apps"

    form = requests.post(
        url,
        data={"access_token": server.access_token, "subscribed_fields": "messages,standby"},
        timeout=10,
    )
    first = server.sandbox.subscriptions_info()[server.page_id]
    array = edge(server, "POST", subscribed_fields=json.dumps(["message_edits", "messages"]))

    assert form.json() == {"success": True}
    assert first == ["messages", "standby"]
    assert array.json() == {"success": True}
    assert edge(server).json()["data"][0]["subscribed_fields"] == ["message_edits", "messages"]


def test_me_subscribed_apps_is_the_token_pages_and_works_as_a_batch_item(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    batch = [
        {"method": "POST", "relative_url": f"{V}/me/subscribed_apps?subscribed_fields=messages"},
        {"method": "GET", "relative_url": f"{V}/{server.page_id}/subscribed_apps"},
    ]

    answer = requests.post(
        f"{server.url}/{V}/",
        data={"access_token": server.access_token, "batch": json.dumps(batch)},
        timeout=10,
    ).json()

    assert [item["code"] for item in answer] == [200, 200]
    assert json.loads(answer[0]["body"]) == {"success": True}
    assert json.loads(answer[1]["body"])["data"][0]["subscribed_fields"] == ["messages"]
    assert server.sandbox.stats(server.page_id)["total"] >= 2


def test_an_unknown_or_missing_field_is_refused_and_changes_nothing(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    edge(server, "POST", subscribed_fields="messages")

    unknown = error_of(edge(server, "POST", subscribed_fields="messages,messaging_reactions"))
    missing = error_of(edge(server, "POST"))
    not_a_list = error_of(edge(server, "POST", subscribed_fields="[not json"))

    assert unknown["code"] == 100
    assert unknown["message"] == (
        "(#100) Param subscribed_fields[1] must be one of {"
        + ", ".join(WEBHOOK_FIELDS)
        + '} - got "messaging_reactions"'
    )
    assert missing["code"] == 100
    assert "subscribed_fields is required" in missing["message"]
    assert not_a_list["code"] == 100
    assert server.sandbox.subscriptions_info() == {server.page_id: ["messages"]}


def test_every_messenger_field_the_app_may_ask_for_is_accepted(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    messenger = (
        "messages,message_echoes,message_reads,message_deliveries,messaging_postbacks,"
        "message_reactions,message_edits,messaging_optins,messaging_referrals,standby"
    )

    answer = edge(server, "POST", subscribed_fields=messenger)

    assert answer.json() == {"success": True}
    assert edge(server).json()["data"][0]["subscribed_fields"] == messenger.split(",")


def test_a_token_without_pages_manage_metadata_gets_a_permission_error(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, pages=2)
    second = server.pages[1][0]
    server.sandbox.set_token_info(second, missing_scopes=["pages_manage_metadata"])
    control = SandboxControl(server.url)
    app = control.app_credentials()
    redirect = "https://fbsync.example/cb"
    url = control.oauth_consent(
        app["app_id"], redirect, scopes=["pages_show_list", "pages_messaging"]
    )
    code = parse_qs(urlsplit(url).query)["code"][0]
    user = requests.get(
        f"{server.url}/{V}/oauth/access_token",
        params={
            "client_id": app["app_id"],
            "client_secret": app["app_secret"],
            "redirect_uri": redirect,
            "code": code,
        },
        timeout=10,
    ).json()["access_token"]
    accounts = requests.get(
        f"{server.url}/{V}/me/accounts", params={"access_token": user}, timeout=10
    ).json()["data"]

    from_consent = error_of(
        edge(server, "POST", token=accounts[0]["access_token"], subscribed_fields="messages")
    )
    from_settings = error_of(
        edge(server, "GET", page_id=second, token=server.pages[1][2]), status=400
    )

    for error in (from_consent, from_settings):
        assert error["code"] == 200
        assert error["message"] == (
            "(#200) Requires pages_manage_metadata permission to manage the object"
        )
    assert server.sandbox.subscriptions_info() == {}


def test_the_token_must_be_this_pages_valid_page_token(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, pages=2)
    other_page, other_token = server.pages[1][0], server.pages[1][2]
    control = SandboxControl(server.url)
    app = control.app_credentials()
    url = f"{server.url}/{V}/{server.page_id}/subscribed_apps"

    anonymous = error_of(requests.get(url, timeout=10))
    unknown = error_of(edge(server, token="EAABnope"))
    other_pages = error_of(edge(server, token=other_token))
    no_page = error_of(edge(server, page_id="404404"))
    app_token = error_of(edge(server, token=app["app_token"]))
    control.expire_token(other_page)
    expired = error_of(edge(server, page_id=other_page, token=other_token))
    put = error_of(edge(server, "PUT"))

    assert anonymous["code"] == 104
    assert unknown["code"] == 190
    assert other_pages["code"] == 200
    assert (no_page["code"], no_page["error_subcode"]) == (100, 33)
    assert app_token["code"] == 190
    assert (expired["code"], expired["error_subcode"]) == (190, 463)
    assert put["code"] == 100
    assert server.sandbox.subscriptions_info() == {}


def test_a_user_token_is_refused_with_210(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    control = SandboxControl(server.url)
    app = control.app_credentials()
    url = control.oauth_consent(app["app_id"], "https://fbsync.example/cb")
    code = parse_qs(urlsplit(url).query)["code"][0]
    params = {"client_id": app["app_id"], "client_secret": app["app_secret"], "code": code}
    params["redirect_uri"] = "https://fbsync.example/cb"
    token = requests.get(f"{server.url}/{V}/oauth/access_token", params=params, timeout=10)

    error = error_of(edge(server, "POST", token=token.json()["access_token"]))

    assert error["code"] == 210
    assert error["message"] == "(#210) A page access token is required to request this resource."


def test_the_appsecret_proof_is_required_when_the_app_requires_it(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, app_secret="s3cret")
    proof = appsecret_proof("s3cret", server.access_token)

    missing = error_of(edge(server, "POST", subscribed_fields="messages"))
    proved = edge(server, "POST", subscribed_fields="messages", appsecret_proof=proof)

    assert missing["code"] == 100
    assert "appsecret_proof" in missing["message"]
    assert proved.json() == {"success": True}


def test_the_controls_list_and_drop_subscriptions_over_http(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, pages=2)
    control = SandboxControl(server.url)
    second, second_token = server.pages[1][0], server.pages[1][2]
    edge(server, "POST", subscribed_fields="messages")
    edge(server, "POST", page_id=second, token=second_token, subscribed_fields="standby")

    listed = control.subscriptions()
    dropped = control.unsubscribe_app(server.page_id)
    again = control.unsubscribe_app(server.page_id)

    assert listed == {server.page_id: ["messages"], second: ["standby"]}
    assert dropped is True
    assert again is False
    assert edge(server).json() == {"data": []}  # what Meta does after an hour of failures
    assert control.subscriptions() == {second: ["standby"]}
