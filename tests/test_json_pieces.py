"""A long JSON body parsed in pieces (so that the event loop runs between them) gives exactly what
one parse gives: the same value, or the same error, whatever the body holds."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Generator
from typing import Any

import orjson
import pytest

from snowcatcher import json_numbers
from snowcatcher.json_numbers import SPLIT_ABOVE, loads, loads_in_parts

PAD = "x" * (SPLIT_ABOVE + 1000)
ONES = b",".join([b"1"] * 100_000)


def _run(parts: Generator[None, None, Any]) -> tuple[Any, int]:
    """The parsed value and how many times the parse let the event loop run."""
    pauses = 0
    while True:
        try:
            next(parts)
        except StopIteration as done:
            return done.value, pauses
        pauses += 1


def _outcome(parse: Any) -> tuple[str, str]:
    try:
        value = parse()
    except orjson.JSONDecodeError as error:
        return "error", str(error)
    return "value", json.dumps(value)  # the text compares nesting too deep for ==


def _agrees(text: bytes) -> None:
    assert _outcome(lambda: loads(text)) == _outcome(lambda: _run(loads_in_parts(text))[0]), text[:80]


@pytest.fixture(autouse=True)
def _deep_comparisons() -> Generator[None, None, None]:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # json.dumps of the 1,000-deep bodies below
    yield
    sys.setrecursionlimit(limit)


def test_a_tracker_body_of_80000_events_is_parsed_in_pieces_to_the_same_value() -> None:
    text = orjson.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                         "data": [{"e": "pv", "url": "https://a.test/?q=1,2]"}] * 80_000})
    value, pauses = _run(loads_in_parts(text))
    assert value == orjson.loads(text)
    assert list(value) == ["schema", "data"]  # the keys keep their order
    assert pauses >= len(text) // (128 * 1024)  # the event loop ran between pieces


@pytest.mark.parametrize("text", [
    b"[" + b",".join([b"{}"] * 100_000) + b"]",
    b"  [ " + b" ,\n".join([b'{"a":"]"}'] * 30_000) + b" ] \n",
    orjson.dumps([{"s": "a,b],[c" * 10, "n": [1, [2, 3]], "d": "\"data\":[1,2]"}] * 5000),
    orjson.dumps({"a": "\"data\":[1,2]" + PAD, "data": []}),  # "data":[ inside a string first
    orjson.dumps({"data": [1], "x": PAD}),
    orjson.dumps({"x": PAD, "data": [1] * 100_000, "y": {"data": [2]}}),
    orjson.dumps({"data": {"data": [1] * 100_000}}),  # a nested "data" is not the body's
    orjson.dumps({"data": "[" + PAD + "]"}),
    b'{"data":[' + ONES + b'],"data":[3]}',  # a key given twice
    b'{"data":[' + b",".join([b"184467440737095516160"] * 10_000) + b"]}",  # past 64 bits
    b"[" + b",".join([b'"' + b"a,]" * 50_000 + b'"'] * 3) + b"]",  # elements longer than a piece
    b"[" + b"[" * 1023 + b"]" * 1023 + b"," + ONES + b"]",  # at orjson's depth limit
    b'{"data":[' + b"[" * 1022 + b"]" * 1022 + b"," + ONES + b"]}",
    b'{"data":[]' + b" " * SPLIT_ABOVE + b"}",
], ids=lambda text: f"{len(text)}-{text[:12]!r}")
def test_long_bodies_parse_in_pieces_as_they_parse_whole(text: bytes) -> None:
    _agrees(text)


@pytest.mark.parametrize("text", [
    b"[" + ONES + b",]", b"[," + ONES + b"]", b"[" + ONES + b"] x", b"[" + ONES,
    b"[" + b"[" * 1024 + b"]" * 1024 + b"," + ONES + b"]",  # past orjson's depth limit
    b'{"data":[' + b"[" * 1023 + b"]" * 1023 + b"," + ONES + b"]}",
    b'{"data":[' + ONES + b"]", b'{"data":[' + b",".join([b'"\xff"'] * 100_000) + b"]}",
], ids=lambda text: f"{len(text)}-{text[-12:]!r}")
def test_broken_long_bodies_give_the_error_one_parse_gives(text: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        loads(text)
    _agrees(text)


def test_long_bodies_damaged_anywhere_parse_in_pieces_as_they_parse_whole() -> None:
    whole = orjson.dumps({"schema": "s", "data": [{"e": "pv", "x": [1, "a,]b", {"c": "]"}]}] * 4500})
    assert len(whole) > SPLIT_ABOVE
    chance = random.Random(13)
    for _ in range(150):
        text = bytearray(whole)
        for _ in range(chance.randint(1, 3)):
            text[chance.randrange(len(text))] = chance.choice(b'[]{},"\\:1 a')
        _agrees(bytes(text))


def test_short_bodies_are_parsed_at_once() -> None:
    value, pauses = _run(json_numbers.loads_in_parts(b'{"data": [1, 2]}'))
    assert value == {"data": [1, 2]} and pauses == 0
