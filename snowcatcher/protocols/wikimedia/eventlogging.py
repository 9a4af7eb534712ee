"""Legacy EventLogging beacons: `/beacon/event?<url-encoded JSON capsule>;` into an EventGate-style event."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from snowcatcher.model import (
    PROTOCOL_EVENTLOGGING,
    CapturedEvent,
    JsonDict,
    RawRequest,
    Violation,
    bad_request,
    iso_time,
)

if TYPE_CHECKING:  # the processor brings jsonschema: imported with the first event
    from snowcatcher.protocols.wikimedia.event import EventProcessor

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
            return [bad_request(raw, problem, protocol=PROTOCOL_EVENTLOGGING)]
        schema = self.processor.validator.registry.lookup(legacy_schema_uri(capsule)).schema
        event, filled = to_event(capsule, raw, schema if isinstance(schema, dict) else {})
        processed = self.processor.process(event, raw.received_at, protocol=PROTOCOL_EVENTLOGGING,
                                           filled=filled, source="query")
        captured = processed.event
        if raw.body:
            ignored = Violation("request", "", "body", "a beacon carries its event in the query string; "
                                "the request body is ignored")
            captured = replace(captured, violations=(*captured.violations, ignored))
        return [captured]


def to_event(capsule: JsonDict, raw: RawRequest | None = None,
             schema: JsonDict | None = None) -> tuple[JsonDict, tuple[str, ...]]:
    """The capsule as the event EventGate receives for it, made the way Wikimedia's legacy
    converter (EventLoggingLegacyConverter) makes it: `$schema` and `meta.stream` set, a `uuid`,
    `client_dt`, `recvFrom` and the user agent in `http.request_headers` added; plus
    `http.client_ip`, which eventgate-wikimedia adds from the request. Fields are added only where
    the schema has them, and every added one is listed in the second value."""
    event = dict(capsule)
    filled = ["$schema", "meta.stream"]
    event["$schema"] = legacy_schema_uri(capsule)
    if _VERSION.match(str(capsule.get("revision"))):
        # The version string picked the schema; the schema's own `revision` is a meta-wiki number.
        del event["revision"]
    meta = event.get("meta")
    event["meta"] = {**(meta if isinstance(meta, dict) else {}),
                     "stream": STREAM_PREFIX + str(capsule.get("schema"))}
    # PHP's EventLogging::logEvent puts the user's agent in the capsule; the Event Platform keeps
    # it in http.request_headers (the converter reads the User-Agent header, which for a beacon PHP
    # sends is MediaWiki's own HTTP client, so the capsule's value is the user's).
    capsule_agent = event.pop("userAgent", None)
    client_dt = event.pop("dt", None)
    properties = _properties(schema)

    def add(name: str, value: Any) -> None:
        if name in properties and name not in event and value is not None:
            event[name] = value
            filled.append(name)

    add("uuid", str(uuid.uuid4()))
    # The client's own time, if it sent one; else the receive time, as the converter sets it.
    add("client_dt", client_dt if client_dt is not None else
        (iso_time(raw.received_at) if raw is not None else None))
    if raw is not None:
        add("recvFrom", raw.remote or None)
        agent = capsule_agent if isinstance(capsule_agent, str) else raw.header("User-Agent")
        client_ip = raw.header("X-Client-IP") or raw.remote
        http_properties = _properties(properties.get("http"))
        http: JsonDict = _object(event.get("http"))
        if agent and "request_headers" in http_properties:
            headers = _object(http.get("request_headers"))
            if "user-agent" not in headers:
                http = {**http, "request_headers": {**headers, "user-agent": agent}}
                filled.append("http.request_headers.user-agent")
        if client_ip and "client_ip" in http_properties and "client_ip" not in http:
            http = {**http, "client_ip": client_ip}
            filled.append("http.client_ip")
        if http:
            event["http"] = http
    return event, tuple(filled)


def _object(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _properties(schema: Any) -> dict[str, Any]:
    found = schema.get("properties") if isinstance(schema, dict) else None
    return found if isinstance(found, dict) else {}


def _capsule_problem(capsule: Any) -> Violation | None:
    if not isinstance(capsule, dict):
        return Violation("query", "", "type", "the beacon's capsule must be a JSON object "
                                              "{\"schema\": ..., \"event\": {...}, ...}")
    schema = capsule.get("schema")
    if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
        return Violation("query", "/schema", "required",
                         "the capsule needs \"schema\": the legacy schema's name, e.g. \"HomepageVisit\"")
    return None
