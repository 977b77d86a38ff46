"""Helpers shared by the Graph client tests (test_client*.py): a client on the sandbox's first
Page with fake time, and what the sandbox saw. The fixtures live in conftest.py."""

from __future__ import annotations

import socket

from pages.graph.client import GraphClient
from tests.helpers import FakeTime

VERSION = "v26.0"
BUC = "X-Business-Use-Case-Usage"


def make_client(server, fake: FakeTime, **options) -> GraphClient:
    page_id, _, token = server.pages[0]
    options.setdefault("calls_per_second", 0)
    return GraphClient(
        token,
        base_url=server.url,
        version=VERSION,
        page_id=page_id,
        sleep=fake.sleep,
        clock=fake.clock,
        **options,
    )


def page_of(server) -> dict:
    page_id, name, _ = server.pages[0]
    return {"id": page_id, "name": name}


def api_calls(server) -> int:
    return server.sandbox.stats()["total"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
