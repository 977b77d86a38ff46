"""Small HTTP helpers shared by the sandbox tests."""

from __future__ import annotations

import json
from typing import Any

import requests

V = "v26.0"
LIGHT = "id,updated_time,message_count,unread_count,participants,snippet,can_reply"


def get(server: Any, path: str, session: Any = None, **params: Any) -> requests.Response:
    params.setdefault("access_token", server.access_token)
    params = {k: v for k, v in params.items() if v is not None}
    url = f"{server.url}/{V}/{path.lstrip('/')}"
    return (session or requests).get(url, params=params, timeout=10)


def usage(response: requests.Response) -> dict[str, Any]:
    return json.loads(response.headers["X-Business-Use-Case-Usage"])


def walk(server: Any, folder: str = "inbox", limit: int = 10, **params: Any) -> list[dict]:
    """Follow `paging.next` until it disappears; return every item."""
    items: list[dict] = []
    r = get(
        server,
        f"{server.page_id}/conversations",
        platform="messenger",
        folder=folder,
        limit=limit,
        **params,
    )
    while True:
        body = r.json()
        assert r.status_code == 200, body
        items.extend(body["data"])
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            return items
        r = requests.get(nxt, timeout=10)


def truth_ids(server: Any, folder: str) -> list[str]:
    truth = server.sandbox.truth(server.page_id)
    return [c["id"] for c in truth["conversations"] if c["folder"] == folder]
