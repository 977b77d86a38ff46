"""A Page's webhook subscription to this app (graph-api.md §8.1, §8.4).

`GET /{page}/subscribed_apps` lists the apps subscribed to the Page, each with `id` and
`subscribed_fields`; `POST /{page}/subscribed_apps?subscribed_fields=a,b` subscribes this app
(the Page token names the app) and answers `{"success": true}`. Meta silently unsubscribes an
app whose deliveries keep failing, so what counts is what Graph reads back, never what we asked.

Field names as Meta spells them on the Messenger webhooks page; the spelling differs between
Meta's pages (`message_reactions`/`messaging_reactions`), which is one more reason to read back.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from pages.graph.client import GraphClient

WEBHOOK_FIELDS = (
    "messages",
    "message_echoes",
    "message_reads",
    "message_deliveries",
    "messaging_postbacks",
    "message_reactions",
)


def subscribed_fields(client: GraphClient, page_facebook_id: str) -> list[str]:
    """The fields this app is subscribed to for the Page ([] when it is not subscribed).

    With FACEBOOK_APP_ID set, only this app's entry counts (a Page often has several apps,
    Business Suite's inbox among them); without it, the Page token can only belong to this
    app, so the fields of every listed app are taken together."""
    answer = client.get(f"{page_facebook_id}/subscribed_apps", {})
    apps = answer.get("data")
    if not isinstance(apps, list):
        return []
    app_id = str(settings.FACEBOOK_APP_ID or "")
    fields: list[str] = []
    for app in apps:
        if not isinstance(app, dict) or (app_id and str(app.get("id", "")) != app_id):
            continue
        fields.extend(_field_names(app.get("subscribed_fields")))
    return sorted(set(fields))


def subscribe(
    client: GraphClient, page_facebook_id: str, fields: tuple[str, ...] | list[str] = WEBHOOK_FIELDS
) -> list[str]:
    """Subscribe this app to the Page's `fields` and return what Graph then reads back.
    Subscribing again is harmless (Meta replaces the app's field list), so a retry is safe."""
    client.post(f"{page_facebook_id}/subscribed_apps", {"subscribed_fields": ",".join(fields)})
    return subscribed_fields(client, page_facebook_id)


def missing_fields(subscribed: list[str], wanted: tuple[str, ...] = WEBHOOK_FIELDS) -> list[str]:
    return [name for name in wanted if name not in subscribed]


def _field_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [name for name in value if isinstance(name, str) and name]
