"""The WSGI application: HTTP parsing, versions, batch requests, headers and the control API.

API routes: ``/{vNN.N}/...`` (or no version: the default version), ``POST /{vNN.N}/`` for
batches. Control routes: ``/_sandbox/<method>`` (JSON in, JSON out), see :data:`CONTROL`.

Transport faults need the server's cooperation: ``drop_connection`` sets
``environ["graph_sandbox.drop"] = True`` and :class:`graph_sandbox.server.SandboxServer` then
closes the socket without writing anything.
"""

from __future__ import annotations

import hmac
import json
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from . import consent, errors, media
from .api import Request
from .odd_values import splice_raw
from .result import Result, appsecret_proof
from .sandbox import Sandbox

VERSION_RE = re.compile(r"^/(v\d+\.\d+)(/.*)?$")
OLDEST_VERSION = (21, 0)  # older versions are served by the oldest available one (§1)
MAX_BATCH = 50
JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=utf-8"
HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>Error</title></head><body>"
    "<h1>Sorry, something went wrong.</h1><p>We're working on getting this fixed as soon as "
    "we can.</p></body></html>"
)
STATUS_TEXT = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

# control routes: name -> (Sandbox method name, takes kwargs)
CONTROL = {
    "pages": "pages_info",
    "add_conversations": "add_conversations",
    "add_messages": "add_messages",
    "add_threads": "add_threads",  # threads of exact sizes: graph_sandbox/horizon.py
    "rename_participant": "rename_participant",
    "move_folder": "move_folder",
    "stats": "stats",
    "reset_stats": "reset_stats",
    "truth": "truth",
    "configure": "configure",
    "clear_faults": "clear_faults",
    "inject": "inject",
    "faults": "pending_faults",
    "expire_token": "expire_token",
    "set_token": "set_token",
    "set_usage": "set_usage",
    "app_credentials": "app_credentials",
    "set_token_info": "set_token_info",
    "configure_webhooks": "configure_webhooks",  # webhooks: graph_sandbox/webhook_controls.py
    "send_webhooks": "send_webhooks",
    "send_raw_webhook": "send_raw_webhook",
    "webhook_log": "webhook_log",
    "wait_for_webhooks": "wait_for_webhooks",
    "oauth_consent": "oauth_consent",
    "oauth_user": "oauth_user",
    "expire_oauth_codes": "expire_oauth_codes",
    "subscriptions": "subscriptions_info",
    "unsubscribe_app": "unsubscribe_app",
    "expire_media": "expire_media",  # attachment URLs: graph_sandbox/media.py
}


def dump_json(value: Any) -> str:
    # like Graph: ASCII only (non-ASCII as \\uXXXX) and "/" escaped as "\\/"; odd values that
    # json.dumps cannot write (1e400, deep nesting) are spliced in as raw JSON
    return splice_raw(json.dumps(value, separators=(",", ":")).replace("/", "\\/"))


Headers = list[tuple[str, str]]


