"""Connecting the Pages picked after Facebook Login (pages/facebook_login.py).

Each picked Page is connected with its long-lived Page token through
pages.connect.connect_page (debug_token, stored encrypted, with the app-scoped id of the person
who logged in), then subscribed to webhooks (pages.graph.subscriptions, what Graph reads back is
stored) and, when asked, given a first sync. Each Page succeeds or fails on its own, and a
subscription that fails never undoes the connection: the Page still syncs on demand and on the
schedule, only not within a second.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from pages import crypto
from pages.connect import Connected, ConnectError, connect_page
from pages.facebook_login import (
    MAX_INLINE_PAUSE_SECONDS,
    PICKER_GONE,
    LoginError,
    PageChoice,
    drop_picker,
    saved_picker,
)
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError
from pages.graph.subscriptions import missing_fields, subscribe
from pages.models import FacebookPage, SyncRun
from pages.sync.runs import SyncAlreadyRunning
from pages.tasks import PageCannotSync, queue_sync


class NothingChosen(LoginError):
    """The picker was sent with no Page ticked: it is shown again."""


@dataclass(frozen=True)
class PageResult:
    """What became of one picked Page."""

    name: str
    connected: Connected | None = None
    refusal: str = ""  # why it was not connected ("" when it was)
    webhook_problem: str = ""  # why its webhooks are not (all) subscribed ("" when they are)
    sync_queued: bool = False
    sync_problem: str = ""  # why no first sync was queued although one was asked for


def connect_chosen(
    session: MutableMapping[str, Any], chosen_ids: Iterable[str], *, first_sync: bool
) -> list[PageResult]:
    """Connect the Pages of the session's picker whose ids were ticked; the picker (and the
    Page tokens in it) is dropped from the session once used."""
    picker = saved_picker(session)
    if picker is None:
        raise LoginError(PICKER_GONE)
    offered = {page.facebook_id: page for page in picker.pages}
    chosen = [offered[page_id] for page_id in dict.fromkeys(chosen_ids) if page_id in offered]
    if not chosen:
        raise NothingChosen("Tick at least one Page to connect.")
    drop_picker(session)
    return [connect_one(page, picker.user_id, first_sync=first_sync) for page in chosen]


@sensitive_variables("token")
def connect_one(choice: PageChoice, user_id: str, *, first_sync: bool) -> PageResult:
    if choice.unavailable_reason:
        return PageResult(choice.name, refusal=f"{choice.unavailable_reason}.")
    try:
        token = crypto.decrypt(choice.sealed_token)
        connected = connect_page(choice.facebook_id, token, facebook_user_id=user_id)
    except (ConnectError, crypto.TokenDecryptionError) as exc:
        return PageResult(choice.name, refusal=str(exc))
    page = connected.page
    webhook_problem = subscribe_webhooks(page)
    sync_problem = queue_first_sync(page) if first_sync else ""
    return PageResult(
        str(page),
        connected=connected,
        webhook_problem=webhook_problem,
        sync_queued=first_sync and not sync_problem,
        sync_problem=sync_problem,
    )


def subscribe_webhooks(page: FacebookPage) -> str:
    """Subscribe the app to the Page's message webhooks and store the fields Graph reads back;
    what went wrong ("" when every field is subscribed)."""
    client = GraphClient.for_page(page, max_inline_pause=MAX_INLINE_PAUSE_SECONDS)
    try:
        fields = subscribe(client, page.facebook_id)
    except GraphError as exc:
        return (
            f"Its webhooks could not be subscribed ({exc}), so new messages arrive with each "
            "sync rather than within a second. Connect it with Facebook again to retry."
        )
    finally:
        client.session.close()
    page.record_webhook_fields(fields, checked_at=timezone.now())
    missing = missing_fields(fields)
    if missing:
        return (
            f"Facebook did not subscribe its webhooks for {', '.join(missing)}: those events "
            "arrive with each sync rather than within a second."
        )
    return ""


def queue_first_sync(page: FacebookPage) -> str:
    """Queue the Page's first sync; why not ("" when queued)."""
    try:
        queue_sync(page, trigger=SyncRun.Trigger.LOGIN)
    except SyncAlreadyRunning:
        return "A sync of it is already running."
    except PageCannotSync as exc:
        return str(exc)
    return ""
