"""Reading Graph's usage headers (graph-api.md §5.2): how close a Page is to its limits."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pages.graph.errors import as_int


@dataclass
class Usage:
    """The highest usage percentage and regain-access estimate seen in the usage headers."""

    percent: int = 0
    regain_minutes: int = 0


def parse_usage(headers: Iterable[tuple[str, str]], page_id: str | None) -> Usage | None:
    """Read X-Business-Use-Case-Usage (for this Page), X-Page-Usage and X-App-Usage.

    Returns None when no usage header is present: absence does not mean 0 % (graph-api.md §5.2).
    """
    usage: Usage | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered not in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
            continue
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            continue
        if not isinstance(parsed, dict):
            continue
        if lowered == "x-business-use-case-usage":
            entries: list[Any] = []
            for key, items in parsed.items():
                if page_id is None or key == page_id:
                    entries.extend(items if isinstance(items, list) else [])
        else:
            entries = [parsed]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            usage = usage or Usage()
            for key in ("call_count", "total_cputime", "total_time"):
                usage.percent = max(usage.percent, as_int(entry.get(key)) or 0)
            usage.regain_minutes = max(
                usage.regain_minutes, as_int(entry.get("estimated_time_to_regain_access")) or 0
            )
    return usage
