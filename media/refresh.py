"""A fresh URL for an attachment whose old one expired: the message read again from Graph
(`GET /{message-id}?fields=attachments{…},sticker…`, the sync's message fields), through the
Page's client, so the call counts against the Page's budget like any other."""

from __future__ import annotations

import logging
from typing import Any

from conversations.parsing import parse_attachments
from media.download import Failed
from media.models import MediaAttachment
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError
from pages.models import FacebookPage
from pages.sync.fields import MESSAGE_FIELDS

logger = logging.getLogger(__name__)
# A worker thread never waits long for Graph here: the download is tried again later.
MAX_INLINE_PAUSE_SECONDS = 5.0
MEDIA_FIELDS = ",".join(
    f for f in MESSAGE_FIELDS if f.split("{")[0] in ("id", "attachments", "sticker", "shares")
)


class Refresher:
    """Reads messages again for one Page, one client for the whole pass."""

    def __init__(self, page: FacebookPage) -> None:
        self.page = page
        self._client: GraphClient | None = None

    def client(self) -> GraphClient:
        if not self.page.is_connected or self.page.needs_reconnect:
            raise Failed("the address expired and the Page is not connected to renew it")
        if self._client is None:
            self._client = GraphClient.for_page(
                self.page, max_inline_pause=MAX_INLINE_PAUSE_SECONDS
            )
        return self._client

    def fresh_url(self, row: MediaAttachment) -> str:
        """Read the row's message again, store every fresh URL of its attachments, and return
        the row's. Raises Failed when Graph does not give one."""
        try:
            raw = self.client().get(row.message.facebook_id, {"fields": MEDIA_FIELDS})
        except GraphError as exc:
            code = getattr(exc, "code", None)
            logger.info("Could not read message %s again (%s)", row.message_id, type(exc).__name__)
            raise Failed(
                f"the address expired and Facebook did not give a new one "
                f"({type(exc).__name__}{f', code {code}' if code else ''})"
            ) from None
        fresh = parse_attachments(raw if isinstance(raw, dict) else {})
        rows = list(MediaAttachment.objects.filter(message_id=row.message_id))
        url = ""
        for other in rows:
            match = _match(fresh, other.index, other.kind)
            if match and match != other.source_url:
                MediaAttachment.objects.filter(pk=other.pk).update(source_url=match)
            if other.pk == row.pk:
                url = match
        if not url:
            raise Failed("the address expired and the message no longer has this attachment")
        row.source_url = url
        return url


def _match(fresh: list[dict[str, Any]], index: int, kind: str) -> str:
    """The fresh URL of attachment `index` of `kind`: the same place if its kind agrees (a
    sync's copy), else the first of that kind (a webhook's copy lists them its own way)."""
    if index < len(fresh) and fresh[index].get("type") == kind and fresh[index].get("url"):
        return fresh[index]["url"]
    same = [a.get("url") for a in fresh if a.get("type") == kind and a.get("url")]
    return same[0] if len(same) == 1 else ""
