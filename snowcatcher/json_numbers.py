"""JSON parsing that keeps every integer an integer: orjson turns those beyond 64 bits into floats,
and `2**64` would then fail a schema's `"type": "integer"` (Snowplow's pipeline keeps it whole)."""

from __future__ import annotations

import json
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
