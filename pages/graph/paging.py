"""Where the next page of a Graph list starts: its *position*.

Graph usually pages with an `after` cursor (`paging.cursors.after`), but not always: older
API versions page the messages edge with `until` and `__paging_token` in `paging.next` and no
cursors at all (graph-api.md §12, issue 8). A position is the `after` cursor when Graph gives
one, else the paging parameters of `paging.next` — never its access token or anything else
of that URL. A position is one string, so it fits the checkpoint as a cursor does: a cursor
as it is, parameters as "?" followed by their query string.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

# The query parameters of `paging.next` that say where the next page starts.
PAGING_PARAMETERS = ("after", "until", "since", "__paging_token", "__previous")


def next_position(paging: Any) -> str | None:
    """The position of the page after this one, or None when there is none."""
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    after = cursors.get("after")
    if isinstance(after, str) and after:
        return after
    next_url = paging.get("next")
    if not isinstance(next_url, str):
        return None
    try:
        query = parse_qsl(urlsplit(next_url).query)
    except ValueError:
        return None
    params = [(name, value) for name, value in query if name in PAGING_PARAMETERS and value]
    return "?" + urlencode(params) if params else None


def position_params(position: str | None) -> dict[str, str]:
    """The request parameters that ask for the page at `position` (none: the first page)."""
    if not position:
        return {}
    if position.startswith("?"):
        return {name: value for name, value in parse_qsl(position[1:]) if name in PAGING_PARAMETERS}
    return {"after": position}
