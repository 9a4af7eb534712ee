"""Tracker parameters and Wikimedia event fields in groups with readable values (the names and groups
come from the protocol registry)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import orjson

from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import PROTOCOLS

EVENT_TYPES = {"pv": "page view", "pp": "page ping", "se": "structured", "ue": "self-describing",
               "tr": "transaction", "ti": "transaction item", "ad": "ad impression"}
_MILLIS = {"dtm", "stm", "ttm", "rtm"}


def readable_time(seconds: object, *, date: bool = True) -> str:
    """Local time with milliseconds, e.g. `2025-03-17 09:53:47.525`, or `invalid time: 1e20`.

    Any value is accepted: a stored or imported time can be anything, and the C library refuses
    years it cannot represent (OverflowError, or OSError EOVERFLOW) rather than return a date.
    """
    try:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError
        moment = time.localtime(seconds)
        millis = int((seconds % 1) * 1000)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S", moment)
    except (TypeError, ValueError, OverflowError, OSError):
        return f"invalid time: {_plain(seconds)}"
    return f"{stamp}.{millis:03d}"


def _millis_time(value: object) -> str:
    """A tracker's milliseconds since the epoch (a string in the query) as a readable time."""
    try:
        millis = int(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    except ValueError:
        millis = None
    if millis is None:
        return f"invalid time: {_plain(value)}"
    readable = readable_time(millis / 1000) if abs(millis) < 2**63 else "invalid time:"
    if readable.startswith("invalid time:"):
        return f"invalid time: {_plain(value)}"
    return f"{readable}  ({_plain(value)})"


def _plain(value: object) -> str:
    """A value as its user wrote it: strings bare, anything else as JSON (1e20, null, true)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def describe(key: str, value: Any) -> str:
    """A readable rendering of a parameter's value: times as dates, event codes spelled out."""
    if key in _MILLIS:
        return _millis_time(value)
    if key == "e" and isinstance(value, str) and value in EVENT_TYPES:
        return f"{EVENT_TYPES[value]}  ({value})"
    if key in ("ue_px", "cx") and isinstance(value, str) and len(value) > 48:
        return f"{value[:40]}…  ({len(value)} chars, decoded under Entities)"
    return _plain(value)


#: A Metrics Platform interaction's own fields (submitInteraction), shown first.
INTERACTION_FIELDS = ("action", "action_subtype", "action_source", "action_context", "instrument_name",
                      "element_id", "element_friendly_name", "funnel_name", "funnel_entry_token",
                      "funnel_event_sequence_position")
#: The Metrics Platform's context objects, in the order the Overview shows them.
CONTEXT_GROUPS = ("agent", "page", "mediawiki", "performer")


def grouped(event: CapturedEvent) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """The event's parameters as (group, [(human name, parameter, readable value)]), in the order of
    its protocol's groups."""
    names = PROTOCOLS.fields_of(event.protocol)
    if not names:
        yield from _wikimedia_grouped(event)
        return
    rows: dict[str, list[tuple[str, str, str]]] = {
        group: [] for group in PROTOCOLS.field_groups(event.protocol)}
    for key, value in _flat(event):
        group, human = names.get(key, ("other", key))
        rows[group if group in rows else "other"].append((human, key, describe(key, value)))
    rows.setdefault("timestamps", []).append(("received", "", readable_time(event.received_at)))
    for group in rows:
        if rows[group]:
            yield group, rows[group]


def _flat(event: CapturedEvent) -> Iterator[tuple[str, Any]]:
    yield from event.payload.items()


def _wikimedia_grouped(event: CapturedEvent) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """A Wikimedia event's fields: the interaction (action, action_source, …), then each context
    object (agent, page, mediawiki, performer, then meta, http, …) as a group of its own, then the
    other top-level fields. A legacy event's `event` object is its first group, "event fields"."""
    payload = event.payload
    interaction = [(key, key, _json_value(payload[key])) for key in INTERACTION_FIELDS if key in payload]
    if interaction:
        yield "interaction", interaction
    objects = [key for key, value in payload.items() if isinstance(value, dict)]
    # A legacy EventLogging event's own fields (its `event` object) come first.
    order = {name: index for index, name in enumerate(("event", *CONTEXT_GROUPS))}
    for key in sorted(objects, key=lambda name: order.get(name, len(order))):
        yield ("event fields" if key == "event" else key,
               [(inner, f"{key}.{inner}", _json_value(value)) for inner, value in payload[key].items()])
    rest = [(key, key, _json_value(value)) for key, value in payload.items()
            if key not in INTERACTION_FIELDS and not isinstance(value, dict)]
    rest.append(("received", "", readable_time(event.received_at)))
    yield "event", rest


def _json_value(value: Any) -> str:
    """Strings as they are, anything else as JSON (true, null, ["a"]), never a Python repr."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
