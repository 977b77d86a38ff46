"""Graph endpoint handlers: field selection, nested edges, keyset cursors and paging URLs.

Called by :mod:`graph_sandbox.app` after authentication, faults and rate limits; every handler
returns ``(body, items)`` where ``items`` (objects rendered) feeds the CPU-time estimate.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import errors
from .content import Message, format_time
from .dataset import FOLDERS, Conversation, Dataset, Page
from .fields import FieldSpec, parse_fields, select, unparse

if TYPE_CHECKING:
    from .faults import FaultConfig
    from .odd_values import OddValues

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_NESTED_ITEMS = 2500
TOP = 2**62  # cursor sentinel: "before everything" (used by the empty_page fault)

PAGE_FIELDS = {"id", "name", "access_token", "category", "link"}
CONV_OMITTED = {
    "name", "subject", "wallpaper", "former_participants", "scoped_thread_key", "linked_group",
    "is_owner", "is_subscribed",
}  # fmt: skip
MESSAGE_FIELDS = {
    "id", "created_time", "from", "to", "message", "attachments", "sticker", "shares", "tags",
}  # fmt: skip
MESSAGE_OMITTED = {"reactions", "is_unsupported", "story", "reply_to"}


@dataclass
class Request:
    """One API call (a plain HTTP request or a batch item)."""

    method: str
    path: str  # without the version prefix, e.g. "/123/conversations"
    version: str | None  # "v26.0" or None when the path had no version
    params: dict[str, str]
    base_url: str  # "http://127.0.0.1:5000"
    token: str | None = None
    fault: str | None = None  # list faults: "empty_page" / "short_page"
    extra: dict[str, Any] = field(default_factory=dict)


# -- cursors ---------------------------------------------------------------------------------


def encode_cursor(kind: str, key: Any, conv_id: str | None = None) -> str:
    payload = {"t": kind, "k": key, "i": round(time.time(), 3)}
    if conv_id is not None:
        payload["c"] = conv_id
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return "QVFI" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, kind: str, which: str, config: FaultConfig, conv_id: str | None = None
) -> Any:
    try:
        if not cursor.startswith("QVFI"):
            raise ValueError
        raw = cursor[4:]
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(payload, dict) or payload.get("t") != kind:
            raise ValueError
        if conv_id is not None and payload.get("c") != conv_id:
            raise ValueError
        key, issued = payload["k"], float(payload["i"])
        if kind == "c":
            if not (isinstance(key, list) and len(key) == 2):
                raise ValueError
            key = (int(key[0]), str(key[1]))
        else:
            key = int(key)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise errors.invalid_cursor(which) from None
    ttl = config.cursor_ttl_seconds
    if ttl is not None and time.time() - issued > ttl:
        raise errors.invalid_cursor(which)
    return key


# -- params ----------------------------------------------------------------------------------


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise errors.invalid_param("Param limit must be an integer") from None
    if limit < 0:
        raise errors.invalid_param("Param limit must be a non-negative integer")
    return min(limit or default, MAX_LIMIT)


def _url(req: Request, path: str, params: dict[str, str]) -> str:
    prefix = f"/{req.version}" if req.version else ""
    return f"{req.base_url}{prefix}{path}?{urlencode(params)}"


def _auth_params(req: Request) -> dict[str, str]:
    out = {"access_token": req.token or ""}
    if "appsecret_proof" in req.params:
        out["appsecret_proof"] = req.params["appsecret_proof"]
    return out


def _edge_url(req: Request, cursor_name: str, cursor: str) -> str:
    params = {k: v for k, v in req.params.items() if k not in ("after", "before")}
    params.update(_auth_params(req))
    params[cursor_name] = cursor
    return _url(req, req.path, params)


# -- rendering -------------------------------------------------------------------------------


class Renderer:
    def __init__(
        self, ds: Dataset, config: FaultConfig, req: Request, odd: OddValues | None = None
    ) -> None:
        self.ds = ds
        self.config = config
        self.req = req
        self.odd = odd
        self.items = 0

    def page(self, page: Page) -> dict[str, Any]:
        specs = parse_fields(self.req.params.get("fields")) or [FieldSpec("id"), FieldSpec("name")]
        values = {
            "id": page.id,
            "name": page.name,
            "access_token": page.token,
            "category": "Bicycle Shop",
            "link": f"https://www.facebook.com/{page.id}",
        }
        out = {}
        for spec in specs:
            if spec.name == "conversations":
                # Field expansion of the edge, e.g. conversations.folder(spam).limit(25)
                # .as(spam){id,updated_time}: one call that returns several folders' tops.
                out[spec.modifiers.get("as", spec.name)] = self.nested_conversations(page, spec)
                continue
            if spec.name not in PAGE_FIELDS:
                raise errors.nonexisting_field(spec.name, "Page")
            out[spec.modifiers.get("as", spec.name)] = values[spec.name]
        self.items += 1
        return out

    def nested_conversations(self, page: Page, spec: FieldSpec) -> dict[str, Any]:
        """The conversations edge rendered inside the Page node: the same list (and paging
        links to `/{page-id}/conversations`) as the edge itself with those parameters."""
        params = {
            key: spec.modifiers[key]
            for key in ("platform", "folder", "limit")
            if key in spec.modifiers
        }
        if spec.subfields is not None:
            params["fields"] = unparse(spec.subfields)
        if "appsecret_proof" in self.req.params:
            params["appsecret_proof"] = self.req.params["appsecret_proof"]
        outer = self.req
        self.req = replace(outer, path=f"/{page.id}/conversations", params=params)
        try:
            return self.conversations(page)
        finally:
            self.req = outer

    def message(self, conv: Conversation, msg: Message, specs: list[FieldSpec]) -> dict:
        full = msg.render(conv)
        if self.odd is not None and self.config.odd_values:
            self.odd.message(conv, msg, full, self.config.odd_values)
        out: dict[str, Any] = {}
        for spec in specs:
            if spec.name in MESSAGE_OMITTED:
                continue
            if spec.name not in MESSAGE_FIELDS:
                raise errors.nonexisting_field(spec.name, "Message")
            if spec.name not in full:
                continue  # a field with no data is omitted, not null
            if spec.name == "shares" and spec.subfields is None:
                # graph-api.md §4.2: shares subfields must be requested explicitly
                out["shares"] = {"data": [{} for _ in full["shares"]["data"]]}
                continue
            out[spec.name] = select(full[spec.name], spec.subfields)
        self.items += 1
        return out

    def messages_window(
        self, conv: Conversation, limit: int, after: str | None, before: str | None
    ) -> tuple[list[Message], bool, bool]:
        """Messages newest first: (page, has_next, has_previous)."""
        total = conv.message_count
        if after:
            end = min(decode_cursor(after, "m", "after", self.config, conv.id), total)
        elif before:
            start_excl = decode_cursor(before, "m", "before", self.config, conv.id)
            end = min(total, start_excl + 1 + limit)
        else:
            end = total
        end = max(end, 0)
        msgs = self.ds.messages_before(conv, end, limit)
        start = end - len(msgs)
        return msgs, start > 0, end < total

    def messages_edge(
        self,
        conv: Conversation,
        specs: list[FieldSpec] | None,
        limit: int,
        nested: bool,
    ) -> dict[str, Any]:
        specs = specs or [FieldSpec("id"), FieldSpec("created_time")]
        after = None if nested else self.req.params.get("after")
        before = None if nested else self.req.params.get("before")
        if not nested and self.req.fault == "empty_page":
            return self._empty_page("m", conv.id)
        msgs, has_next, has_prev = self.messages_window(conv, limit, after, before)
        if not nested and self.req.fault == "short_page" and len(msgs) > 1:
            msgs, has_next = msgs[: (len(msgs) + 1) // 2], True
        data = [self.message(conv, m, specs) for m in msgs]
        if not data:
            return {"data": []}
        first = encode_cursor("m", msgs[0].index, conv.id)
        last = encode_cursor("m", msgs[-1].index, conv.id)
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        if nested:
            params = _auth_params(self.req)
            params["fields"] = unparse(specs)
            params["limit"] = str(limit)
            path = f"/{conv.id}/messages"
            if has_next:
                paging["next"] = _url(self.req, path, {**params, "after": last})
            if has_prev:
                paging["previous"] = _url(self.req, path, {**params, "before": first})
        else:
            if has_next:
                paging["next"] = _edge_url(self.req, "after", last)
            if has_prev:
                paging["previous"] = _edge_url(self.req, "before", first)
        return {"data": data, "paging": paging}

    def conversation(self, conv: Conversation, specs: list[FieldSpec]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        page = conv.page
        for spec in specs:
            name = spec.name
            if name == "id":
                out["id"] = conv.id
            elif name == "updated_time":
                out["updated_time"] = format_time(conv.updated_ts)
            elif name == "message_count":
                out["message_count"] = conv.message_count + conv.count_skew
            elif name == "unread_count":
                out["unread_count"] = conv.unread_count
            elif name == "snippet":
                out["snippet"] = self.ds.snippet(conv)
            elif name == "can_reply":
                out["can_reply"] = conv.can_reply
            elif name == "link":
                out["link"] = f"/{page.id}/inbox/{conv.link_n}/"
            elif name == "folder":
                out["folder"] = conv.folder
            elif name == "participants":
                value = {"data": [conv.person(), page.person()]}
                out["participants"] = select(value, spec.subfields)
            elif name == "senders":
                msgs = self.ds.messages_before(conv, conv.message_count, conv.message_count)
                senders = [conv.person()]
                if any(m.from_page for m in msgs):
                    senders.append(page.person())
                out["senders"] = select({"data": senders}, spec.subfields)
            elif name == "messages":
                limit = parse_limit(spec.modifiers.get("limit"))
                out["messages"] = self.messages_edge(conv, spec.subfields, limit, nested=True)
            elif name in CONV_OMITTED:
                continue
            else:
                raise errors.nonexisting_field(name, "UnifiedThread")
        if self.odd is not None and self.config.odd_values:
            self.odd.conversation(conv, out, self.config.odd_values)
        self.items += 1
        return out

    def conv_specs(self) -> list[FieldSpec]:
        return parse_fields(self.req.params.get("fields")) or [
            FieldSpec("id"),
            FieldSpec("updated_time"),
        ]

    def conversations(self, page: Page) -> dict[str, Any]:
        params = self.req.params
        platform = params.get("platform", "messenger").lower()
        if platform not in ("messenger", "instagram"):
            raise errors.invalid_param("Param platform must be one of {MESSENGER, INSTAGRAM}")
        folder = params.get("folder", "inbox")
        if folder not in FOLDERS:
            raise errors.invalid_param(f"Param folder must be one of {{{', '.join(FOLDERS)}}}")
        limit = parse_limit(params.get("limit"))
        specs = self.conv_specs()
        for spec in specs:
            if spec.name == "messages":
                nested = parse_limit(spec.modifiers.get("limit"))
                if limit * nested > MAX_NESTED_ITEMS:
                    raise errors.reduce_data()
        if platform == "instagram":
            return {"data": []}
        if "user_id" in params:
            convs = [c for c in page.conversations.values() if c.psid == params["user_id"]]
            return {"data": [self.conversation(c, specs) for c in convs]}
        if self.req.fault == "empty_page":
            return self._empty_page("c", None)
        keys = page.folders[folder]
        if params.get("after"):
            hi = bisect.bisect_left(keys, decode_cursor(params["after"], "c", "after", self.config))
            lo = max(0, hi - limit)
        elif params.get("before"):
            lo = bisect.bisect_right(
                keys, decode_cursor(params["before"], "c", "before", self.config)
            )
            hi = min(len(keys), lo + limit)
        else:
            hi = len(keys)
            lo = max(0, hi - limit)
        window = keys[lo:hi][::-1]
        if self.req.fault == "short_page" and len(window) > 1:
            window = window[: (len(window) + 1) // 2]
            lo = hi - len(window)
        if not window:
            return {"data": []}
        data = [self.conversation(page.conversations[cid], specs) for _, cid in window]
        first = encode_cursor("c", list(window[0]))
        last = encode_cursor("c", list(window[-1]))
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        if lo > 0:
            paging["next"] = _edge_url(self.req, "after", last)
        if hi < len(keys):
            paging["previous"] = _edge_url(self.req, "before", first)
        return {"data": data, "paging": paging}

    def _empty_page(self, kind: str, conv_id: str | None) -> dict[str, Any]:
        """An empty page whose ``next`` resumes at the requested position (§3.4, §12.2)."""
        cursor = self.req.params.get("after") or encode_cursor(
            kind, [TOP, ""] if kind == "c" else TOP, conv_id
        )
        return {
            "data": [],
            "paging": {
                "cursors": {"before": cursor, "after": cursor},
                "next": _edge_url(self.req, "after", cursor),
            },
        }
