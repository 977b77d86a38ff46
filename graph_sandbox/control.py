"""HTTP client for the sandbox control API (``/_sandbox/...``), usable from another process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class SandboxControlError(RuntimeError):
    pass


class SandboxControl:
    """Mirror of the :class:`graph_sandbox.Sandbox` control methods over HTTP.

    ``SandboxControl("http://127.0.0.1:8765").add_messages(page_id, n_conversations=3)``
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def call(self, route: str, **kwargs: Any) -> Any:
        data = json.dumps(kwargs).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{route}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise SandboxControlError(f"{route}: HTTP {exc.code}: {detail}") from None

    def pages(self) -> list[dict[str, str]]:
        return self.call("pages")

    def add_conversations(
        self, page_id: str, n: int, folder: str = "inbox", messages: int | None = None
    ) -> list[str]:
        return self.call(
            "add_conversations", page_id=page_id, n=n, folder=folder, messages=messages
        )

    def add_messages(
        self,
        page_id: str,
        conversation_ids: list[str] | None = None,
        n_conversations: int | None = None,
        per_conversation: int = 1,
    ) -> list[str]:
        return self.call(
            "add_messages",
            page_id=page_id,
            conversation_ids=conversation_ids,
            n_conversations=n_conversations,
            per_conversation=per_conversation,
        )

    def add_threads(
        self,
        page_id: str,
        sizes: list[int],
        folder: str = "inbox",
        span_days: float | None = None,
    ) -> list[str]:
        """One new conversation per size with exactly that many messages, the first newest;
        ``span_days`` spreads each thread's messages evenly over that many days up to now."""
        return self.call(
            "add_threads", page_id=page_id, sizes=sizes, folder=folder, span_days=span_days
        )

    def rename_participant(
        self,
        page_id: str,
        conversation_ids: list[str] | None = None,
        n: int | None = None,
        name: str | None = None,
    ) -> list[tuple[str, str]]:
        pairs = self.call(
            "rename_participant",
            page_id=page_id,
            conversation_ids=conversation_ids,
            n=n,
            name=name,
        )
        return [tuple(p) for p in pairs]

    def move_folder(self, page_id: str, conversation_id: str, folder: str) -> None:
        self.call("move_folder", page_id=page_id, conversation_id=conversation_id, folder=folder)

    def stats(self, page_id: str | None = None) -> dict[str, Any]:
        return self.call("stats", page_id=page_id)

    def reset_stats(self) -> None:
        self.call("reset_stats")

    def truth(self, page_id: str | None = None) -> dict[str, Any]:
        return self.call("truth", page_id=page_id)

    def configure(self, **fault_options: Any) -> dict[str, Any]:
        """Runtime options, the real Graph's switches included, e.g.
        ``configure(refused_folders=["spam"], cursorless_messages=True)``."""
        return self.call("configure", **fault_options)

    def clear_faults(self) -> None:
        self.call("clear_faults")

    def inject(
        self,
        kind: str,
        count: int | None = 1,
        after_calls: int = 0,
        endpoint: str = "any",
        **params: Any,
    ) -> dict[str, Any]:
        return self.call(
            "inject", kind=kind, count=count, after_calls=after_calls, endpoint=endpoint, **params
        )

    def faults(self) -> list[dict[str, Any]]:
        return self.call("faults")

    def expire_token(self, page_id: str) -> None:
        self.call("expire_token", page_id=page_id)

    def set_token(self, page_id: str, token: str) -> None:
        self.call("set_token", page_id=page_id, token=token)

    def set_usage(
        self,
        page_id: str,
        call_count: int | None = None,
        total_cputime: int | None = None,
        total_time: int | None = None,
        estimated_minutes: int | None = None,
    ) -> None:
        self.call(
            "set_usage",
            page_id=page_id,
            call_count=call_count,
            total_cputime=total_cputime,
            total_time=total_time,
            estimated_minutes=estimated_minutes,
        )

    def app_credentials(self) -> dict[str, str]:
        """``{"app_id", "app_secret", "app_token"}`` of the sandbox's app (for debug_token)."""
        return self.call("app_credentials")

    def set_token_info(self, page_id: str, **info: Any) -> dict[str, Any]:
        """What the Page's current token is for ``debug_token``: ``type``, ``expires_at``,
        ``expired``, ``scopes``, ``missing_scopes``, ``profile_id`` (see the README)."""
        return self.call("set_token_info", page_id=page_id, **info)

    # -- webhooks (graph_sandbox/webhook_controls.py) ---------------------------------------

    def configure_webhooks(self, url: str | None, **options: Any) -> dict[str, Any]:
        """Where and how webhooks are posted: ``duplicate_rate``, ``shuffle``,
        ``max_events_per_delivery``, ``items_per_entry``, ``standby``, ``retries``,
        ``retry_delay_seconds``, ``concurrency``, ``timeout_seconds`` (each call sets all)."""
        return self.call("configure_webhooks", url=url, **options)

    def send_webhooks(self, page_id: str, kind: str = "message", n: int = 1, **options: Any):
        """Create ``n`` events of ``kind`` and post them (see the README)."""
        return self.call("send_webhooks", page_id=page_id, kind=kind, n=n, **options)

    def send_raw_webhook(self, body: Any, sign: bool = True, signature: str | None = None) -> int:
        return self.call("send_raw_webhook", body=body, sign=sign, signature=signature)

    def webhook_log(self, since: int = 0) -> list[dict[str, Any]]:
        return self.call("webhook_log", since=since)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until nothing is in flight; ``timeout`` must stay under this client's."""
        return self.call("wait_for_webhooks", timeout=timeout)

    # -- Facebook Login and subscribed_apps (graph_sandbox/oauth.py, subscriptions.py) --------

    def oauth_consent(
        self,
        client_id: str,
        redirect_uri: str,
        state: str | None = None,
        scopes: list[str] | None = None,
        page_ids: list[str] | None = None,
        approve: bool = True,
        **dialog: Any,
    ) -> str:
        """The Login dialog without its HTML → the redirect URL (``?code=…&state=…`` or
        Meta's ``error=access_denied`` parameters); ``dialog``: ``asked``, ``config_id``."""
        return self.call(
            "oauth_consent",
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            scopes=scopes,
            page_ids=page_ids,
            approve=approve,
            **dialog,
        )

    def oauth_user(
        self,
        user_id: str | None = None,
        name: str | None = None,
        tasks: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Configure (or, with no arguments, read) the sandbox's Facebook user."""
        return self.call("oauth_user", user_id=user_id, name=name, tasks=tasks)

    def expire_oauth_codes(self) -> int:
        return self.call("expire_oauth_codes")

    def subscriptions(self) -> dict[str, list[str]]:
        """Page id → subscribed webhook fields (subscribed Pages only)."""
        return self.call("subscriptions")

    def unsubscribe_app(self, page_id: str) -> bool:
        return self.call("unsubscribe_app", page_id=page_id)

    def expire_media(self) -> int:
        """Every attachment URL handed out so far answers 403 "URL signature expired"."""
        return self.call("expire_media")
