"""One download against a real HTTP server that sends no Content-Length (chunked, as a CDN
may): the size cap is enforced while the bytes stream in, so a huge file is cut off early,
never read whole; and errors never quote the URL."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from graph_sandbox.media import file_bytes
from media.download import Failed, Refused, fetch
from media.models import StoredFile
from tests.media.media_helpers import files_in

pytestmark = pytest.mark.django_db
HUGE = 200 * 1024 * 1024
CHUNK = 64 * 1024


class Streamer(BaseHTTPRequestHandler):
    sent = 0
    body = file_bytes("jpg", "/v/t1.15752-9/1_n.jpg")

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.send_response(int(path[-3:]) if "status-" in path else 200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        total = HUGE if "huge" in self.path else len(self.body)
        data = self.body + b"\0" * CHUNK
        try:
            while type(self).sent < total:
                piece = data[: min(CHUNK, total - type(self).sent)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                type(self).sent += len(piece)
                data = b"\0" * CHUNK
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def streamer():
    Streamer.sent = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Streamer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_cap_stops_a_stream_without_a_length_early(streamer, settings, media_root):
    settings.MEDIA_MAX_BYTES = 1024 * 1024
    with requests.Session() as session, pytest.raises(Refused, match="larger than the 1.0"):
        fetch(f"{streamer}/huge.jpg?oh=secret&oe=ffffffff", "image", "image/jpeg", session)
    assert Streamer.sent < 32 * 1024 * 1024  # cut off long before the 200 MB were sent
    assert StoredFile.objects.count() == 0
    assert files_in(media_root) == []


def test_a_small_stream_without_a_length_is_kept(streamer, media_root):
    with requests.Session() as session:
        stored = fetch(f"{streamer}/small.jpg", "image", "image/jpeg", session)
    assert (stored.content_type, stored.size) == ("image/jpeg", len(Streamer.body))
    assert len(files_in(media_root)) == 1


def test_errors_never_quote_the_url(streamer):
    url = f"{streamer}/status-503?oh=SIGNATURE&oe=ffffffff"
    with requests.Session() as session:
        with pytest.raises(Failed) as failure:
            fetch(url, "image", "image/jpeg", session)
        assert str(failure.value) == "the server answered HTTP 503"
        with pytest.raises(Failed) as failure:
            fetch("http://127.0.0.1:9/x.jpg?oh=SIGNATURE", "image", "image/jpeg", session)
    assert str(failure.value) == "the download failed (ConnectionError)"
