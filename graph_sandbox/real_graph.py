"""Switches for the ways the real Graph API may behave that the plain sandbox does not (issue 8,
graph-api.md §13). Each is an option of :class:`graph_sandbox.faults.FaultConfig` (constructor
kwarg, ``configure()``, a ``--flag`` of ``manage.py graph_sandbox``), off by default and reset
by ``clear_faults()``:

* ``omit_empty_edges``: an expanded edge with no data is left out of its node (the Page's
  ``conversations...as(spam)``, a conversation's nested ``messages``) instead of ``{"data": []}``.
* ``refused_folders``: list calls for those folders (plain, expanded on the Page, batch items)
  answer ``(#100)``; ``truth()`` hides their conversations (no call can list them).
* ``ignored_folders``: ``folder=F`` is silently ignored: the inbox list comes back (its paging
  links keep ``folder=F``); ``truth()`` hides F's conversations.
* ``cursorless_messages`` / ``cursorless_conversations``: that edge pages with ``paging.next``
  only, its URL carrying ``until`` and ``__paging_token`` (and the token), no ``cursors``.
* ``removed_fields``: asking for one of these field names (``subject``, or ``Node.field`` such
  as ``UnifiedThread.snippet``) anywhere in ``fields`` answers Graph's "nonexisting field" #100.
* ``weight_budget``: a call whose weight (conversations plus messages it returns) exceeds it
  answers code 1 "Please reduce the amount of data..."; the fixed ``limit × K > 2500`` rule is
  off and ``limit`` (and nested ``messages.limit``) may go up to ``weight_max_limit``.
* ``batch_item_rate_limit``: batch items count one by one against a per-Page limit of that many
  calls per trailing second (every accepted call of the Page counts); an item over it answers
  613 inside the batch, the other items succeed. Plain calls are not limited by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .dataset import FOLDERS

if TYPE_CHECKING:
    from .faults import FaultConfig
    from .fields import FieldSpec

# graph-api.md gives no maximum `limit` for /conversations; §13.6: public code uses
# `limit=400` and `conversations.limit(505)` with light fields. 505 is the largest seen working.
WEIGHT_MAX_LIMIT = 505
# The node type of the items of an edge expanded inside a node (for "nonexisting field").
EDGE_NODES = {("Page", "conversations"): "UnifiedThread", ("UnifiedThread", "messages"): "Message"}
CURSOR_PARAMS = ("after", "before")
CURSORLESS_PARAMS = ("after", "before", "until", "since", "__paging_token", "__previous")


def _names(value: Any) -> list[str]:
    if value is None or value is False or value == "":
        return []
    names = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"expected names, got {value!r}")
    return [name.strip() for name in names if name.strip()]


def folders_of(value: Any) -> tuple[str, ...]:
    """Folders for ``refused_folders``/``ignored_folders``: a list or a comma-separated string."""
    names = _names(value)
    unknown = sorted(set(names) - set(FOLDERS))
    if unknown:
        raise ValueError(f"unknown folder(s) {unknown}; expected some of {list(FOLDERS[1:])}")
    if "inbox" in names:
        raise ValueError("inbox is the default list: it cannot be refused or ignored")
    return tuple(folder for folder in FOLDERS if folder in names)


def fields_of(value: Any) -> tuple[str, ...]:
    """Field names for ``removed_fields``: ``name`` (any node) or ``Node.name``."""
    names = _names(value)
    bad = [name for name in names if name.count(".") > 1 or name.startswith(".")]
    if bad:
        raise ValueError(f"bad field name(s) {bad}: use name or Node.name")
    return tuple(dict.fromkeys(names))


def listed_folder(value: str | None, config: FaultConfig) -> str:
    """The folder a list call reads: refused ones answer #100, ignored ones read the inbox."""
    folder = "inbox" if value is None else value
    if folder not in FOLDERS:
        raise errors.invalid_param(f"Param folder must be one of {{{', '.join(FOLDERS)}}}")
    if folder in config.refused_folders:
        accepted = ", ".join(f for f in FOLDERS if f not in config.refused_folders)
        raise errors.invalid_param(f"Param folder must be one of {{{accepted}}}")
    if folder in config.ignored_folders:
        return "inbox"
    return folder


def check_removed_fields(specs: list[FieldSpec] | None, node: str, config: FaultConfig) -> None:
    """Graph checks the whole ``fields`` tree before answering: a removed field anywhere in it
    (the node's own fields or an expanded edge's) fails the call."""
    removed = config.removed_fields
    if not removed or not specs:
        return
    for spec in specs:
        if spec.name in removed or f"{node}.{spec.name}" in removed:
            raise errors.nonexisting_field(spec.name, node)
        child = EDGE_NODES.get((node, spec.name))
        if child is not None:
            check_removed_fields(spec.subfields, child, config)


def max_limit(config: FaultConfig, default: int) -> int:
    return default if config.weight_budget is None else int(config.weight_max_limit)


def charge(weight: int, config: FaultConfig) -> None:
    """Called as each conversation or message is rendered: over the budget, code 1."""
    budget = config.weight_budget
    if budget is not None and weight > budget:
        raise errors.reduce_data()


def omitted(edge: dict[str, Any], config: FaultConfig) -> bool:
    """An expanded edge with no data that the switch leaves out of its node."""
    return config.omit_empty_edges and edge == {"data": []}


def paging_params(config: FaultConfig, kind: str) -> tuple[str, ...]:
    """The request parameters a list's paging links drop (they set their own)."""
    return CURSORLESS_PARAMS if cursorless(config, kind) else CURSOR_PARAMS


def cursorless(config: FaultConfig, kind: str) -> bool:
    return config.cursorless_messages if kind == "m" else config.cursorless_conversations


def hidden_folders(config: FaultConfig) -> dict[str, str]:
    """Folders whose conversations no list call shows: folder → "refused" | "ignored"."""
    hidden = dict.fromkeys(config.refused_folders, "refused")
    for folder in config.ignored_folders:
        hidden.setdefault(folder, "ignored")
    return hidden


def visible_truth(truth: dict[str, Any], config: FaultConfig) -> dict[str, Any]:
    """What a correct engine ends with: conversations of hidden folders are not in it."""
    hidden = hidden_folders(config)
    truth["hidden_folders"] = hidden
    if not hidden:
        return truth
    convs = [c for c in truth["conversations"] if c["folder"] not in hidden]
    ids = {c["id"] for c in convs}
    truth["conversations"] = convs
    truth["totals"] = {f: 0 if f in hidden else n for f, n in truth["totals"].items()}
    truth["total_conversations"] = len(convs)
    truth["total_messages"] = sum(c["message_count"] for c in convs)
    truth["odd"] = [odd for odd in truth["odd"] if odd["id"] in ids]
    return truth
