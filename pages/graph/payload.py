"""Decode Graph's JSON bodies into data every database can store.

A body can hold values that no column accepts or that Python cannot even build: NUL characters
(PostgreSQL refuses them in text and jsonb), lone UTF-16 surrogates (Graph cuts snippets in the
middle of an emoji; neither SQLite nor PostgreSQL can encode them), `1e400` (a float that is
infinite), integers longer than Python converts, and nesting deeper than the decoder recurses.
Any of these used to stop a Page's sync on the same conversation at every resume.

`parse_json` returns the body with every string cleaned (keys and values, at any depth), every
number finite, and nothing nested deeper than `MAX_DEPTH`: a hostile value becomes an odd field
of one conversation at worst. Only a body that is not JSON at all raises ValueError.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Graph's bodies nest about a dozen levels (batch envelope → Page → conversations → messages →
# attachments → image_data); anything deeper is not data we read. Containers below this depth
# become None, so no caller can hit Python's recursion limit on a body.
MAX_DEPTH = 64
# No count, size or id Graph sends as a number comes close; longer ones would make int() slow
# (Python refuses more than 4,300 digits with ValueError, which would reject the whole body).
MAX_INT_DIGITS = 100

REPLACEMENT_CHARACTER = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string or a bracket, to find nesting in text the decoder could not parse.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def parse_json(body: str | bytes | bytearray) -> Any:
    """Decode a Graph body (as received) into clean data; ValueError if it is not JSON."""
    text = _decode(body)
    try:
        value = _loads(text)
    except RecursionError:
        # The decoder recursed past its limit: cut what lies too deep out of the text first.
        try:
            value = _loads(_without_deep_nesting(text))
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
    return _clean(value, 1)


def clean_text(text: str) -> str:
    """`text` without NUL characters and with lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub(REPLACEMENT_CHARACTER, text)
    return text


def _decode(body: str | bytes | bytearray) -> str:
    if isinstance(body, str):
        return body
    if not isinstance(body, bytes | bytearray):
        raise TypeError(f"a JSON body is str or bytes, not {type(body).__name__}")
    # Invalid UTF-8 (including surrogates encoded as UTF-8, which json.loads would let
    # through) becomes U+FFFD instead of rejecting the whole body.
    return bytes(body).decode(json.detect_encoding(body), "replace")


def _loads(text: str) -> Any:
    return json.loads(
        text,
        # Control characters inside strings (a raw NUL byte) are cleaned afterwards, not
        # a reason to drop the body.
        strict=False,
        parse_int=_int_or_none,
        parse_float=_finite_float_or_none,
        parse_constant=_none,  # NaN, Infinity, -Infinity: not JSON, though Python reads them
    )


def _int_or_none(digits: str) -> int | None:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else None


def _finite_float_or_none(literal: str) -> float | None:
    number = float(literal)
    return number if math.isfinite(number) else None


def _none(literal: str) -> None:
    return None


def _clean(value: Any, depth: int) -> Any:
    """Clean a decoded value in place (the decoder's containers are ours). `depth` is the
    nesting level of `value` (1 for the body itself)."""
    kind = type(value)
    if kind is str:
        return clean_text(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            return None
        dirty_keys = False
        for key, item in value.items():
            if type(item) is str:
                if "\x00" in item or not item.isascii():
                    value[key] = clean_text(item)
            elif type(item) is dict or type(item) is list:
                value[key] = _clean(item, depth + 1)
            dirty_keys = dirty_keys or "\x00" in key or not key.isascii()
        if dirty_keys:
            return {clean_text(key): item for key, item in value.items()}
        return value
    if kind is list:
        if depth > MAX_DEPTH:
            return None
        for index, item in enumerate(value):
            if type(item) is str:
                if "\x00" in item or not item.isascii():
                    value[index] = clean_text(item)
            elif type(item) is dict or type(item) is list:
                value[index] = _clean(item, depth + 1)
        return value
    return value


def _without_deep_nesting(text: str) -> str:
    """`text` with every array or object nested deeper than MAX_DEPTH replaced by `null`.
    Brackets inside strings do not count; unbalanced text is left for the decoder to refuse."""
    pieces: list[str] = []
    depth = 0
    copied_up_to = 0
    cut_from: int | None = None
    for token in _STRING_OR_BRACKET.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth == MAX_DEPTH + 1 and cut_from is None:
                cut_from = token.start()
        elif bracket in ("]", "}"):
            depth -= 1
            if depth == MAX_DEPTH and cut_from is not None:
                pieces += [text[copied_up_to:cut_from], "null"]
                copied_up_to, cut_from = token.end(), None
    pieces.append(text[copied_up_to:])
    return "".join(pieces)
