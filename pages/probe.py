"""`graph_probe`: find out, on an operator's own Page, how the real Graph API behaves where it
may differ from the documentation (issue 8). A short, read-only series of calls (about ten,
spaced like every sync's), each answering one question; the findings are stored on the Page
(pages.sync.findings), where syncs use them and the admin shows them.

Questions: the API version served; each folder accepted, refused or ignored; whether the
one-call read of all folders' tops works and whether it leaves out empty folders; which of
the fields a sync asks for Graph no longer has; how messages and conversation lists page
(cursors or `next` only); the largest page Graph accepts with and without
nested messages; the webhook subscription state; what the token is (pages.graph.tokens).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils import timezone

from pages.graph import subscriptions
from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, RateLimitError, TokenError
from pages.graph.tokens import ADVANCED_ACCESS_NOTE, inspect_token
from pages.models import FacebookPage
from pages.sync import findings
from pages.sync.checkpoint import FOLDERS
from pages.sync.fields import CONVERSATION_FIELDS, MESSAGE_FIELDS, FieldSet, removed_field

# Page sizes tried, largest first: Graph documents no maximum (graph-api.md §3.1, §13.6).
SIZES_TRIED = (100, 50, 25)
NESTED_MESSAGES = 25
SAMPLE = 5


@dataclass
class ProbeReport:
    page_id: str
    page_name: str = ""
    api_version: str = ""
    token: str = ""  # what the token is (type, expiry, permissions), or why it is refused
    token_notes: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # accepted / refused / ignored / empty
    one_call_tops: str = ""  # works / refused
    empty_edges: str = ""  # omitted / returned as empty lists / unknown (no empty folder)
    messages_paging: str = ""  # cursors / next only / one page (unknown)
    conversations_paging: str = ""  # the same, for conversation lists
    removed_fields: list[str] = field(default_factory=list)  # of those a sync asks for
    largest_page: int | None = None
    largest_page_with_messages: int | None = None
    webhooks: str = ""
    calls: int = 0
    problems: list[str] = field(default_factory=list)
    probed_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Probe:
    def __init__(self, page: FacebookPage, client: GraphClient) -> None:
        self.page = page
        self.client = client
        self.report = ProbeReport(page_id=page.facebook_id, probed_at=timezone.now().isoformat())
        self._ids: dict[str, set[str]] = {}

    def run(self) -> ProbeReport:
        """Ask every question; a question Graph will not answer is noted, never fatal (but a
        refused token or a rate limit ends the probe at once: nothing else can be learned)."""
        for question in (
            self._page,
            self._token,
            self._folders,
            self._one_call_tops,
            self._fields,
            self._messages_paging,
            self._largest_pages,
            self._webhooks,
        ):
            try:
                question()
            except (TokenError, RateLimitError):
                raise
            except GraphError as exc:
                self.report.problems.append(f"{question.__name__.strip('_')}: {exc}")
        self.report.calls = self.client.calls
        self._store()
        return self.report

    def _list(self, folder: str, *, limit: int, fields: str = "id") -> dict[str, Any]:
        return self.client.get(
            f"{self.page.facebook_id}/conversations",
            {"platform": "messenger", "folder": folder, "fields": fields, "limit": limit},
        )

    def _page(self) -> None:
        node = self.client.get(self.page.facebook_id, {"fields": "id,name"})
        self.report.page_name = str(node.get("name") or "")
        self.report.api_version = self.client.api_version_served or self.client.version

    def _token(self) -> None:
        check = inspect_token(self.page.access_token, self.page.facebook_id)
        self.report.token = check.summary if check.ok else f"refused: {check.refusal}"
        self.report.token_notes = [*check.notes, ADVANCED_ACCESS_NOTE]

    def _folders(self) -> None:
        for folder in FOLDERS:
            try:
                answer = self._list(folder, limit=SAMPLE)
            except GraphError as exc:
                if exc.code != 100 or removed_field(exc) or folder == "inbox":
                    raise
                self.report.folders[folder] = findings.REFUSED
                continue
            items = answer.get("data") or []
            if folder == "inbox":
                self.report.conversations_paging = paging_style(answer.get("paging"))
            ids = {str(item.get("id")) for item in items if isinstance(item, dict)}
            inbox = self._ids.get("inbox", set())
            if folder != "inbox" and ids and ids == inbox:
                self.report.folders[folder] = findings.IGNORED
                continue
            self._ids[folder] = ids
            self.report.folders[folder] = "accepted" if ids else "empty"

    def _one_call_tops(self) -> None:
        readable = [f for f, state in self.report.folders.items() if state in ("accepted", "empty")]
        expanded = ",".join(
            f"conversations.platform(messenger).folder({folder}).limit({SAMPLE}).as({folder}){{id}}"
            for folder in readable
        )
        try:
            node = self.client.get(self.page.facebook_id, {"fields": expanded})
        except GraphError as exc:
            if isinstance(exc, TokenError | RateLimitError):
                raise
            self.report.one_call_tops = "refused"
            return
        self.report.one_call_tops = "works"
        empty = [f for f in readable if self.report.folders[f] == "empty"]
        if not empty:
            self.report.empty_edges = "unknown (no empty folder)"
        elif all(folder not in node for folder in empty):
            self.report.empty_edges = "omitted"
        else:
            self.report.empty_edges = "returned as empty lists"

    def _messages_paging(self) -> None:
        conversation = next((i for ids in self._ids.values() for i in sorted(ids)), None)
        if conversation is None:
            self.report.messages_paging = "unknown (no conversation)"
            return
        answer = self.client.get(f"{conversation}/messages", {"fields": "id", "limit": 1})
        self.report.messages_paging = paging_style(answer.get("paging"))

    def _fields(self) -> None:
        """Ask for one conversation with every field a sync asks for; note each one Graph
        says it no longer has (a sync drops them the same way)."""
        fields = FieldSet(messages_limit=1)
        for _ in range(len(CONVERSATION_FIELDS) + len(MESSAGE_FIELDS)):
            try:
                self._list("inbox", limit=1, fields=fields.conversations_spec())
                return
            except GraphError as exc:
                name = removed_field(exc)
                if name is None:
                    raise
                self.report.removed_fields.append(name)
                fields = fields.without(name)

    def _largest_pages(self) -> None:
        nested = f"id,messages.limit({NESTED_MESSAGES}){{id}}"
        self.report.largest_page = self._largest("id")
        self.report.largest_page_with_messages = self._largest(nested)

    def _largest(self, fields: str) -> int | None:
        for size in SIZES_TRIED:
            try:
                self._list("inbox", limit=size, fields=fields)
            except GraphError as exc:
                if isinstance(exc, TokenError | RateLimitError):
                    raise
                continue
            return size
        return None

    def _webhooks(self) -> None:
        try:
            fields = subscriptions.subscribed_fields(self.client, self.page.facebook_id)
        except GraphError as exc:
            if isinstance(exc, TokenError | RateLimitError):
                raise
            self.report.webhooks = f"unknown ({exc})"
            return
        self.report.webhooks = f"subscribed ({', '.join(fields)})" if fields else "not subscribed"

    def _store(self) -> None:
        for name in self.report.removed_fields:
            findings.record_degraded_field(self.page, name)
        for folder, state in self.report.folders.items():
            if state in (findings.REFUSED, findings.IGNORED):
                findings.record_folder(self.page, folder, state, "found by graph_probe")
            else:
                findings.record_available_folder(self.page, folder)
        findings.record_probe(self.page, self.report.to_json())


def paging_style(paging: Any) -> str:
    """How a list says where its next page starts."""
    if not isinstance(paging, dict) or not paging.get("next"):
        return "one page (unknown)"
    if isinstance(paging.get("cursors"), dict) and paging["cursors"].get("after"):
        return "cursors"
    return "next only"
