"""A threaded HTTP/1.1 (keep-alive) server for the sandbox's WSGI app.

A tiny WSGI gateway on ``http.server`` rather than ``wsgiref`` because the sandbox needs
keep-alive (``requests.Session`` reuses connections) and the ``drop_connection`` fault (close the
socket without an answer).
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .app import GraphApp
from .sandbox import Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graph-sandbox"

    def version_string(self) -> str:
        return "graph-sandbox"

    timeout = 60  # idle keep-alive connections end after this many seconds
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        app: GraphApp = self.server.app  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(url.path),
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            name = "HTTP_" + key.upper().replace("-", "_")
            if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[name] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(app(environ, start_response))
        if environ.get("graph_sandbox.drop"):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        code, _, reason = captured["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in captured["headers"]:
            self.send_header(name, value)
        self.send_header("Connection", "close" if self.close_connection else "keep-alive")
        # headers and body in one write
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(chunks)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class SandboxServer:
    """Serve a :class:`Sandbox` over HTTP on ``host:port`` (``port=0``: a free port).

    ``url`` has no version in it (``http://127.0.0.1:54321``); clients add ``/v26.0/...``.
    Usable as a context manager (started on enter, stopped on exit).
    """

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.app = GraphApp(sandbox)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = self.app  # type: ignore[attr-defined]
        sandbox.media.base_url = self.url  # webhooks' attachment URLs (reads use their Host)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def page_id(self) -> str:
        return self.sandbox.page_id

    @property
    def access_token(self) -> str:
        return self.sandbox.access_token

    @property
    def pages(self) -> list[tuple[str, str, str]]:
        return self.sandbox.pages

    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.01},
                name="graph-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the management command)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.sandbox.stop_webhooks()  # no delivery thread outlives the server
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
