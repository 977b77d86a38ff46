"""pytest fixtures: register with ``pytest_plugins = ["graph_sandbox.pytest_plugin"]``.

* ``make_graph_sandbox(conversations=60, seed=1, pages=1, **options)`` — factory returning a
  started :class:`graph_sandbox.SandboxServer` (``.url``, ``.sandbox``, ``.page_id``,
  ``.access_token``, ``.pages``); every server is stopped at teardown.
* ``graph_sandbox`` — the factory called with its defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .sandbox import Sandbox
from .server import SandboxServer


@pytest.fixture
def make_graph_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    servers: list[SandboxServer] = []

    def make(
        conversations: int = 60, seed: int = 1, pages: int = 1, **options: Any
    ) -> SandboxServer:
        server = SandboxServer(Sandbox(conversations, seed, pages, **options)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def graph_sandbox(make_graph_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_graph_sandbox()
