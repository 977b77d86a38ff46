"""Helpers for the tests of the real Graph's switches (graph_sandbox.real_graph): start a
sandbox with a switch set one of three ways, and follow paging links the way a client must."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlparse

import requests

from graph_sandbox import SandboxControl
from graph_sandbox.management.commands.graph_sandbox import Command, sandbox_options
from tests.graph_sandbox.sandbox_helpers import V, get

# flag: the command line (its options reach the Sandbox constructor); configure: the Python
# method at runtime; control: the control API over HTTP (SandboxControl.configure)
WAYS = ("flag", "configure", "control")


def parse_flags(argv: list[str]) -> dict[str, Any]:
    return vars(Command().create_parser("manage.py", "graph_sandbox").parse_args(argv))


def start(make: Any, way: str, options: dict[str, Any], argv: list[str], **kwargs: Any) -> Any:
    """A started sandbox with `options` set the `way` asked (`argv` are the same as flags)."""
    if way == "flag":
        return make(**kwargs, **sandbox_options(parse_flags(argv)))
    server = make(**kwargs)
    if way == "configure":
        server.sandbox.configure(**options)
    else:
        SandboxControl(server.url).configure(**options)
    return server


def follow(server: Any, link: str) -> requests.Response:
    """Follow a `paging.next` link by its query parameters, with our own token (never the
    link's: graph-api.md §3.4)."""
    url = urlparse(link)
    params = {k: v for k, v in parse_qsl(url.query) if k != "access_token"}
    path = url.path.split(f"/{V}/", 1)[1]
    return get(server, path, **params)


def link_params(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlparse(link).query))


def page_ids(server: Any, path: str, **params: Any) -> tuple[list[str], list[dict]]:
    """Every id of a list, following `next`; and every `paging` seen."""
    response = get(server, path, **params)
    ids: list[str] = []
    pagings: list[dict] = []
    while True:
        body = response.json()
        assert response.status_code == 200, body
        ids.extend(item["id"] for item in body["data"])
        pagings.append(body.get("paging", {}))
        if "next" not in pagings[-1]:
            return ids, pagings
        response = follow(server, pagings[-1]["next"])


def post_batch(server: Any, relative_urls: list[str]) -> list[dict[str, Any]]:
    items = [{"method": "GET", "relative_url": f"{V}/{url}"} for url in relative_urls]
    data = {"access_token": server.access_token, "batch": json.dumps(items)}
    response = requests.post(f"{server.url}/{V}/", data=data, timeout=10)
    assert response.status_code == 200, response.text
    return [{"code": i["code"], "body": json.loads(i["body"])} for i in response.json()]


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert "error" in body, body
    return {k: v for k, v in body["error"].items() if k != "fbtrace_id"}


def masked(text: str) -> str:
    """A body with its cursors (issued at a time) and port masked, to compare two sandboxes."""
    return re.sub(r"127\.0\.0\.1:\d+", "HOST", re.sub(r"QVFI[A-Za-z0-9_-]+", "CURSOR", text))


def truth_of(server: Any) -> dict[str, Any]:
    return server.sandbox.truth(server.page_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
