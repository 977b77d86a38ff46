"""Facebook Login in the sandbox over real HTTP (graph_sandbox/consent.py, oauth.py): the dialog
and its form, the code exchange and its errors, the long-lived exchange, /me, /me/permissions,
/me/accounts, and what debug_token says of the tokens Login hands out."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from graph_sandbox import SandboxControl, appsecret_proof
from graph_sandbox.control import SandboxControlError
from tests.graph_sandbox.sandbox_helpers import V

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "https://fbsync.example/facebook/callback/"
ASKED = "pages_show_list,pages_messaging,pages_read_engagement,pages_manage_metadata"


def app_of(server):
    return server.sandbox.app_credentials()


def query_of(url):
    parts = urlsplit(url)
    return {k: v[0] for k, v in parse_qs(parts.query).items()}, parts.fragment


def dialog(server, path="dialog/oauth", **params):
    params = {"client_id": app_of(server)["app_id"], "redirect_uri": CALLBACK, **params}
    return requests.get(f"{server.url}/{path}", params=params, timeout=10, allow_redirects=False)


def confirm(server, action="continue", grant=None, pages=None, **params):
    form = {"client_id": app_of(server)["app_id"], "redirect_uri": CALLBACK, "scope": ASKED}
    form.update(params, action=action)
    form["grant"] = ASKED.split(",") if grant is None else grant
    form["page"] = [p[0] for p in server.pages] if pages is None else pages
    url = f"{server.url}/dialog/oauth/confirm"
    return requests.post(url, data=form, timeout=10, allow_redirects=False)


def exchange(server, code, redirect_uri=CALLBACK, **params):
    app = app_of(server)
    params = {
        "client_id": app["app_id"],
        "client_secret": app["app_secret"],
        "redirect_uri": redirect_uri,
        "code": code,
        **params,
    }
    return requests.get(f"{server.url}/{V}/oauth/access_token", params=params, timeout=10)


def consent_code(server, **consent):
    url = SandboxControl(server.url).oauth_consent(
        app_of(server)["app_id"], CALLBACK, state="s1", **consent
    )
    return query_of(url)[0]["code"]


def user_token(server, **consent):
    response = exchange(server, consent_code(server, **consent))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def call(server, path, token, **params):
    params = {"access_token": token, **params}
    return requests.get(f"{server.url}/{V}/{path}", params=params, timeout=10)


def debug(server, token):
    response = call(server, "debug_token", app_of(server)["app_token"], input_token=token)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def oauth_error(response, status=400):
    assert response.status_code == status, response.text
    return response.json()["error"]


# -- the dialog ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["dialog/oauth", f"{V}/dialog/oauth"])
def test_the_dialog_shows_the_app_each_permission_and_each_page_with_stable_controls(
    make_graph_sandbox, path
):
    server = make_graph_sandbox(conversations=2, pages=2)
    server.sandbox.oauth_user(name="Ana <Admin>")

    page = dialog(server, path, state="abc", scope=ASKED)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "fbsync sandbox" in html
    assert "Ana &lt;Admin&gt;" in html
    for scope in ASKED.split(","):
        assert f'id="scope-{scope}" name="grant" value="{scope}" checked' in html
    for page_id, name, _ in server.pages:
        assert f'id="page-{page_id}" name="page" value="{page_id}" checked' in html
        assert f'<label for="page-{page_id}"><bdi>{name}</bdi></label>' in html
    assert 'id="continue"' in html
    assert 'id="cancel"' in html
    assert '<input type="hidden" name="state" value="abc">' in html
    assert 'action="/dialog/oauth/confirm"' in html
    assert '<link rel="icon" href="data:,">' in html  # no favicon request, no console error


def test_continue_redirects_with_a_code_and_the_state_and_cancel_with_metas_error(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=2)

    granted = confirm(server, state="xyz")
    cancelled = confirm(server, action="cancel", state="xyz")

    assert granted.status_code == 302
    query, fragment = query_of(granted.headers["Location"])
    assert granted.headers["Location"].startswith(CALLBACK + "?")
    assert set(query) == {"code", "state"}
    assert query["state"] == "xyz"
    assert fragment == "_=_"  # Meta's "#_=_"
    assert exchange(server, query["code"]).status_code == 200
    assert cancelled.status_code == 302
    assert query_of(cancelled.headers["Location"])[0] == {
        "error": "access_denied",
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
        "state": "xyz",
    }


def test_unticked_permissions_are_declined_and_unticked_pages_not_granted(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, pages=3)
    first, _, third = (p[0] for p in server.pages)

    answer = confirm(server, grant=["pages_show_list", "pages_messaging"], pages=[first, third])
    token = exchange(server, query_of(answer.headers["Location"])[0]["code"]).json()["access_token"]

    permissions = call(server, "me/permissions", token).json()["data"]
    assert permissions == [
        {"permission": "pages_show_list", "status": "granted"},
        {"permission": "pages_messaging", "status": "granted"},
        {"permission": "pages_read_engagement", "status": "declined"},
        {"permission": "pages_manage_metadata", "status": "declined"},
        {"permission": "public_profile", "status": "granted"},
    ]
    accounts = call(server, "me/accounts", token, fields="id").json()["data"]
    assert [a["id"] for a in accounts] == [first, third]


def test_a_wrong_app_or_redirect_uri_gets_an_error_page_and_never_a_redirect(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, oauth_redirect_uris=[CALLBACK])

    answers = {
        "wrong app": dialog(server, client_id="123"),
        "unlisted uri": dialog(server, redirect_uri="https://evil.example/cb"),
        "not a url": dialog(server, redirect_uri="javascript:alert(1)"),
        "bad scope": dialog(server, scope="pages_messaging,read_everything"),
        "token flow": dialog(server, response_type="token"),
        "tampered form": confirm(server, redirect_uri="https://evil.example/cb"),
    }

    for case, answer in answers.items():
        assert answer.status_code == 400, case
        assert "Location" not in answer.headers, case
        assert answer.headers["Content-Type"].startswith("text/html"), case
    assert "Invalid App ID" in answers["wrong app"].text
    assert "URL Blocked" in answers["unlisted uri"].text
    assert "Invalid Scopes: read_everything" in answers["bad scope"].text
    assert dialog(server, scope=ASKED).status_code == 200  # the listed URI is fine


def test_the_consent_control_route_answers_the_redirect_or_refuses_like_the_dialog(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=2, pages=2)
    control = SandboxControl(server.url)
    app_id = app_of(server)["app_id"]

    denied = control.oauth_consent(app_id, CALLBACK, state="st", approve=False)
    with pytest.raises(SandboxControlError, match="Invalid App ID"):
        control.oauth_consent("999", CALLBACK, state="st")
    with pytest.raises(SandboxControlError, match="not asked for"):
        control.oauth_consent(app_id, CALLBACK, scopes=["email"])
    with pytest.raises(SandboxControlError, match="unknown page"):
        control.oauth_consent(app_id, CALLBACK, page_ids=["404"])
    url = control.oauth_consent(
        app_id, CALLBACK, state="st", asked=["pages_show_list", "email"], scopes=["email"]
    )

    assert query_of(denied)[0]["error_reason"] == "user_denied"
    token = exchange(server, query_of(url)[0]["code"]).json()["access_token"]
    assert debug(server, token)["scopes"] == ["email", "public_profile"]


def test_config_id_without_scope_asks_the_configurations_page_permissions(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)

    html = dialog(server, config_id="cfg-1").text
    token = user_token(server, config_id="cfg-1")

    assert 'id="scope-pages_manage_metadata"' in html
    assert '<input type="hidden" name="config_id" value="cfg-1">' in html
    assert "pages_messaging" in debug(server, token)["scopes"]


def test_the_pages_picture_is_a_small_png(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)

    picture = requests.get(f"{server.url}/_sandbox/picture/{server.page_id}.png", timeout=10)
    unknown = requests.get(f"{server.url}/_sandbox/picture/404.png", timeout=10)

    assert picture.status_code == 200
    assert picture.headers["Content-Type"] == "image/png"
    body = picture.content
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", body[16:24])
    assert (width, height) == (50, 50)
    idat = body.index(b"IDAT")
    (length,) = struct.unpack(">I", body[idat - 4 : idat])
    assert len(zlib.decompress(body[idat + 4 : idat + 4 + length])) == 50 * (1 + 50 * 3)
    assert unknown.status_code == 404


# -- the code exchange -----------------------------------------------------------------------


def test_a_code_gives_a_bearer_user_token_once(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    code = consent_code(server)

    first = exchange(server, code)
    again = exchange(server, code)

    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 5183944
    assert body["access_token"] not in {p[2] for p in server.pages}
    assert oauth_error(again) == {
        "message": "This authorization code has been used.",
        "type": "OAuthException",
        "code": 100,
        "error_subcode": 36009,
        "fbtrace_id": oauth_error(again)["fbtrace_id"],
    }


def test_codes_expire_after_the_ttl_or_when_told(make_graph_sandbox):
    now = [1000.0]
    server = make_graph_sandbox(conversations=2, clock=lambda: now[0], oauth_code_ttl_seconds=60)
    old, fresh = consent_code(server), consent_code(server)

    now[0] += 61
    late = exchange(server, old)
    in_time_code = consent_code(server)
    expired_count = SandboxControl(server.url).expire_oauth_codes()

    for response in (late, exchange(server, in_time_code), exchange(server, fresh)):
        error = oauth_error(response)
        assert error["message"] == "This authorization code has expired."
        assert (error["code"], error["error_subcode"]) == (100, 36007)
    assert expired_count == 3


def test_the_exchange_refuses_a_wrong_redirect_secret_app_or_code(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    code = consent_code(server)

    wrong_uri = oauth_error(exchange(server, code, redirect_uri=CALLBACK + "x"))
    wrong_secret = oauth_error(exchange(server, code, client_secret="nope"))
    wrong_app = oauth_error(exchange(server, code, client_id="1"))
    unknown = oauth_error(exchange(server, "AQnot-a-code"))
    no_uri = oauth_error(exchange(server, code, redirect_uri=""))
    bad_grant = oauth_error(exchange(server, code, grant_type="password"))

    assert wrong_uri["message"] == (
        "Error validating verification code. Please make sure your redirect_uri is identical "
        "to the one you used in the OAuth dialog request"
    )
    assert (wrong_uri["code"], wrong_uri["error_subcode"]) == (100, 36008)
    assert (wrong_secret["code"], wrong_secret["message"]) == (1, "Error validating client secret.")
    assert wrong_app["code"] == 101
    assert (unknown["code"], unknown["message"]) == (100, "Invalid verification code format.")
    assert no_uri["code"] == 191
    assert bad_grant["code"] == 100
    assert "grant_type" in bad_grant["message"]
    assert exchange(server, code).status_code == 200  # none of those used the code up


def test_a_user_token_is_exchanged_for_a_long_lived_one(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    app = app_of(server)
    short = user_token(server)
    url = f"{server.url}/{V}/oauth/access_token"
    params = {"grant_type": "fb_exchange_token", "client_id": app["app_id"]}
    params["client_secret"] = app["app_secret"]

    long = requests.get(url, params={**params, "fb_exchange_token": short}, timeout=10)
    bogus = requests.get(url, params={**params, "fb_exchange_token": "EAABnope"}, timeout=10)
    app_token = requests.get(
        url, params={**params, "grant_type": "client_credentials"}, timeout=10
    ).json()

    assert long.status_code == 200
    body = long.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"] != short
    assert 59 * 86400 <= body["expires_in"] <= 61 * 86400
    assert abs(debug(server, body["access_token"])["expires_at"] - time.time() - 60 * 86400) < 60
    assert oauth_error(bogus)["code"] == 190
    assert app_token == {"access_token": app["app_token"], "token_type": "bearer"}


# -- the user token's calls ------------------------------------------------------------------


def test_me_is_the_configured_user(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2)
    control = SandboxControl(server.url)
    control.oauth_user(user_id="10203040", name="Rita Admin")
    token = user_token(server)

    me = call(server, "me", token)
    only_id = call(server, "me", token, fields="id")
    unknown = call(server, "me", token, fields="id,birthday")

    assert me.json() == {"id": "10203040", "name": "Rita Admin"}
    assert only_id.json() == {"id": "10203040"}
    assert oauth_error(unknown)["message"].startswith("(#100) Tried accessing nonexisting field")
    assert call(server, "10203040/permissions", token).status_code == 200
    assert control.oauth_user()["id"] == "10203040"


def test_me_accounts_lists_the_granted_pages_with_tokens_tasks_and_pictures(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, pages=2)
    first, second = (p[0] for p in server.pages)
    server.sandbox.oauth_user(tasks={second: ["ANALYZE"]})
    token = user_token(server)

    body = call(server, "me/accounts", token, fields="id,name,access_token,tasks,picture").json()

    pages = {p[0]: p for p in server.pages}
    assert [a["id"] for a in body["data"]] == [first, second]
    for account in body["data"]:
        page_id, name, page_token = pages[account["id"]]
        assert account["name"] == name
        assert account["access_token"] == page_token
        picture = account["picture"]["data"]
        assert picture["url"] == f"{server.url}/_sandbox/picture/{page_id}.png"
        assert requests.get(picture["url"], timeout=10).status_code == 200
    assert "MESSAGING" in body["data"][0]["tasks"]
    assert "MANAGE" in body["data"][0]["tasks"]
    assert body["data"][1]["tasks"] == ["ANALYZE"]
    conversations = call(server, f"{first}/conversations", body["data"][0]["access_token"])
    assert conversations.status_code == 200
    assert conversations.json()["data"]
    default = call(server, "me/accounts", token).json()["data"][0]
    assert set(default) == {"access_token", "category", "name", "id", "tasks"}


def test_me_accounts_pages_with_cursors_like_the_other_lists(make_graph_sandbox):
    server = make_graph_sandbox(conversations=1, pages=3)
    token = user_token(server)

    seen = []
    response = call(server, "me/accounts", token, fields="id", limit=1)
    while True:
        body = response.json()
        assert response.status_code == 200, body
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        assert ("previous" in body["paging"]) == bool(seen)  # none on the first page
        seen.extend(a["id"] for a in body["data"])
        previous = body["paging"].get("previous")
        if "next" not in body["paging"]:
            break
        assert f"/{V}/me/accounts?" in body["paging"]["next"]
        response = requests.get(body["paging"]["next"], timeout=10)
    back = requests.get(previous, timeout=10).json()

    assert seen == [p[0] for p in server.pages]
    assert [a["id"] for a in back["data"]] == [server.pages[1][0]]
    bad_cursor = call(server, "me/accounts", token, after="QVFIbogus")
    assert oauth_error(bad_cursor)["code"] == 100


def test_me_accounts_is_empty_without_pages_show_list(make_graph_sandbox):
    server = make_graph_sandbox(conversations=1)
    token = user_token(server, scopes=["pages_messaging", "pages_manage_metadata"])

    assert call(server, "me/accounts", token).json() == {"data": []}


def test_me_accounts_with_a_page_token_is_an_error_as_on_graph(make_graph_sandbox):
    server = make_graph_sandbox(conversations=1)

    error = oauth_error(call(server, "me/accounts", server.access_token))

    assert error["code"] == 100
    assert (
        error["message"]
        == "(#100) Tried accessing nonexisting field (accounts) on node type (Page)"
    )


def test_a_new_login_gives_a_working_token_for_a_page_whose_token_expired(make_graph_sandbox):
    server = make_graph_sandbox(conversations=2, pages=2)
    old = server.access_token
    server.sandbox.expire_token(server.page_id)
    other_token = server.pages[1][2]

    accounts = call(server, "me/accounts", user_token(server)).json()["data"]

    new = accounts[0]["access_token"]
    assert new != old
    assert accounts[1]["access_token"] == other_token
    assert call(server, f"{server.page_id}/conversations", new).status_code == 200
    assert oauth_error(call(server, f"{server.page_id}/conversations", old))["code"] == 190
    assert debug(server, new)["is_valid"] is True


def test_an_expired_user_token_gets_190_463(make_graph_sandbox):
    server = make_graph_sandbox(conversations=1)
    token = user_token(server)
    tokens = server.sandbox.login.user_tokens
    tokens[token] = dataclasses.replace(tokens[token], expires_at=int(time.time()) - 1)

    error = oauth_error(call(server, "me/accounts", token))
    data = debug(server, token)

    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert data["is_valid"] is False
    assert data["error"]["subcode"] == 463


def test_user_token_calls_need_the_appsecret_proof_when_the_app_requires_it(make_graph_sandbox):
    server = make_graph_sandbox(conversations=1, app_secret="s3cret")
    token = user_token(server)

    missing = call(server, "me", token)
    proved = call(server, "me", token, appsecret_proof=appsecret_proof("s3cret", token))

    assert oauth_error(missing)["code"] == 100
    assert "appsecret_proof" in missing.text
    assert proved.status_code == 200


# -- debug_token of Login's tokens -------------------------------------------------------------


def test_debug_token_describes_a_user_token_and_the_page_tokens_it_gave(make_graph_sandbox):
    server = make_graph_sandbox(conversations=1, pages=2)
    first = server.page_id
    server.sandbox.oauth_user(user_id="777")
    granted = ["pages_show_list", "pages_messaging", "pages_manage_metadata"]
    token = user_token(server, asked=ASKED, scopes=granted, page_ids=[first])
    page_token = call(server, "me/accounts", token).json()["data"][0]["access_token"]

    user = debug(server, token)
    page = debug(server, page_token)
    asked_by_user = call(server, "debug_token", token, input_token=token)

    assert user["type"] == "USER"
    assert user["user_id"] == "777"
    assert user["is_valid"] is True
    assert user["app_id"] == app_of(server)["app_id"]
    assert user["scopes"] == [*granted, "public_profile"]  # pages_read_engagement declined
    assert 0 < user["expires_at"] - time.time() <= 5183944
    assert {"scope": "pages_messaging", "target_ids": [first]} in user["granular_scopes"]
    assert {"scope": "public_profile"} in user["granular_scopes"]
    assert page["type"] == "PAGE"
    assert page["profile_id"] == first
    assert page["user_id"] == "777"
    assert page["scopes"] == user["scopes"]
    assert page["expires_at"] == user["expires_at"]  # from a short-lived user token (§2.2)
    assert "app access token" in oauth_error(asked_by_user)["message"]


# -- the command line --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_management_command_prints_the_oauth_info():
    script = (
        "import django; from django.conf import settings;"
        "settings.configure(INSTALLED_APPS=['graph_sandbox']); django.setup();"
        "from django.core.management import call_command;"
        "call_command('graph_sandbox', port=0, conversations=2, seed=3)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        info = next(json.loads(line) for line in proc.stdout if line.startswith("{"))
        control = SandboxControl(info["url"])
        assert info["oauth"]["app_id"] == info["app"]["app_id"]
        assert info["oauth"]["user_id"] == control.oauth_user()["id"]
        assert info["oauth"]["dialog_url"] == f"{info['url']}/dialog/oauth"
        assert requests.get(info["oauth"]["dialog_url"], timeout=5).status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
