"""Human names and groups for Snowplow tracker parameters, and readable renderings of their values."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent

GROUPS = ("event", "app", "user", "page", "browser", "timestamps", "other")

#: parameter -> (group, human name)
FIELDS: dict[str, tuple[str, str]] = {
    "e": ("event", "event type"), "eid": ("event", "event id"),
    "se_ca": ("event", "category"), "se_ac": ("event", "action"), "se_la": ("event", "label"),
    "se_pr": ("event", "property"), "se_va": ("event", "value"),
    "ue_px": ("event", "self-describing event (base64)"), "ue_pr": ("event", "self-describing event"),
    "cx": ("event", "contexts (base64)"), "co": ("event", "contexts"),
    "pp_mix": ("event", "ping min x offset"), "pp_max": ("event", "ping max x offset"),
    "pp_miy": ("event", "ping min y offset"), "pp_may": ("event", "ping max y offset"),
    "aid": ("app", "app id"), "p": ("app", "platform"), "tna": ("app", "tracker namespace"),
    "tv": ("app", "tracker version"),
    "uid": ("user", "user id"), "duid": ("user", "domain user id"), "nuid": ("user", "network user id"),
    "tnuid": ("user", "network user id (tracker)"), "sid": ("user", "session id"),
    "vid": ("user", "session index"), "ip": ("user", "IP address"),
    "url": ("page", "page URL"), "page": ("page", "page title"), "refr": ("page", "referrer"),
    "ua": ("browser", "user agent"), "lang": ("browser", "language"), "cookie": ("browser", "cookies"),
    "cd": ("browser", "colour depth"), "cs": ("browser", "charset"), "ds": ("browser", "document size"),
    "vp": ("browser", "viewport"), "res": ("browser", "screen resolution"),
    "tz": ("browser", "time zone"), "f_pdf": ("browser", "PDF plugin"),
    "dtm": ("timestamps", "device created"), "stm": ("timestamps", "device sent"),
    "ttm": ("timestamps", "true time"), "rtm": ("timestamps", "relay time"),
}

EVENT_TYPES = {"pv": "page view", "pp": "page ping", "se": "structured", "ue": "self-describing",
               "tr": "transaction", "ti": "transaction item", "ad": "ad impression"}
_MILLIS = {"dtm", "stm", "ttm", "rtm"}


def readable_time(seconds: float, *, date: bool = True) -> str:
    """Local time with milliseconds, e.g. `2025-03-17 09:53:47.525`."""
    moment = time.localtime(seconds)
    millis = int((seconds % 1) * 1000)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S", moment)
    return f"{stamp}.{millis:03d}"


def describe(key: str, value: Any) -> str:
    """A readable rendering of a parameter's value: times as dates, event codes spelled out."""
    if key in _MILLIS:
        try:
            return f"{readable_time(int(value) / 1000)}  ({value})"
        except (TypeError, ValueError):
            return str(value)
    if key == "e" and value in EVENT_TYPES:
        return f"{EVENT_TYPES[value]}  ({value})"
    if key in ("ue_px", "cx") and isinstance(value, str) and len(value) > 48:
        return f"{value[:40]}…  ({len(value)} chars, decoded under Entities)"
    return value if isinstance(value, str) else str(value)


def grouped(event: CapturedEvent) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """The event's parameters as (group, [(human name, parameter, readable value)]), in GROUPS order."""
    rows: dict[str, list[tuple[str, str, str]]] = {group: [] for group in GROUPS}
    for key, value in _flat(event):
        group, human = FIELDS.get(key, ("other", key))
        rows[group].append((human, key, describe(key, value)))
    rows["timestamps"].append(("received", "", readable_time(event.received_at)))
    for group in GROUPS:
        if rows[group]:
            yield group, rows[group]


def _flat(event: CapturedEvent) -> Iterator[tuple[str, Any]]:
    if event.protocol == PROTOCOL_SNOWPLOW:
        yield from event.payload.items()
        return
    for key, value in event.payload.items():  # Wikimedia: one level of nesting, dotted
        if isinstance(value, dict) and key != "event":
            for inner, item in value.items():
                yield f"{key}.{inner}", item
        elif not isinstance(value, dict):
            yield key, value
