"""The ``odd_values`` switch: values Graph (or anything between it and us) can send that no
database stores as they are.

With the switch on, one conversation of every page per kind (chosen by the seed among the
conversations the sandbox was built with, so the same ones whenever the switch is turned on)
is served with its odd value, on every endpoint that renders it. The data itself is unchanged:
the odd value is applied when rendering, and ``truth()["odd"]`` says which conversations are
odd and what a correct client ends with:

* ``"stored"``: the conversation is stored, cleaned; ``expected`` holds the values it must have
  (``contact_name``, ``snippet``, ``message_count``, ``unread_count``, and for one message its
  ``text`` or the ``name``/``url`` of its attachment);
* ``"problem"``: nothing of it can be stored faithfully (an id longer than any column, a time
  no database returns): it must be listed in the run's problems under ``served_id``.

Values JSON cannot express from Python (``1e400``, an integer of 5,000 digits, nesting 5,000
levels deep) are rendered as placeholders that :func:`splice_raw` replaces in the body text.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .content import Message
    from .dataset import Conversation, Dataset

STORED, PROBLEM = "stored", "problem"
KINDS = {
    "nul_text": STORED,  # NUL characters in a message's text
    "nul_name": STORED,  # a NUL in the contact's name (participants, from, to)
    "nul_snippet": STORED,  # NULs around the snippet
    "nul_attachment": STORED,  # NULs in an attachment's name, URL, an unknown key and value
    "surrogate_text": STORED,  # lone surrogates (high and low) in a message's text
    "surrogate_name": STORED,  # a lone surrogate at the end of the contact's name
    "surrogate_snippet": STORED,  # 99 × "x" + "\ud83d": Graph cut an emoji in half
    "huge_counts": STORED,  # message_count 2**31, unread_count 2**63
    "infinite_count": STORED,  # message_count 1e400, unread_count -1e400
    "giant_count": STORED,  # message_count of 5,000 digits (past Python's int() limit)
    "deep_json": STORED,  # an attachment's image_data holding arrays 5,000 levels deep
    "long_conversation_id": PROBLEM,  # an id longer than any id column
    "long_message_id": PROBLEM,
    "long_contact_id": PROBLEM,
    "far_future_time": PROBLEM,  # updated_time 9999-12-31T23:59:59-0100: year 10000 in UTC
    "ancient_time": PROBLEM,  # a message from 0001-01-01T00:00:00+0100: year 0 in UTC
}
# Counts past a 32-bit column are clamped to it; a count that is no number counts as 0.
MAX_STORED_COUNT = 2**31 - 1

RAW_MARK = "@@graph_sandbox.raw:"
RAW = {
    "1e400": "1e400",
    "-1e400": "-1e400",
    "giant": "9" * 5000,
    "deep": "[" * 5000 + "]" * 5000,
}


def raw(name: str) -> str:
    """A placeholder for a value json.dumps cannot write, replaced by splice_raw."""
    return f"{RAW_MARK}{name}@@"


def splice_raw(text: str) -> str:
    """Replace the placeholders (quoted JSON strings) of a dumped body by their raw JSON."""
    if RAW_MARK not in text:
        return text
    for name, value in RAW.items():
        text = text.replace(f'"{raw(name)}"', value)
    return text


def kinds_of(value: Any) -> tuple[str, ...]:
    """The kinds the switch serves: True means all, False/None none, or an iterable of kinds
    (a comma-separated string too, as the command line gives it)."""
    if value is True:
        return tuple(KINDS)
    if not value:
        return ()
    names = value.split(",") if isinstance(value, str) else list(value)
    unknown = sorted(set(names) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown odd value kind(s) {unknown}; expected some of {list(KINDS)}")
    return tuple(kind for kind in KINDS if kind in names)


class OddValues:
    """Which conversation of each page gets which odd value, and how each is rendered."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.kind_of: dict[str, str] = {}  # conversation id → kind
        for page in dataset.pages.values():
            # Named contacts only, so the name kinds have a name to spoil.
            candidates = [c.id for c in page.conversations.values() if c.name is not None]
            rng = random.Random(f"{dataset.seed}:odd:{page.id}")
            picked = rng.sample(candidates, min(len(KINDS), len(candidates)))
            self.kind_of.update(zip(picked, KINDS, strict=False))

    def served_id(self, conv: Conversation) -> str:
        if self.kind_of.get(conv.id) == "long_conversation_id":
            return conv.id + "_" + "9" * 200
        return conv.id

    @staticmethod
    def odd_message_index(conv: Conversation) -> int:
        """The message that carries a message's odd value: the newest generated one (messages
        added at runtime come after it, so it stays the same)."""
        return conv.base_count - 1

    # -- rendering --------------------------------------------------------------------------

    def conversation(self, conv: Conversation, out: dict[str, Any], kinds: tuple[str, ...]):
        """Spoil the rendered conversation `out` (only the fields it has)."""
        kind = self.kind_of.get(conv.id)
        if kind not in kinds:
            return
        if kind == "long_conversation_id" and "id" in out:
            out["id"] = self.served_id(conv)
        elif kind == "nul_snippet" and "snippet" in out:
            out["snippet"] = f"\x00{out['snippet']}\x00"
        elif kind == "surrogate_snippet" and "snippet" in out:
            out["snippet"] = "x" * 99 + "\ud83d"
        elif kind == "huge_counts":
            self._set(out, message_count=2**31, unread_count=2**63)
        elif kind == "infinite_count":
            self._set(out, message_count=raw("1e400"), unread_count=raw("-1e400"))
        elif kind == "giant_count":
            self._set(out, message_count=raw("giant"))
        elif kind == "far_future_time" and "updated_time" in out:
            out["updated_time"] = "9999-12-31T23:59:59-0100"
        for person in (out.get("participants") or {}).get("data", []):
            self._spoil_person(conv, kind, person)

    def message(self, conv: Conversation, msg: Message, full: dict[str, Any], kinds: tuple):
        """Spoil a message's full rendering (before the requested fields are selected)."""
        kind = self.kind_of.get(conv.id)
        if kind not in kinds:
            return
        for person in [full["from"], *full["to"]["data"]]:
            self._spoil_person(conv, kind, person)
        if msg.index != self.odd_message_index(conv):
            return
        if kind == "nul_text":
            full["message"] = "Hello\x00 there\x00!"
        elif kind == "surrogate_text":
            full["message"] = "Cut emoji \ud83d here \ude00"
        elif kind == "nul_attachment":
            full["attachments"] = {"data": [self._attachment(conv, "\x00")]}
        elif kind == "deep_json":
            attachment = self._attachment(conv, "")
            attachment["image_data"]["layers"] = raw("deep")
            full["attachments"] = {"data": [attachment]}
        elif kind == "long_message_id":
            full["id"] = msg.id + "x" * 300
        elif kind == "ancient_time":
            full["created_time"] = "0001-01-01T00:00:00+0100"

    @staticmethod
    def _set(out: dict[str, Any], **values: Any) -> None:
        for name, value in values.items():
            if name in out:
                out[name] = value

    @staticmethod
    def _spoil_person(conv: Conversation, kind: str | None, person: dict[str, Any]) -> None:
        if person.get("id") != conv.psid:
            return
        if kind == "long_contact_id":
            person["id"] = conv.psid + "1" * 100
        elif kind == "nul_name" and "name" in person:
            person["name"] = f"{conv.name[:1]}\x00{conv.name[1:]}"
        elif kind == "surrogate_name" and "name" in person:
            person["name"] = f"{conv.name} \ud83d"

    @staticmethod
    def _attachment(conv: Conversation, nul: str) -> dict[str, Any]:
        return {
            "id": f"odd{conv.link_n}",
            "mime_type": "image/png",
            "name": f"odd{nul}.png",
            "size": 1234,
            "image_data": {
                "url": f"https://scontent.xx.fbcdn.net/v/odd{nul}/{conv.link_n}.png",
                "width": 1,
                "height": 1,
                f"unknown{nul}key": f"value{nul}",
            },
        }

    # -- truth ------------------------------------------------------------------------------

    def report(self, page_id: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        """The odd conversations of a page the switch serves, with what a correct client
        ends with."""
        page = self.dataset.pages[page_id]
        out = []
        for conv_id, kind in self.kind_of.items():
            conv = page.conversations.get(conv_id)
            if conv is None or kind not in kinds:
                continue
            out.append(
                {
                    "id": conv.id,
                    "served_id": self.served_id(conv),
                    "kind": kind,
                    "outcome": KINDS[kind],
                    "expected": self._expected(conv, kind),
                }
            )
        return out

    def _expected(self, conv: Conversation, kind: str) -> dict[str, Any]:
        message = self.dataset.message(conv, self.odd_message_index(conv))
        attachment = {
            "name": "odd.png",
            "url": f"https://scontent.xx.fbcdn.net/v/odd/{conv.link_n}.png",
        }
        return {
            "nul_text": {"message": {"id": message.id, "text": "Hello there!"}},
            "nul_name": {"contact_name": conv.name},
            "nul_snippet": {"snippet": self.dataset.snippet(conv)},
            "nul_attachment": {"message": {"id": message.id, "attachment": attachment}},
            "surrogate_text": {
                "message": {"id": message.id, "text": "Cut emoji \ufffd here \ufffd"}
            },
            "surrogate_name": {"contact_name": f"{conv.name} \ufffd"},
            "surrogate_snippet": {"snippet": "x" * 99 + "\ufffd"},
            "huge_counts": {"message_count": MAX_STORED_COUNT, "unread_count": MAX_STORED_COUNT},
            "infinite_count": {"message_count": 0, "unread_count": 0},
            "giant_count": {"message_count": 0},
            "deep_json": {"message": {"id": message.id, "attachment": attachment}},
        }.get(kind, {})