class GraphApp:
    """WSGI callable serving one :class:`Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._latency_rng = random.Random(f"{sandbox.seed}:latency")

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        login_page = consent.serve(self.sandbox, path, method, environ)  # Facebook Login's pages
        if login_page is not None:
            status, headers, body = login_page
        elif path.startswith(media.ROUTE + "/") and method == "GET":  # attachment bytes
            query = environ.get("QUERY_STRING", "")
            status, headers, body = self.sandbox.media.serve(
                path[len(media.ROUTE) :], query, self.sandbox.config
            )
        elif path.startswith("/_sandbox/"):
            status, headers, body = self.control(path[len("/_sandbox/") :], method, environ)
        else:
            status, headers, body = self.api(path, method, environ)
        if status == 0:  # drop the connection
            environ["graph_sandbox.drop"] = True
            status, headers, body = 500, [], b""
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {STATUS_TEXT.get(status, 'Status')}", headers)
        return [body]

    # -- API --------------------------------------------------------------------------------

    def _params(self, environ: dict[str, Any]) -> dict[str, str]:
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            raw = environ["wsgi.input"].read(length).decode("utf-8", "replace")
            if "json" in (environ.get("CONTENT_TYPE") or ""):
                try:
                    data = json.loads(raw)
                    params.update(
                        {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
                    )
                except (ValueError, AttributeError):
                    pass
            else:
                params.update(parse_qsl(raw, keep_blank_values=True))
        return params

    @staticmethod
    def _token(params: dict[str, str], environ: dict[str, Any]) -> str | None:
        if params.get("access_token"):
            return params["access_token"]
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
        return None

    def served_version(self, version: str | None) -> str:
        if version is None:
            return self.sandbox.default_version
        major, minor = (int(x) for x in version[1:].split("."))
        if (major, minor) < OLDEST_VERSION:
            return f"v{OLDEST_VERSION[0]}.{OLDEST_VERSION[1]}"
        return version

    def _headers(self, result: Result, version: str | None, content_type: str) -> Headers:
        return [
            ("Content-Type", content_type),
            ("facebook-api-version", self.served_version(version)),
            ("x-fb-trace-id", result.trace_id),
            ("x-fb-rev", "1023456789"),
            ("X-Business-Use-Case-Usage", json.dumps(result.usage or {})),
            ("Cache-Control", "private, no-cache, no-store, must-revalidate"),
            ("Access-Control-Allow-Origin", "*"),
        ]

    def _sleep(self) -> None:
        cfg = self.sandbox.config
        delay = cfg.latency_ms
        if cfg.latency_jitter_ms:
            delay += self._latency_rng.uniform(0, cfg.latency_jitter_ms)
        if delay > 0:
            time.sleep(delay / 1000)

    def api(self, path: str, method: str, environ: dict[str, Any]) -> tuple[int, Headers, bytes]:
        self._sleep()
        version = None
        match = VERSION_RE.match(path)
        if match:
            version, path = match.group(1), match.group(2) or "/"
        params = self._params(environ)
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        )
        base_url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        token = self._token(params, environ)
        if method == "POST" and path.strip("/") == "":
            return self.batch(params, token, version, base_url)
        req = Request(method, path, version, params, base_url, token)
        result = self.sandbox.execute(req)
        return self.render(result, version)

    def render(self, result: Result, version: str | None) -> tuple[int, Headers, bytes]:
        transport = result.transport
        if transport == "drop_connection":
            return 0, [], b""
        if transport in ("server_error_html", "server_error_html_503", "html_200"):
            status = {"server_error_html": 502, "server_error_html_503": 503}.get(transport, 200)
            return status, self._headers(result, version, HTML_TYPE), HTML_ERROR.encode()
        body = dump_json(result.body).encode()
        if transport == "invalid_json":
            body = body[: max(1, len(body) // 2)]
        return result.status, self._headers(result, version, JSON_TYPE), body

    def batch(
        self, params: dict[str, str], token: str | None, version: str | None, base_url: str
    ) -> tuple[int, Headers, bytes]:
        sandbox = self.sandbox
        envelope = Result()
        try:
            secret = sandbox.config.app_secret
            if token and secret:
                # the proof is checked once, for the top-level token (§2.4)
                proof = params.get("appsecret_proof")
                if not proof:
                    raise errors.invalid_proof(missing=True)
                if not hmac.compare_digest(proof, appsecret_proof(secret, token)):
                    raise errors.invalid_proof(missing=False)
            try:
                items = json.loads(params.get("batch", ""))
            except ValueError:
                raise errors.invalid_param("The parameter batch must be a JSON array") from None
            if not isinstance(items, list) or not items:
                raise errors.invalid_param("The parameter batch must be a non-empty JSON array")
            if len(items) > MAX_BATCH:
                raise errors.invalid_param(
                    f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
                )
        except errors.GraphError as exc:
            envelope.status, envelope.body = exc.status, exc.body(envelope.trace_id)
            envelope.usage = sandbox.batch_usage(token)
            sandbox.record_batch(token)
            return self.render(envelope, version)
        sandbox.record_batch(token)
        include_headers = params.get("include_headers", "true").lower() != "false"
        out: list[Any] = []
        for item in items:
            out.append(self._batch_item(item, token, version, base_url, include_headers))
        envelope.body = out
        envelope.usage = sandbox.batch_usage(token)
        return self.render(envelope, version)

    def _batch_item(
        self, item: Any, token: str | None, version: str | None, base_url: str, headers: bool
    ) -> dict[str, Any] | None:
        if not isinstance(item, dict) or not isinstance(item.get("relative_url"), str):
            exc = errors.invalid_param("Each batch item needs a relative_url")
            result = Result(status=400)
            result.body = exc.body(result.trace_id)
            item_version = version
        else:
            rel = "/" + item["relative_url"].lstrip("/")
            path, _, query = rel.partition("?")
            item_version = None
            match = VERSION_RE.match(path)
            if match:
                item_version, path = match.group(1), match.group(2) or "/"
            params = dict(parse_qsl(query, keep_blank_values=True))
            if isinstance(item.get("body"), str):
                params.update(parse_qsl(item["body"], keep_blank_values=True))
            item_token = item.get("access_token") or params.get("access_token") or token
            req = Request(
                str(item.get("method", "GET")).upper(),
                path,
                item_version,
                params,
                base_url,
                item_token,
            )
            result = self.sandbox.execute(req, in_batch=True, check_proof=item_token != token)
        if result.null:
            return None
        entry: dict[str, Any] = {"code": result.status}
        if headers:
            entry["headers"] = [
                {"name": k, "value": v} for k, v in self._headers(result, item_version, JSON_TYPE)
            ]
        entry["body"] = dump_json(result.body)
        return entry

    # -- control ----------------------------------------------------------------------------

    def control(
        self, name: str, method: str, environ: dict[str, Any]
    ) -> tuple[int, Headers, bytes]:
        headers: Headers = [("Content-Type", "application/json")]
        target = CONTROL.get(name.strip("/"))
        if target is None:
            body = {"error": f"unknown control route {name!r}", "routes": sorted(CONTROL)}
            return 404, headers, json.dumps(body).encode()
        kwargs: dict[str, Any] = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            try:
                data = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except ValueError:
                return 400, headers, json.dumps({"error": "body must be JSON"}).encode()
            if not isinstance(data, dict):
                return 400, headers, json.dumps({"error": "body must be a JSON object"}).encode()
            kwargs.update(data)
        try:
            value = getattr(self.sandbox, target)(**kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            return 400, headers, json.dumps({"error": str(exc)}).encode()
        return 200, headers, json.dumps({"result": value}, ensure_ascii=False).encode()
