"""The values snowcatcher passes around: raw requests, decoded entities, violations, captured events."""

from __future__ import annotations

import datetime
import http
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

PROTOCOL_SNOWPLOW = "snowplow"
PROTOCOL_EVENTGATE = "eventgate"
PROTOCOL_EVENTLOGGING = "eventlogging"

#: event_type of a request that yielded no decodable event at all (not JSON, wrong content type, ...).
BAD_REQUEST = "bad_request"
#: event_type of an event whose type could not be determined (missing or unknown `e`).
UNKNOWN_TYPE = "unknown"

#: Statuses of requests the collector refused without decoding them (no such endpoint, a body,
#: query string or headers over the limits): their one bad_request event says why, and decoding
#: the kept part again would lose that.
REFUSED_STATUSES = frozenset({404, 413, 414, 431})

#: The times a capture can hold: 1970-01-01 up to the end of 9999, the last year every reader
#: (ISO dates, local clocks, HAR) can show.
EARLIEST_TIME = 0.0
LATEST_TIME = 253402300799.999


def iso_time(seconds: float) -> str:
    """`2020-04-02T19:11:20.942Z` (UTC, milliseconds): JavaScript's toISOString(), which EventGate
    fills meta.dt with, and the form Enrich writes its timestamps in."""
    millis = int(seconds * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def epoch_of_iso_time(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (`2020-04-02T19:11:20.942Z`; one without an offset is UTC);
    ValueError for text that is none."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def time_problem(name: str, seconds: object) -> str | None:
    """Why `seconds` cannot be a stored time (not a finite number from 1970 to 9999), or None."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        kinds = {str: "a string", list: "an array", dict: "an object", bool: "a boolean"}
        return (f"{name} must be a number of seconds since 1970, not "
                f"{kinds.get(type(seconds), 'null')}")
    if math.isnan(seconds) or not EARLIEST_TIME <= seconds <= LATEST_TIME:
        shown = "NaN" if math.isnan(seconds) else str(seconds).replace("inf", "Infinity")
        return f"{name} {shown} is not a time between 1970 and the end of 9999"
    return None


#: Violation.keyword of a check that could not be finished (a schema not fetched yet, a pattern
#: that did not finish, a schema too expensive to evaluate). It is no verdict on the data: an
#: event with only such violations is "unchecked", never "invalid", and is checked again later.
UNCHECKED = "unchecked"
#: The start of every unchecked violation's message.
NOT_CHECKED = "not checked: "
#: The start of the message of an unchecked violation whose schema a remote registry may still
#: provide; its entity ends with the schema's URI (see unresolved_uris).
UNRESOLVED = NOT_CHECKED + "schema unresolved: "
VALID = "valid"
INVALID = "invalid"
#: CapturedEvent.verdict of an event that has unchecked violations and no others.
UNCHECKED_VERDICT = "unchecked"


def verdict_of(violations: tuple[Violation, ...] | list[Violation]) -> str:
    """"invalid" if any violation is a real one, else "unchecked" if any check could not be
    finished, else "valid"."""
    if not violations:
        return VALID
    return UNCHECKED_VERDICT if all(v.keyword == UNCHECKED for v in violations) else INVALID


def transient(violations: tuple[Violation, ...] | list[Violation]) -> bool:
    """True when a result holds an unfinished check: such a result must never be cached."""
    return any(v.keyword == UNCHECKED for v in violations)


def unresolved_uris(events: Iterable[CapturedEvent]) -> set[str]:
    """The schema URIs these decoded events wait for, which a remote registry may still provide:
    decoding reports them in its result, as the last word of such a violation's entity."""
    return {violation.entity.rsplit(" ", 1)[-1] for event in events if event.violations
            for violation in event.violations
            if violation.keyword == UNCHECKED and violation.message.startswith(UNRESOLVED)}


def json_pointer(parts: Iterable[object]) -> str:
    """The JSON pointer (RFC 6901) to a value: `/a~1b/0` for the keys and indexes `a/b`, 0."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def pointer_parts(pointer: str) -> list[str]:
    """The keys and indexes a JSON pointer (RFC 6901) names, unescaped: `a/b`, `0` for `/a~1b/0`."""
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def schema_name(uri: str) -> str:
    """The short name in a schema URI: `gitlab_standard` for `iglu:com.gitlab/gitlab_standard/...`,
    `homepagevisit` for `/analytics/legacy/homepagevisit/1.2.1`; empty when it is no schema URI."""
    if uri.startswith("iglu:"):
        parts = uri[5:].split("/")
        return parts[1] if len(parts) == 4 else ""
    if uri.startswith("/"):
        parts = uri.strip("/").split("/")
        return parts[-2] if len(parts) >= 2 else ""
    return ""


@dataclass(frozen=True, slots=True)
class RawRequest:
    """One HTTP request exactly as it reached the collector."""

    method: str
    path: str
    #: The raw query string, without the leading `?`.
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: Seconds since the epoch when the collector received the request.
    received_at: float
    remote: str = ""
    #: Set by the store once the request is stored.
    id: int = 0

    def header(self, name: str, default: str = "") -> str:
        """The first header called `name` (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default


@dataclass(frozen=True, slots=True)
class Response:
    """What the collector answered to a request."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    #: The reason phrase sent after the status; None: the standard one (`OK`, `Bad Request`).
    reason: str | None = None
    #: The answer's headers as sent (Content-Type, Set-Cookie, CORS …), in order; None for an
    #: answer stored before snowcatcher recorded them.
    headers: tuple[tuple[str, str], ...] | None = None

    def with_headers(self, *headers: tuple[str, str]) -> Response:
        """This answer with `headers` added after those it has."""
        return Response(self.status, self.body, self.content_type, self.reason,
                        (*(self.headers or ()), *headers))


def reason_phrase(answer: Response) -> str:
    """The reason phrase sent with an answer's status: its own, else the standard one."""
    if answer.reason is not None:
        return answer.reason
    try:
        return http.HTTPStatus(answer.status).phrase
    except ValueError:
        return ""


#: A JSON string in a violation's message.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with an event: a decode problem, a protocol violation or a schema violation."""

    #: What it is about, e.g. `contexts[0] iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1`,
    #: `payload_data`, `cx`, `request`.
    entity: str
    #: A JSON pointer inside that entity (`/realm`); empty for the entity as a whole.
    path: str
    #: The rule that failed: a JSON-schema keyword (`enum`, `required`) or one of ours
    #: (`base64`, `json`, `resolve`, `content-type`, `event-type`, `size`).
    keyword: str
    #: A sentence a person can act on.
    message: str

    def short(self) -> str:
        """A one-line summary for lists: the entity's schema name, the path and the message."""
        where = schema_name(self.entity.split(" ", 1)[-1]) or self.entity
        if self.path:
            return f"{where} {self.path}: {self.message}"
        # Decode messages often name their source already (`cx: invalid base64url …`).
        return self.message if self.message.startswith(f"{where}: ") else f"{where}: {self.message}"

    def named_properties(self) -> list[str]:
        """The property names a `required` or `additionalProperties` violation is about: the JSON
        strings before any parenthesis, as validate.explain writes them (`required property "name"
        is missing`, `undeclared properties "a", "b" (...)`)."""
        names = []
        for quoted in _QUOTED.findall(self.message.split(" (", 1)[0]):
            try:
                names.append(str(json.loads(f'"{quoted}"')))
            except ValueError:
                continue
        return names

    def to_json(self) -> JsonDict:
        return {"entity": self.entity, "path": self.path, "keyword": self.keyword,
                "message": self.message}

    @classmethod
    def from_json(cls, data: JsonDict) -> Violation:
        return cls(str(data.get("entity", "")), str(data.get("path", "")),
                   str(data.get("keyword", "")), str(data.get("message", "")))


@dataclass(frozen=True, slots=True)
class Entity:
    """A decoded self-describing JSON found in an event: the event itself or one of its contexts."""

    #: `event` for the self-describing event (`ue_px`/`ue_pr`, or a whole EventGate event),
    #: `context` for an entry of `cx`/`co`.
    role: str
    #: Position among the entities of the same role.
    index: int
    #: The schema URI the data names (`iglu:...` or a Wikimedia `$schema`).
    schema: str
    data: Any
    #: The parameter it was decoded from: `ue_px`, `ue_pr`, `cx`, `co`, or `body`.
    source: str

    @property
    def label(self) -> str:
        """The name violations use for this entity, e.g. `contexts[1] iglu:...`."""
        if self.role == "context":
            return f"contexts[{self.index}] {self.schema}"
        return f"unstruct_event {self.schema}" if self.source.startswith("ue") else (
            f"event {self.schema}"
        )

    def to_json(self) -> JsonDict:
        return {"role": self.role, "index": self.index, "schema": self.schema,
                "data": self.data, "source": self.source}

    @classmethod
    def from_json(cls, data: JsonDict) -> Entity:
        return cls(str(data["role"]), int(data["index"]), str(data["schema"]), data.get("data"),
                   str(data["source"]))


@dataclass(frozen=True, slots=True)
class CapturedEvent:
    """One event decoded from a request, with everything validation found wrong with it."""

    protocol: str
    #: Snowplow Micro's names: `page_view`, `page_ping`, `struct`, `unstruct`, ...;
    #: `event` for EventGate and EventLogging; `bad_request` or `unknown` when undecodable.
    event_type: str
    #: `se_ac`, the self-describing event's schema name, or the stream.
    name: str
    #: The event's schema: the unstruct event's Iglu URI, or a Wikimedia `$schema`.
    schema: str
    app_id: str
    #: The decoded event: tracker parameters (Snowplow) or the event object (Wikimedia).
    payload: JsonDict
    entities: tuple[Entity, ...] = ()
    violations: tuple[Violation, ...] = ()
    received_at: float = 0.0
    #: Set by the store.
    id: int = 0
    #: The stored request this event came from.
    request_id: int = 0
    #: Position of the event within its request's body.
    index: int = 0
    #: Fields the collector filled in itself (e.g. `meta.dt`), as dotted paths.
    filled: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str:
        """"valid", "invalid" (any real violation) or "unchecked" (only unfinished checks)."""
        return verdict_of(self.violations)

    @property
    def valid(self) -> bool:
        """True only for a final "valid" verdict: an unchecked event is not (yet) valid."""
        return not self.violations

    def stored(self, event_id: int, request_id: int, index: int) -> CapturedEvent:
        """This event numbered by the store (a direct constructor call: replace() is 4x slower)."""
        return CapturedEvent(self.protocol, self.event_type, self.name, self.schema, self.app_id,
                             self.payload, self.entities, self.violations, self.received_at,
                             event_id, request_id, index, self.filled)

    @property
    def contexts(self) -> list[str]:
        return [entity.schema for entity in self.entities if entity.role == "context"]

    def to_json(self) -> JsonDict:
        """The NDJSON contract (DESIGN.md §3)."""
        return {
            "id": self.id,
            "request_id": self.request_id,
            "received_at": self.received_at,
            "protocol": self.protocol,
            "event_type": self.event_type,
            "name": self.name,
            "schema": self.schema,
            "app_id": self.app_id,
            "contexts": self.contexts,
            "valid": self.valid,
            "verdict": self.verdict,
            "violations": [violation.to_json() for violation in self.violations],
            "payload": self.payload,
            "entities": [entity.to_json() for entity in self.entities],
            "filled": list(self.filled),
        }


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A stored request and the answer the collector gave it."""

    request: RawRequest
    response: Response


@dataclass(frozen=True, slots=True)
class Counts:
    """How many events the store holds."""

    total: int
    valid: int
    #: Events whose check could not be finished yet (neither valid nor invalid).
    unchecked: int = 0

    @property
    def invalid(self) -> int:
        return self.total - self.valid - self.unchecked


def bad_request(raw: RawRequest, *violations: Violation, protocol: str = PROTOCOL_SNOWPLOW) -> CapturedEvent:
    """The event recorded for a request from which no event could be decoded; `violations` say why."""
    return CapturedEvent(protocol=protocol, event_type=BAD_REQUEST, name="", schema="", app_id="",
                         payload={}, violations=violations, received_at=raw.received_at)
