"""pages.graph.payload.parse_json: Graph bodies decoded into data every database stores."""

from __future__ import annotations

import json

import pytest

from pages.graph.payload import MAX_DEPTH, clean_text, parse_json


def depth_of(value) -> int:
    depth = 0
    while isinstance(value, list | dict):
        depth += 1
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
    return depth


def test_plain_bodies_decode_as_json_does():
    body = {"data": [{"id": "t_1", "snippet": "Olá 🚲 👨‍👩‍👧", "n": 3, "x": 1.5, "ok": True}]}
    text = json.dumps(body)  # ASCII, emoji as surrogate pairs: they must stay emoji

    assert parse_json(text) == body
    assert parse_json(text.encode()) == body
    assert parse_json(json.dumps(body, ensure_ascii=False).encode()) == body


def test_nul_characters_are_dropped_from_values_and_keys_at_any_depth():
    text = r'{"a\u0000b": {"data": [{"message": "x\u0000y", "attachments": {"data": [{"name": "f\u0000.png", "image_data": {"url": "u\u0000"}}]}}]}}'  # noqa: E501

    body = parse_json(text)

    attachment = body["ab"]["data"][0]["attachments"]["data"][0]
    assert body["ab"]["data"][0]["message"] == "xy"
    assert attachment == {"name": "f.png", "image_data": {"url": "u"}}


def test_raw_control_characters_in_strings_do_not_reject_the_body():
    assert parse_json(b'{"message": "a\x00b\x01c"}') == {"message": "ab\x01c"}


def test_lone_surrogates_become_replacement_characters():
    cut_emoji = json.dumps({"snippet": "x" * 99 + "\ud83d", "low": "\ude00 end"})

    body = parse_json(cut_emoji)

    assert body == {"snippet": "x" * 99 + "\ufffd", "low": "\ufffd end"}
    assert parse_json('{"k\\udc00": "\\ud83d\\ud83d\\ude00"}') == {"k\ufffd": "\ufffd😀"}


def test_surrogates_encoded_as_utf8_bytes_become_replacement_characters():
    # json.loads(bytes) would decode these with "surrogatepass" and let them through.
    body = b'{"name": "Zo\xed\xa0\xbd"}'

    assert parse_json(body) == {"name": "Zo\ufffd\ufffd\ufffd"}


def test_numbers_python_cannot_represent_become_none():
    body = parse_json(
        '{"inf": 1e400, "ninf": -1e400, "nan": NaN, "infinity": Infinity, "giant": '
        + "9" * 5000
        + ', "big": 9223372036854775808, "small": 1e-400}'
    )

    assert body == {
        "inf": None,
        "ninf": None,
        "nan": None,
        "infinity": None,
        "giant": None,
        "big": 2**63,
        "small": 0.0,
    }


def test_nesting_too_deep_for_the_decoder_is_cut_not_a_crash():
    deep = "[" * 5000 + "]" * 5000
    text = '{"data": [{"id": "t_1", "image_data": {"layers": ' + deep + '}, "n": "x\\u0000"}]}'

    body = parse_json(text)

    item = body["data"][0]
    assert item["id"] == "t_1"
    assert item["n"] == "x"
    # The body's levels: object, data list, item, image_data, then the layers.
    assert depth_of(item["image_data"]["layers"]) == MAX_DEPTH - 4


def test_nesting_within_the_decoder_limit_is_cut_to_max_depth_too():
    body = parse_json("[" * 500 + "]" * 500)

    assert depth_of(body) == MAX_DEPTH


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"text": "' + "[" * 5000 + '", "deep": ' + "[" * 3000 + "]" * 3000 + "}"

    body = parse_json(text)

    assert body["text"] == "[" * 5000
    assert depth_of(body["deep"]) == MAX_DEPTH - 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>Sorry, something went wrong.</html>",
        b'{"data": [',
        "[" * 5000,  # deep and unbalanced: still a ValueError, never a RecursionError
        '{"a": "' + "x" * 10 + "]" * 3000,
    ],
)
def test_bodies_that_are_not_json_raise_value_error(body):
    with pytest.raises(ValueError):  # noqa: PT011 (the client's "not JSON" handling)
        parse_json(body)


def test_clean_text_keeps_clean_text_as_is():
    text = "Olá 🚲 José"

    assert clean_text(text) is text
    assert clean_text("a\x00\ud83d") == "a\ufffd"
