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
def raw_peer():
    """Starts real HTTP peers for what the sandbox cannot do (a body broken or trickling
    mid-way): `start(respond)` answers each connection with `respond(conn)` in a thread of
    its own and returns the peer's URL."""
    started: list[tuple[threading.Event, threading.Thread, socket.socket]] = []

    def start(respond) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.02)
        stop = threading.Event()

        def answer(conn: socket.socket) -> None:
            with conn:
                conn.settimeout(2)
                conn.recv(65536)
                try:
                    respond(conn, stop)
                except OSError:
                    return  # the client went away

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        started.append((stop, thread, listener))
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for stop, thread, listener in started:
        stop.set()
        thread.join(timeout=2)
        listener.close()


@pytest.fixture
def truncating_server(raw_peer):
    """A peer that promises 100 bytes of JSON, sends 7 and closes the connection (a
    connection reset mid-body); also returns the list of requests it answered."""
    hits: list[int] = []

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        hits.append(1)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"id": '
        )

    return raw_peer(respond), hits
