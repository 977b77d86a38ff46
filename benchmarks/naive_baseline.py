"""The naive baseline: how the old system synced (old-system.md), for comparison only.

    DATABASE_URL=sqlite:////tmp/x/db.sqlite3 FACEBOOK_GRAPH_URL=http://127.0.0.1:PORT \
        .venv/bin/python benchmarks/naive_baseline.py PAGE_ID [--limit N]

The page must be connected already (`manage.py connect_page`). What it does, on purpose:
- list conversation ids with light fields (`id,updated_time`, 100 per call, folder by folder);
- fetch EACH conversation with its own request
  (`GET /{conversation-id}?fields=...,messages.limit(25){...}`) using plain `requests`;
- write row by row in autocommit mode: one `create()`/`save()` per contact, conversation,
  message and interaction event, each checked first with its own SELECT (no bulk, no upsert,
  no transaction around a conversation, no checkpoint).
It keeps to `FACEBOOK_CALLS_PER_SECOND` with a plain sleep between calls (the old system's
"graceful rate-limit handling"), and on a throttling error it waits and retries.

Parsing reuses `conversations.parsing.parse_conversation`, so both syncs store the same data and
the comparison is about fetching and writing only. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fbsync.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from conversations.models import Contact, Conversation, InteractionEvent, Message  # noqa: E402
from conversations.parsing import parse_conversation  # noqa: E402
from pages.models import FacebookPage  # noqa: E402
from pages.sync.checkpoint import FOLDERS  # noqa: E402
from pages.sync.fields import MESSAGE_FIELDS  # noqa: E402

THROTTLE_CODES = {4, 17, 32, 341, 613, 80001, 80006}
CONVERSATION_FIELDS = (
    "id,updated_time,message_count,unread_count,snippet,can_reply,participants,"
    f"messages.limit(25){{{','.join(MESSAGE_FIELDS)}}}"
)


class NaiveClient:
    def __init__(self, token: str, calls_per_second: float) -> None:
        self.base = f"{settings.FACEBOOK_GRAPH_URL}/{settings.FACEBOOK_GRAPH_VERSION}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.interval = 1.0 / calls_per_second if calls_per_second > 0 else 0.0
        self.next_at = 0.0
        self.requests = 0
        self.throttled = 0
        self.http_seconds = 0.0

    def get(self, path: str, params: dict[str, str | int]) -> dict:
        for _ in range(20):
            wait = self.next_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.next_at = time.monotonic() + self.interval
            started = time.perf_counter()
            body = self.session.get(f"{self.base}/{path}", params=params, timeout=30).json()
            self.http_seconds += time.perf_counter() - started
            self.requests += 1
            error = body.get("error") if isinstance(body, dict) else None
            if error and error.get("code") in THROTTLE_CODES:
                self.throttled += 1
                time.sleep(1.0)
                continue
            if error:
                raise RuntimeError(f"Graph error {error.get('code')}: {error.get('message')}")
            return body
        raise RuntimeError("still throttled after 20 attempts")


def list_ids(client: NaiveClient, page_id: str, limit: int | None) -> list[tuple[str, str]]:
    ids: list[tuple[str, str]] = []
    for folder in FOLDERS:
        params: dict[str, str | int] = {
            "platform": "messenger",
            "folder": folder,
            "fields": "id,updated_time",
            "limit": 100,
        }
        while limit is None or len(ids) < limit:
            body = client.get(f"{page_id}/conversations", params)
            ids.extend((item["id"], folder) for item in body.get("data", []))
            after = (body.get("paging") or {}).get("cursors", {}).get("after")
            if not (body.get("paging") or {}).get("next") or not after:
                break
            params["after"] = after
    return ids if limit is None else ids[:limit]


def store(page: FacebookPage, raw: dict, folder: str) -> tuple[int, int]:
    """Row by row, autocommit: returns (messages created, events created)."""
    data = parse_conversation(raw, page.facebook_id, folder)
    contact = None
    if data.contact_psid:
        contact = Contact.objects.filter(page=page, psid=data.contact_psid).first()
        if contact is None:
            contact = Contact.objects.create(
                page=page, psid=data.contact_psid, name=data.contact_name
            )
        elif data.contact_name and contact.name != data.contact_name:
            contact.name = data.contact_name
            contact.save()
    conversation = Conversation.objects.filter(page=page, facebook_id=data.facebook_id).first()
    newest = max((m.created_time for m in data.messages), default=data.updated_time)
    fields = {
        "contact": contact,
        "folder": data.folder,
        "updated_time": data.updated_time,
        "last_message_at": newest,
        "message_count": data.message_count,
        "unread_count": data.unread_count,
        "snippet": data.snippet,
        "can_reply": data.can_reply,
    }
    created = conversation is None
    if created:
        conversation = Conversation.objects.create(
            page=page, facebook_id=data.facebook_id, **fields
        )
    else:
        for name, value in fields.items():
            setattr(conversation, name, value)
        conversation.save()
    messages = events = 0
    for m in reversed(data.messages):
        if Message.objects.filter(page=page, facebook_id=m.facebook_id).exists():
            continue
        Message.objects.create(
            page=page,
            conversation=conversation,
            facebook_id=m.facebook_id,
            sender_id=m.sender_id,
            sender_name=m.sender_name,
            direction=m.direction,
            text=m.text,
            attachments=m.attachments,
            created_time=m.created_time,
        )
        messages += 1
        kind = (
            InteractionEvent.Kind.MESSAGE_SENT
            if m.direction == Message.Direction.OUTBOUND
            else InteractionEvent.Kind.MESSAGE_RECEIVED
        )
        if not InteractionEvent.objects.filter(
            page=page, kind=kind, source_id=m.facebook_id
        ).exists():
            InteractionEvent.objects.create(
                page=page,
                conversation=conversation,
                contact=contact,
                kind=kind,
                source_id=m.facebook_id,
                occurred_at=m.created_time,
            )
            events += 1
    if created:
        started = min((m.created_time for m in data.messages), default=data.updated_time)
        InteractionEvent.objects.create(
            page=page,
            conversation=conversation,
            contact=contact,
            kind=InteractionEvent.Kind.CONVERSATION_STARTED,
            source_id=data.facebook_id,
            occurred_at=started,
        )
        events += 1
    return messages, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page_id")
    parser.add_argument("--limit", type=int, default=None, help="sync only this many")
    args = parser.parse_args()
    page = FacebookPage.objects.get(facebook_id=args.page_id)
    client = NaiveClient(page.access_token, settings.FACEBOOK_CALLS_PER_SECOND)
    started = time.perf_counter()
    ids = list_ids(client, page.facebook_id, args.limit)
    list_requests = client.requests
    messages = events = 0
    db_seconds = 0.0
    for conversation_id, folder in ids:
        raw = client.get(conversation_id, {"fields": CONVERSATION_FIELDS})
        t = time.perf_counter()
        m, e = store(page, raw, folder)
        db_seconds += time.perf_counter() - t
        messages += m
        events += e
    result = {
        "conversations": len(ids),
        "messages": messages,
        "events": events,
        "requests": client.requests,
        "list_requests": list_requests,
        "throttled": client.throttled,
        "seconds": round(time.perf_counter() - started, 3),
        "http_seconds": round(client.http_seconds, 3),
        "db_seconds": round(db_seconds, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
