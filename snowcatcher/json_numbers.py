"""JSON parsing that keeps every integer an integer: orjson turns those beyond 64 bits into floats,
and `2**64` would then fail a schema's `"type": "integer"` (Snowplow's pipeline keeps it whole)."""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import Any

import orjson

# Every digit as "1", everything else as "0": a run of 19 digits (the shortest that can exceed 64
# bits) is then a plain substring search, which costs a tenth of a regular expression's scan.
_DIGITS = bytes(ord("1") if ord("0") <= byte <= ord("9") else ord("0") for byte in range(256))
_LONG_RUN = b"1" * 19


def loads(text: bytes | str) -> Any:
    """orjson.loads (same errors for bad JSON), re-read by the standard library when the text
    holds an integer orjson could not keep exactly."""
    value = orjson.loads(text)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _LONG_RUN not in raw.translate(_DIGITS) or not _has_big_float(value):
        return value
    # orjson already accepted the text, so it is valid JSON; NaN and Infinity were refused.
    return json.loads(text)


def dumps(value: Any) -> bytes:
    """orjson.dumps, with integers beyond 64 bits written whole by the standard library (orjson
    refuses them); any other error is orjson's."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        if "Integer" not in str(error):  # depth, surrogates, ...: the callers mend those
            raise
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError):
            raise error from None


def _has_big_float(value: Any) -> bool:
    """Whether any number orjson produced is a float that may stand for a large integer."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if item.is_integer() and abs(item) >= 2**63:
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


#: Bodies longer than this are parsed a piece at a time (a piece of ~64 KB parses in a few ms).
SPLIT_ABOVE = 128 * 1024
_PIECE = 64 * 1024
#: Where a piece may end: after an array element, or where its array closes; an object closing
#: just before is tried first (arrays of events hold objects, whose commas inside do not end them).
_PIECE_END = re.compile(rb"[,\]]")
_OBJECT_END = re.compile(rb"\}[ \t\r\n]*[,\]]")
#: The `data` array of a Snowplow payload_data body (or any object keeping its list there).
_DATA_ARRAY = re.compile(rb'"data"\s*:\s*\[')
_SPACE = b" \t\r\n"


def loads_in_parts(text: bytes) -> Generator[None, None, Any]:
    """loads(), yielding between pieces of a long body so that the event loop runs between them.

    A long body's big array (the body itself, or its "data" array) is parsed a few elements at a
    time: a piece is cut at a comma or bracket and kept if it parses as a list of whole elements,
    which it only does when the cut is between two elements of that array (a cut inside a string
    or a nested value leaves it unfinished); else the piece is made longer. What is around the
    array is then parsed with the array replaced by [] and by 0, which proves the array is the
    top-level "data" value. Anything else (another shape, broken JSON) is parsed whole, with the
    same result and errors as loads().
    """
    if len(text) <= SPLIT_ABOVE:
        return loads(text)
    start = len(text) - len(text.lstrip(_SPACE))
    if text[start:start + 1] == b"[":
        wrap = 1  # the body is the array
        first = start + 1
    elif text[start:start + 1] == b"{" and (found := _DATA_ARRAY.search(text, start)) is not None:
        wrap = 2  # elements sit one level deeper, as in the body (orjson's depth limit counts it)
        first = found.end()
    else:
        return loads(text)
    elements = yield from _array_elements(text, first, wrap)
    if elements is None:
        return loads(text)
    items, end = elements
    if wrap == 1:
        return items if not text[end + 1:].strip(_SPACE) else loads(text)
    before, after = text[:first - 1], text[end + 1:]
    try:
        emptied, zeroed = loads(before + b"[]" + after), loads(before + b"0" + after)
    except orjson.JSONDecodeError:
        return loads(text)
    if not (isinstance(emptied, dict) and isinstance(zeroed, dict) and emptied.get("data") == []
            and zeroed.get("data") == 0):
        return loads(text)
    emptied["data"] = items
    return emptied


def _array_elements(text: bytes, first: int, wrap: int
                    ) -> Generator[None, None, tuple[list[Any], int] | None]:
    """The elements of the array whose first element starts at `first`, and the index of its
    closing bracket; None when no cut parses (broken JSON, or one huge element)."""
    items: list[Any] = []
    position, size = first, _PIECE
    opening, closing = b"[" * wrap, b"]" * wrap
    while True:
        target = min(position + size, len(text))
        cut = _OBJECT_END.search(text, target, target + _PIECE) or _PIECE_END.search(text, target)
        end = cut.end() - 1 if cut is not None else text.rfind(b"]")
        if end < position:
            return None
        if not text[position:end].strip(_SPACE) and (position != first or text[end:end + 1] != b"]"):
            return None  # a comma with nothing before it, or after it before the bracket
        try:
            piece = loads(opening + text[position:end] + closing)
        except orjson.JSONDecodeError:
            if cut is None:
                return None
            size *= 2  # the cut fell inside an element: try a longer piece
        else:
            items.extend(piece[0] if wrap == 2 else piece)
            if text[end:end + 1] == b"]":
                return items, end
            position, size = end + 1, _PIECE
        yield
