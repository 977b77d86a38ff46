"""`GET /debug_token` over real HTTP (graph_sandbox/debug_token.py): what Graph answers about
each Page's token, only to the app token, and the control that makes a token a user token, an
expired one, another Page's or one missing scopes."""

from __future__ import annotations

import json
import time

import pytest
import requests

from graph_sandbox import SandboxControl, appsecret_proof
from graph_sandbox.debug_token import DEFAULT_SCOPES
from tests.graph_sandbox.sandbox_helpers import V, get


def debug(server, input_token, access_token=None, **params):
    app_token = server.sandbox.app_credentials()["app_token"]
    params = {"input_token": input_token, "access_token": access_token or app_token, **params}
    return requests.get(f"{server.url}/{V}/debug_token", params=params, timeout=10)


def data_of(response):
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_pages_token_is_by_default_a_valid_never_expiring_page_token(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=4)
    app = server.sandbox.app_credentials()

    data = data_of(debug(server, server.access_token))

    assert data["is_valid"] is True
    assert data["type"] == "PAGE"
    assert data["profile_id"] == server.page_id
    assert data["app_id"] == app["app_id"]
    assert data["expires_at"] == 0
    assert data["scopes"] == list(DEFAULT_SCOPES)
    assert data["user_id"].isdigit()
    assert {g["scope"] for g in data["granular_scopes"]} == set(DEFAULT_SCOPES)
    assert "error" not in data
    assert app["app_token"] == f"{app['app_id']}|{app['app_secret']}"


def test_only_the_app_token_may_ask_like_graph(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=4)
    app = server.sandbox.app_credentials()
    url = f"{server.url}/{V}/debug_token"

    anonymous = requests.get(url, params={"input_token": server.access_token}, timeout=10)
    page_token = debug(server, server.access_token, access_token=server.access_token)
    wrong_secret = debug(server, server.access_token, access_token=f"{app['app_id']}|nope")
    no_input = requests.get(url, params={"access_token": app["app_token"]}, timeout=10)
    bearer = requests.get(
        url,
        params={"input_token": server.access_token},
        headers={"Authorization": f"Bearer {app['app_token']}"},
        timeout=10,
    )

    assert anonymous.json()["error"]["code"] == 104
    assert page_token.status_code == 400
    assert page_token.json()["error"]["code"] == 100
    assert "app access token" in page_token.json()["error"]["message"]
    assert wrong_secret.json()["error"]["code"] == 190
    assert no_input.json()["error"]["code"] == 100
    assert "input_token" in no_input.json()["error"]["message"]
    assert data_of(bearer)["profile_id"] == server.page_id


def test_an_unknown_token_is_answered_invalid_and_the_app_token_as_an_app_token(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=3, seed=4)

    unknown = data_of(debug(server, "EAABnot-a-token"))
    app = data_of(debug(server, server.sandbox.app_credentials()["app_token"]))

    assert unknown["is_valid"] is False
    assert unknown["error"]["code"] == 190
    assert unknown["scopes"] == []
    assert (app["type"], app["is_valid"]) == ("APP", True)


def test_set_token_info_makes_a_user_token_another_pages_or_one_missing_scopes(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=3, seed=4, pages=2)
    page_id, other_id = server.pages[0][0], server.pages[1][0]
    control = SandboxControl(server.url)

    control.set_token_info(page_id, type="USER")
    user = data_of(debug(server, server.access_token))
    control.set_token_info(page_id, profile_id=other_id)
    other = data_of(debug(server, server.access_token))
    answered = control.set_token_info(page_id, missing_scopes=["pages_messaging"])
    missing = data_of(debug(server, server.access_token))

    assert (user["type"], user["is_valid"]) == ("USER", True)
    assert "profile_id" not in user
    assert other["profile_id"] == other_id
    assert missing["scopes"] == [s for s in DEFAULT_SCOPES if s != "pages_messaging"]
    assert answered == {**missing, "data_access_expires_at": answered["data_access_expires_at"]}
    # The other Page's token is untouched, and the API itself still serves the page.
    assert data_of(debug(server, server.pages[1][2]))["scopes"] == list(DEFAULT_SCOPES)
    assert get(server, page_id, fields="id,name").json()["id"] == page_id


def test_an_expired_token_is_invalid_everywhere_until_reset_or_replaced(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=4)
    page_id, token = server.page_id, server.access_token

    server.sandbox.set_token_info(page_id, expired=True)
    expired = data_of(debug(server, token))
    api = get(server, page_id, fields="id,name").json()

    assert expired["is_valid"] is False
    assert 0 < expired["expires_at"] < time.time()
    assert (expired["error"]["code"], expired["error"]["subcode"]) == (190, 463)
    assert (api["error"]["code"], api["error"]["error_subcode"]) == (190, 463)

    server.sandbox.set_token_info(page_id)
    assert data_of(debug(server, token))["is_valid"] is True
    assert get(server, page_id, fields="id,name").status_code == 200

    server.sandbox.set_token_info(page_id, scopes="pages_show_list", expires_at=4_000_000_000)
    server.sandbox.set_token(page_id, "EAAB-fresh")
    fresh = data_of(debug(server, "EAAB-fresh"))
    assert (fresh["scopes"], fresh["expires_at"]) == (list(DEFAULT_SCOPES), 0)


def test_expire_token_shows_in_debug_token(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=4)

    server.sandbox.expire_token(server.page_id)

    data = data_of(debug(server, server.access_token))
    assert data["is_valid"] is False
    assert data["error"]["subcode"] == 463


def test_with_app_secret_the_app_token_uses_it_and_needs_its_proof(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=4, app_secret="app-s3cret")
    app = server.sandbox.app_credentials()

    without = debug(server, server.access_token)
    proof = appsecret_proof("app-s3cret", app["app_token"])
    with_proof = debug(server, server.access_token, appsecret_proof=proof)

    assert app["app_secret"] == "app-s3cret"
    assert without.json()["error"]["code"] == 100
    assert data_of(with_proof)["profile_id"] == server.page_id


def test_debug_token_in_a_batch_and_in_the_stats_under_no_page(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=4)
    app_token = server.sandbox.app_credentials()["app_token"]
    batch = [
        {"method": "GET", "relative_url": f"{V}/debug_token?input_token={server.access_token}"}
    ]

    response = requests.post(
        f"{server.url}/{V}/",
        data={"access_token": app_token, "batch": json.dumps(batch)},
        timeout=10,
    )

    (item,) = response.json()
    assert item["code"] == 200
    assert json.loads(item["body"])["data"]["profile_id"] == server.page_id
    assert server.sandbox.stats()["debug_token"] == 1
    assert server.sandbox.stats(server.page_id)["total"] == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"type": "BOT"}, "type must be"), ({"page_id": "404"}, "unknown page")],
)
def test_set_token_info_refuses_what_it_cannot_be(make_graph_sandbox, kwargs, error):
    server = make_graph_sandbox(conversations=3, seed=4)
    kwargs = {"page_id": server.page_id, **kwargs}

    with pytest.raises(ValueError, match=error):
        server.sandbox.set_token_info(**kwargs)
