"""One Graph call has a total deadline: a response that trickles in (each read well within
the read timeout) cannot hold a run forever."""

import socket
import threading
import time

import pytest

from pages.graph.client import GraphClient
from pages.graph.errors import TransientGraphError
from tests.helpers import FakeTime


@pytest.fixture
def trickling_server(raw_peer):
    """Answers with its headers at once, then one body byte every 0.1 s."""

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        body = b'{"id": "1", "name": "' + b"x" * 200 + b'"}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for byte in body:
            if stop.wait(0.1):
                return
            conn.sendall(bytes([byte]))

    return raw_peer(respond)


def test_a_trickling_response_is_cut_at_the_call_deadline(trickling_server):
    fake = FakeTime()
    client = GraphClient(
        "EAAB-token",
        base_url=trickling_server,
        version="v26.0",
        calls_per_second=0,
        timeout=0.5,  # every single read arrives well within it
        deadline=0.6,
        max_attempts=1,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    started = time.monotonic()

    with pytest.raises(TransientGraphError, match="took more than 1 s to answer"):
        client.get("1", {"fields": "id,name"})

    assert time.monotonic() - started < 2.0  # the whole body would take 22 s
