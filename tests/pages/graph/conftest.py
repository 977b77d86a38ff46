"""Fixtures of the Graph client tests (test_client*.py): the sandbox they call, and a peer that
breaks a response mid-body. Never imported; helpers are in client_helpers.py."""

from __future__ import annotations

import socket
import threading

import pytest


@pytest.fixture
def server(make_graph_sandbox):
    return make_graph_sandbox(conversations=3, seed=1)


@pytest.fixture
def truncating_server():
    """A real HTTP peer that promises 100 bytes of JSON, sends 7 and closes the connection
    (a connection reset mid-body; the sandbox has no fault for it)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.02)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                conn.recv(65536)
                hits.append(1)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100\r\n\r\n{"id": '
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", hits
    stop.set()
    thread.join(timeout=2)
    listener.close()
