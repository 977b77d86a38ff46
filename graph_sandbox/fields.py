"""Parsing of the Graph ``fields`` parameter and field selection on rendered objects.

Grammar (whitespace ignored)::

    fields   := field ("," field)*
    field    := name ("." modifier)* ("{" fields "}")?
    modifier := name "(" value ")"

e.g. ``id,participants,messages.limit(10){id,from,attachments{id,image_data{url}}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError


@dataclass
class FieldSpec:
    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    subfields: list[FieldSpec] | None = None

    def to_param(self) -> str:
        out = self.name + "".join(f".{k}({v})" for k, v in self.modifiers.items())
        if self.subfields is not None:
            out += "{" + unparse(self.subfields) + "}"
        return out


def unparse(specs: list[FieldSpec]) -> str:
    return ",".join(s.to_param() for s in specs)


def _syntax_error(text: str, pos: int, expected: str) -> GraphError:
    return GraphError(
        2500,
        f'Syntax error "Expected {expected}." at character {pos}: {text}',
        type_="OAuthException",
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = "".join(text.split())
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",{}().":
            self.pos += 1
        if self.pos == start:
            raise _syntax_error(self.text, self.pos, "field name")
        return self.text[start : self.pos]

    def fields(self, nested: bool) -> list[FieldSpec]:
        out = [self.field()]
        while self.peek() == ",":
            self.pos += 1
            out.append(self.field())
        if nested:
            if self.peek() != "}":
                raise _syntax_error(self.text, self.pos, '"}"')
            self.pos += 1
        elif self.pos != len(self.text):
            raise _syntax_error(self.text, self.pos, "end of string")
        return out

    def field(self) -> FieldSpec:
        spec = FieldSpec(self.name())
        while self.peek() == ".":
            self.pos += 1
            mod = self.name()
            if self.peek() != "(":
                raise _syntax_error(self.text, self.pos, '"("')
            end = self.text.find(")", self.pos)
            if end < 0:
                raise _syntax_error(self.text, self.pos, '")"')
            spec.modifiers[mod] = self.text[self.pos + 1 : end]
            self.pos = end + 1
        if self.peek() == "{":
            self.pos += 1
            spec.subfields = self.fields(nested=True)
        return spec


def parse_fields(text: str | None) -> list[FieldSpec] | None:
    """Parse a ``fields`` value; ``None``/empty gives ``None`` (use the node's defaults)."""
    if text is None or not text.strip():
        return None
    return _Parser(text).fields(nested=False)


def select(value: Any, specs: list[FieldSpec] | None) -> Any:
    """Apply a sub-selection to a rendered value; unknown subfields are ignored.

    ``{"data": [...]}`` containers are selected item by item.
    """
    if specs is None:
        return value
    if isinstance(value, dict) and isinstance(value.get("data"), list) and len(value) == 1:
        return {"data": [select(item, specs) for item in value["data"]]}
    if isinstance(value, dict):
        out = {}
        for spec in specs:
            if spec.name in value:
                out[spec.name] = select(value[spec.name], spec.subfields)
        return out
    return value
