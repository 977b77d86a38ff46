"""Graph endpoint handlers: field selection, nested edges, keyset cursors and paging URLs.

Called by :mod:`graph_sandbox.app` after authentication, faults and rate limits; every handler
returns ``(body, items)`` where ``items`` (objects rendered) feeds the CPU-time estimate.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import errors, horizon, message_node, real_graph
from .content import Message, format_time
from .cursors import TOP, decode_cursor, decode_paging_token, encode_cursor, encode_paging_token
from .dataset import Conversation, Dataset, Page
from .fields import FieldSpec, parse_fields, select, unparse

if TYPE_CHECKING:
    from .faults import FaultConfig
    from .odd_values import OddValues

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
LIGHT_MAX_LIMIT = 505
MAX_NESTED_ITEMS = 2500

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


# -- params ----------------------------------------------------------------------------------


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise errors.invalid_param("Param limit must be an integer") from None
    if limit < 0:
        raise errors.invalid_param("Param limit must be a non-negative integer")
    return min(limit or default, maximum)


def _url(req: Request, path: str, params: dict[str, str]) -> str:
    prefix = f"/{req.version}" if req.version else ""
    return f"{req.base_url}{prefix}{path}?{urlencode(params)}"


def _auth_params(req: Request) -> dict[str, str]:
    out = {"access_token": req.token or ""}
    if "appsecret_proof" in req.params:
        out["appsecret_proof"] = req.params["appsecret_proof"]
    return out


def _until(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.invalid_param("Param until must be a unix timestamp") from None


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
        self.weight = 0  # conversations and messages rendered (the weight_budget switch)

    def render(self, kind: str, page: Page, conv: Conversation | None) -> dict[str, Any]:
        """The body of one call; ``kind`` comes from the sandbox's routing."""
        if self.config.removed_fields:
            node = {"page": "Page", "messages": "Message", "message": "Message"}.get(
                kind, "UnifiedThread"
            )
            specs = parse_fields(self.req.params.get("fields"))
            real_graph.check_removed_fields(specs, node, self.config)
        if kind == "page":
            return self.page(page)
        if kind == "message":  # a message node (message_node.py)
            return message_node.render(self, conv)
        if kind == "conversations":
            return self.conversations(page)
        if kind == "conversation":
            return self.conversation(conv, self.conv_specs())
        limit = self.limit(self.req.params.get("limit"))
        specs = parse_fields(self.req.params.get("fields"))
        return self.messages_edge(conv, specs, limit, nested=False)

    def limit(self, value: str | None, *, light: bool = False) -> int:
        """A list's page size: capped at 100, or at 505 for a conversations list without
        nested messages (public code lists light fields with limit=400 and .limit(505),
        graph-api.md §13.6), or as the weight budget says."""
        default_cap = LIGHT_MAX_LIMIT if light else MAX_LIMIT
        return parse_limit(value, maximum=real_graph.max_limit(self.config, default_cap))

    def _charge(self) -> None:
        self.weight += 1
        real_graph.charge(self.weight, self.config)

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
                edge = self.nested_conversations(page, spec)
                if not real_graph.omitted(edge, self.config):
                    out[spec.modifiers.get("as", spec.name)] = edge
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
        self._charge()
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
        self, conv: Conversation, limit: int, params: dict[str, str]
    ) -> tuple[list[Message], bool, bool]:
        """Messages newest first: (page, has_next, has_previous)."""
        total = conv.message_count
        after, before = params.get("after"), params.get("before")
        cursorless = real_graph.cursorless(self.config, "m")
        if after:
            end = min(decode_cursor(after, "m", "after", self.config, conv.id), total)
        elif before:
            start_excl = decode_cursor(before, "m", "before", self.config, conv.id)
            end = min(total, start_excl + 1 + limit)
        elif cursorless and params.get("__paging_token"):
            token = params["__paging_token"]
            end = min(decode_paging_token(token, "m", self.config, conv.id), total)
        elif cursorless and params.get("until"):  # `until` alone: created at or before it
            end = bisect.bisect_right(self.ds.message_timestamps(conv), _until(params["until"]))
        else:
            end = total
        end = max(end, 0)
        lowest = horizon.floor(self.ds, conv, self.config)  # 0 unless the horizon is on
        msgs = self.ds.messages_before(conv, end, horizon.window(end, limit, lowest))
        start = end - len(msgs)
        return msgs, start > lowest, end < total

    def messages_edge(
        self,
        conv: Conversation,
        specs: list[FieldSpec] | None,
        limit: int,
        nested: bool,
    ) -> dict[str, Any]:
        specs = specs or [FieldSpec("id"), FieldSpec("created_time")]
        if not nested and self.req.fault == "empty_page":
            return self._empty_page("m", conv.id)
        msgs, has_next, has_prev = self.messages_window(
            conv, limit, {} if nested else self.req.params
        )
        if not nested and self.req.fault == "short_page" and len(msgs) > 1:
            msgs, has_next = msgs[: (len(msgs) + 1) // 2], True
        data = [self.message(conv, m, specs) for m in msgs]
        if not data:
            return {"data": []}
        if nested:
            path = f"/{conv.id}/messages"
            params = {**_auth_params(self.req), "fields": unparse(specs), "limit": str(limit)}
        else:
            path, params = self.req.path, self._edge_params("m")
        ends = (msgs[0].index, msgs[-1].index, msgs[-1].created_ts)
        return self._page_of(data, "m", path, params, ends, has_next, has_prev, conv.id)

    def _edge_params(self, kind: str) -> dict[str, str]:
        """The request's parameters (and token) for the paging links of the edge it read."""
        drop = real_graph.paging_params(self.config, kind)
        params = {k: v for k, v in self.req.params.items() if k not in drop}
        params.update(_auth_params(self.req))
        return params

    def _page_of(
        self,
        data: list[dict[str, Any]],
        kind: str,
        path: str,
        params: dict[str, str],
        ends: tuple[Any, Any, int],
        has_next: bool,
        has_prev: bool,
        conv_id: str | None = None,
    ) -> dict[str, Any]:
        """A non-empty list page; ``ends`` = (first item's key, last item's key, last's time)."""
        first, last, until = ends
        if real_graph.cursorless(self.config, kind):  # next only: until + __paging_token
            if not has_next:
                return {"data": data}
            token = encode_paging_token(kind, last, conv_id)
            link = {**params, "until": str(until), "__paging_token": token}
            return {"data": data, "paging": {"next": _url(self.req, path, link)}}
        before, after = encode_cursor(kind, first, conv_id), encode_cursor(kind, last, conv_id)
        paging: dict[str, Any] = {"cursors": {"before": before, "after": after}}
        if has_next:
            paging["next"] = _url(self.req, path, {**params, "after": after})
        if has_prev:
            paging["previous"] = _url(self.req, path, {**params, "before": before})
        return {"data": data, "paging": paging}

    def conversation(self, conv: Conversation, specs: list[FieldSpec]) -> dict[str, Any]:
        self._charge()
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
                limit = self.limit(spec.modifiers.get("limit"))
                edge = self.messages_edge(conv, spec.subfields, limit, nested=True)
                if not real_graph.omitted(edge, self.config):
                    out["messages"] = edge
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
        folder = real_graph.listed_folder(params.get("folder"), self.config)
        specs = self.conv_specs()
        limit = self.limit(params.get("limit"), light=not any(s.name == "messages" for s in specs))
        for spec in specs:
            if spec.name == "messages" and self.config.weight_budget is None:
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
        token = params.get("__paging_token") if real_graph.cursorless(self.config, "c") else None
        if params.get("after"):
            hi = bisect.bisect_left(keys, decode_cursor(params["after"], "c", "after", self.config))
            lo = max(0, hi - limit)
        elif token:
            hi = bisect.bisect_left(keys, decode_paging_token(token, "c", self.config))
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
        ends = (list(window[0]), list(window[-1]), window[-1][0])
        params = self._edge_params("c")
        return self._page_of(data, "c", self.req.path, params, ends, lo > 0, hi < len(keys))

    def _empty_page(self, kind: str, conv_id: str | None) -> dict[str, Any]:
        """An empty page whose ``next`` resumes at the requested position (§3.4, §12.2)."""
        top = [TOP, ""] if kind == "c" else TOP
        params = self._edge_params(kind)
        if real_graph.cursorless(self.config, kind):
            token = self.req.params.get("__paging_token") or encode_paging_token(kind, top, conv_id)
            link = {
                **params,
                "until": self.req.params.get("until", str(TOP)),
                "__paging_token": token,
            }
            return {"data": [], "paging": {"next": _url(self.req, self.req.path, link)}}
        cursor = self.req.params.get("after") or encode_cursor(kind, top, conv_id)
        return {
            "data": [],
            "paging": {
                "cursors": {"before": cursor, "after": cursor},
                "next": _url(self.req, self.req.path, {**params, "after": cursor}),
            },
        }
