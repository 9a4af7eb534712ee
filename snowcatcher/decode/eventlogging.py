"""Legacy EventLogging beacons: `/beacon/event?<url-encoded JSON capsule>;` into an EventGate-style event."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import orjson

from snowcatcher.decode.eventgate import wikimedia_bad_request
from snowcatcher.decode.wikimedia_event import EventProcessor
from snowcatcher.model import PROTOCOL_EVENTLOGGING, CapturedEvent, JsonDict, RawRequest, Violation

#: The legacy schemas live under this title prefix in the secondary repository.
LEGACY_TITLE = "analytics/legacy"
STREAM_PREFIX = "eventlogging_"
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\Z")
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_]{1,200}\Z")


def legacy_schema_uri(capsule: JsonDict) -> str:
    """`/analytics/legacy/<schema in lower case>/latest`, or the version a capsule's `revision`
    names when it is a semantic version (meta-wiki revision numbers map to no version)."""
    name = str(capsule.get("schema", "")).lower()
    revision = capsule.get("revision")
    version = revision if isinstance(revision, str) and _VERSION.match(revision) else "latest"
    return f"/{LEGACY_TITLE}/{name}/{version}"


def capsule_from_query(query: str) -> tuple[Any, Violation | None]:
    """The JSON capsule in a beacon's query string; the trailing `;` is EventLogging's end mark."""
    text = query[:-1] if query.endswith(";") else query
    if not text:
        return None, Violation("request", "", "required",
                               "the beacon has no query string: expected /beacon/event?<url-encoded "
                               "JSON capsule>;")
    try:
        return orjson.loads(unquote(text, errors="strict")), None
    except UnicodeDecodeError as error:
        return None, Violation("query", "", "utf-8", f"the query string is not UTF-8 at byte {error.start}")
    except orjson.JSONDecodeError as error:
        return None, Violation("query", "", "json", f"the query string is not a URL-encoded JSON "
                                                    f"capsule: {error}")


class EventLoggingDecoder:
    """Turns legacy beacons into events validated like EventGate's; never raises."""

    def __init__(self, processor: EventProcessor) -> None:
        self.processor = processor

    def decode(self, raw: RawRequest) -> list[CapturedEvent]:
        capsule, problem = capsule_from_query(raw.query)
        if problem is None:
            problem = _capsule_problem(capsule)
        if problem is not None:
            return [wikimedia_bad_request(raw, PROTOCOL_EVENTLOGGING, problem)]
        event, filled = to_event(capsule)
        processed = self.processor.process(event, raw.received_at, protocol=PROTOCOL_EVENTLOGGING,
                                           filled=filled, source="query")
        captured = processed.event
        if raw.body:
            ignored = Violation("request", "", "body", "a beacon carries its event in the query string; "
                                "the request body is ignored")
            captured = replace(captured, violations=(*captured.violations, ignored))
        return [captured]


def to_event(capsule: JsonDict) -> tuple[JsonDict, tuple[str, ...]]:
    """The capsule as the event EventGate receives for it: `$schema` and `meta.stream` added,
    and the client's `dt` kept as `client_dt` (the server's `dt` is the receive time)."""
    event = dict(capsule)
    filled = ["$schema", "meta.stream"]
    event["$schema"] = legacy_schema_uri(capsule)
    meta = event.get("meta")
    event["meta"] = {**(meta if isinstance(meta, dict) else {}),
                     "stream": STREAM_PREFIX + str(capsule.get("schema"))}
    client_dt = event.pop("dt", None)
    if client_dt is not None and "client_dt" not in event:
        event["client_dt"] = client_dt
        filled.append("client_dt")
    return event, tuple(filled)


def _capsule_problem(capsule: Any) -> Violation | None:
    if not isinstance(capsule, dict):
        return Violation("query", "", "type", "the beacon's capsule must be a JSON object "
                                              "{\"schema\": ..., \"event\": {...}, ...}")
    schema = capsule.get("schema")
    if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
        return Violation("query", "/schema", "required",
                         "the capsule needs \"schema\": the legacy schema's name, e.g. \"HomepageVisit\"")
    return None
