"""Make hostile decoded values storable: cap their depth, mend lone surrogates, bound huge integers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from snowcatcher import json_numbers
from snowcatcher.model import CapturedEvent, RawRequest, Violation

#: orjson.loads accepts 1024 levels but orjson.dumps refuses more than 254, so a value that
#: decoded fine could not be written back; deeper parts are replaced by a note.
MAX_DEPTH = 128
DEEP_NOTE = f"… (nested deeper than {MAX_DEPTH} levels; the raw request has the full value)"


def dumps(value: Any) -> bytes:
    """orjson.dumps, falling back to a mended copy for values orjson refuses."""
    try:
        return json_numbers.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return json_numbers.dumps(mend(value)[0])


def mend(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """A copy of `value` that orjson and SQLite accept, and whether anything had to change."""
    if isinstance(value, str):
        text = clean_text(value)
        return text, text is not value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value, False
    if isinstance(value, int):
        return value, False  # any size: json_numbers writes and reads integers whole
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        return DEEP_NOTE, True
    if isinstance(value, dict):
        pairs = [(mend(str(key), depth)[0], mend(item, depth + 1)) for key, item in value.items()]
        changed = any(fixed for _, (_, fixed) in pairs) or any(not isinstance(k, str) for k in value)
        return {key: item for key, (item, _) in pairs}, changed
    if isinstance(value, list | tuple):
        items = [mend(item, depth + 1) for item in value]
        return [item for item, _ in items], any(fixed for _, fixed in items)
    return clean_text(repr(value)), True


def clean_text(text: str) -> str:
    """`text` itself when it is valid UTF-8 text, else with lone surrogates shown as `\\udcff`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def mend_request(request: RawRequest) -> RawRequest:
    """The request with every text field valid UTF-8 (SQLite refuses lone surrogates)."""
    return replace(request, method=clean_text(request.method), path=clean_text(request.path),
                   query=clean_text(request.query), remote=clean_text(request.remote),
                   headers=tuple((clean_text(k), clean_text(v)) for k, v in request.headers))


def mend_event(event: CapturedEvent) -> CapturedEvent:
    """The event with a storable payload and entities, saying so in a violation when it changed."""
    payload, changed = mend(event.payload)
    entities = []
    for entity in event.entities:
        data, fixed = mend(entity.data)
        changed = changed or fixed
        entities.append(replace(entity, schema=clean_text(entity.schema), data=data))
    violations = [Violation(*(clean_text(part) for part in (v.entity, v.path, v.keyword, v.message)))
                  for v in event.violations]
    if changed:
        violations.append(Violation("event", "", "storage", "parts of this event could not be stored "
                                    f"as sent (deeper than {MAX_DEPTH} levels or invalid UTF-8) and were "
                                    "replaced; the raw request "
                                    "has them"))
    return replace(event, payload=payload if isinstance(payload, dict) else {"event": payload},
                   entities=tuple(entities), violations=tuple(violations),
                   name=clean_text(event.name), schema=clean_text(event.schema),
                   app_id=clean_text(event.app_id))
