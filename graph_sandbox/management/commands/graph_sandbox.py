"""``manage.py graph_sandbox``: serve a seeded fake Graph API until Ctrl-C / SIGTERM.

The last line printed is JSON (``{"url": ..., "pages": [{"id", "name", "access_token"}], "app":
{"app_id", "app_secret", "app_token"}, "oauth": {"app_id", "user_id", "user_name",
"dialog_url"}}``) so scripts can read the URL and the fake tokens.
"""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from graph_sandbox.real_graph import WEIGHT_MAX_LIMIT
from graph_sandbox.sandbox import Sandbox
from graph_sandbox.server import SandboxServer
from graph_sandbox.webhook_controls import add_webhook_arguments, webhook_options

# options whose command-line value is the Sandbox option as it is (None/False: not given)
REAL_GRAPH_FLAGS = (
    "omit_empty_edges",
    "refused_folders",
    "ignored_folders",
    "cursorless_messages",
    "cursorless_conversations",
    "removed_fields",
    "weight_budget",
    "weight_max_limit",
    "batch_item_rate_limit",
    "history_horizon_days",
    "history_horizon_messages",
)


def sandbox_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The Sandbox keyword arguments the parsed command line asks for."""
    options = {
        "latency_ms": opts["latency_ms"],
        "latency_jitter_ms": opts["latency_jitter_ms"],
        "rate_limit_per_second": opts["rate_limit"],
        "transient_error_rate": opts["transient_error_rate"],
        "cursor_ttl_seconds": opts["cursor_ttl_seconds"],
        "app_secret": opts["app_secret"],
        "odd_values": opts["odd_values"],
    }
    for name in REAL_GRAPH_FLAGS:
        if opts.get(name) not in (None, False):
            options[name] = opts[name]
    return options


class Command(BaseCommand):
    help = "Serve a seeded fake of the Facebook Graph API (Messenger conversations)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--conversations", type=int, default=200, help="per page")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--pages", type=int, default=1)
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--latency-jitter-ms", type=float, default=0.0)
        parser.add_argument("--rate-limit", type=float, default=None, help="calls/s per page")
        parser.add_argument("--transient-error-rate", type=float, default=0.0)
        parser.add_argument("--cursor-ttl-seconds", type=float, default=None)
        parser.add_argument("--app-secret", default=None, help="require appsecret_proof")
        parser.add_argument(
            "--odd-values",
            nargs="?",
            const=True,
            default=False,
            metavar="KIND,KIND",
            help="serve odd values in some conversations (all kinds, or those listed; "
            "see graph_sandbox/README.md)",
        )
        real = parser.add_argument_group("the real Graph's behaviours (graph_sandbox/README.md)")
        real.add_argument(
            "--omit-empty-edges", action="store_true", help="leave expanded empty edges out"
        )
        real.add_argument(
            "--refused-folders", default=None, metavar="F,F", help="folders answered with #100"
        )
        real.add_argument(
            "--ignored-folders", default=None, metavar="F,F", help="folders that list the inbox"
        )
        real.add_argument(
            "--cursorless-messages",
            action="store_true",
            help="messages page by next (until, __paging_token) only",
        )
        real.add_argument(
            "--cursorless-conversations",
            action="store_true",
            help="conversation lists page by next (until, __paging_token) only",
        )
        real.add_argument(
            "--removed-fields",
            default=None,
            metavar="NAME,Node.NAME",
            help='fields answered with "(#100) Tried accessing nonexisting field"',
        )
        real.add_argument(
            "--weight-budget",
            type=int,
            default=None,
            help="code 1 above this many conversations + messages in one call",
        )
        real.add_argument(
            "--weight-max-limit",
            type=int,
            default=None,
            help=f"largest limit with --weight-budget (default {WEIGHT_MAX_LIMIT})",
        )
        real.add_argument(
            "--batch-item-rate-limit",
            type=float,
            default=None,
            help="batch items over this many calls/s per page answer 613",
        )
        real.add_argument(
            "--history-horizon-days",
            type=float,
            default=None,
            help="messages older than now - N days are never returned (message_count counts them)",
        )
        real.add_argument(
            "--history-horizon-messages",
            type=int,
            default=None,
            help="only the newest N messages of each thread are returned",
        )
        add_webhook_arguments(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        sandbox = Sandbox(
            opts["conversations"], opts["seed"], opts["pages"], **sandbox_options(opts)
        )
        webhooks = webhook_options(opts)
        if webhooks is not None:  # Messenger webhooks to the app (graph_sandbox/README.md)
            sandbox.configure_webhooks(**webhooks)
            self.stdout.write(f"webhooks posted to {webhooks['url']}")
        server = SandboxServer(sandbox, opts["host"], opts["port"]).start()
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        out = self.stdout
        out.write(f"Graph sandbox serving at {server.url} (append /v26.0/...)")
        out.write(f"control API: {server.url}/_sandbox/<route>")
        for page_id, name, token in sandbox.pages:
            out.write(f"page {page_id} {name!r} token {token}")
        app = sandbox.app_credentials()
        out.write(f"app {app['app_id']} secret {app['app_secret']} (debug_token)")
        user = sandbox.oauth_user()
        oauth = {"app_id": app["app_id"], "user_id": user["id"], "user_name": user["name"]}
        oauth["dialog_url"] = f"{server.url}/dialog/oauth"  # FACEBOOK_DIALOG_URL
        out.write(f"Facebook Login: {oauth['dialog_url']} as user {user['id']}")
        info = {"url": server.url, "pages": sandbox.pages_info(), "app": app, "oauth": oauth}
        out.write(json.dumps(info, ensure_ascii=False))
        out.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
            out.write("Graph sandbox stopped.")
