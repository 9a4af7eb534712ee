"""The Snowplow tracker protocol: GET query strings and tp2 POST bodies into CapturedEvents."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from snowcatcher import json_numbers
from snowcatcher.model import (
    PROTOCOL_SNOWPLOW,
    UNKNOWN_TYPE,
    CapturedEvent,
    Entity,
    JsonDict,
    RawRequest,
    Violation,
    bad_request,
    schema_name,
    transient,
)
from snowcatcher.protocols.snowplow import base64url
from snowcatcher.protocols.snowplow.tracker_fields import (
    BUILTIN_SCHEMAS,
    LEGACY_ALIASES,
    event_type_of,
    field_violations,
    network_user_id_violation,
)
from snowcatcher.text import as_json

#: (schema URI, data, entity label, memoize?) -> violations. The validator, injected.
SchemaCheck = Callable[..., tuple[Violation, ...]]

PAYLOAD_DATA_PREFIX = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-"
#: The paths Enrich decodes a querystring (GET) event from: tp1's pixel paths and tp2.
QUERYSTRING_PATHS = ("/i", "/ice.png", "/com.snowplowanalytics.snowplow/tp2")
ACCEPTED_CONTENT_TYPES = ("application/json", "application/json; charset=utf-8",
                          "application/json; charset=UTF-8")
_CACHE_LIMIT = 4096
#: The envelope cache also holds at most this many characters of raw values (cx, ue_px): each
#: one's decoded entities take a few times its size.
_CACHE_CHARACTERS = 2 * 1024 * 1024
#: The parameters that carry self-describing JSON, in the order their entities are listed.
_ENVELOPE_SOURCES = ("ue_pr", "ue_px", "co", "cx")
#: Events decoded from one request; the rest are recorded as one bad request saying so. Real
#: collectors bound bytes, not events (Snowplow's 1 MB, EventGate's 100 KB by default), but
#: 1 MB of `{"e":"pv"}` is 80,000 events, while trackers batch tens (the JavaScript tracker
#: sends at most 40 KB per POST, the Python tracker 10 events).
MAX_EVENTS = 10_000
#: Events decoded (and payload_data items validated) between two yields to the event loop.
PART = 100
#: Body violations sorted out per item between two yields to the event loop.
_SORTED_PER_PART = 2000
#: Items of a long list checked against payload_data between two yields. An item the explainer
#: reads (an invalid one) costs ~40 us; a tracker's one-event GET needs ~10 turns of the loop, so
#: steps of 100 items made it wait ~40 ms behind a 1 MB body, steps of 10 a few ms.
_CHECKED_PER_STEP = 10
#: Rejected event numbers named in the "batch" violation; more are counted, not listed.
_NAMED_REJECTS = 20


@dataclass
class _Envelope:
    """What one `cx`/`co`/`ue_px`/`ue_pr` value decoded to, cached per raw value."""

    entities: tuple[Entity, ...] = ()
    violations: tuple[Violation, ...] = ()
    #: id(other envelope) -> (it, both envelopes' entities): see _entities_of.
    _joined: dict[int, tuple[_Envelope, tuple[Entity, ...]]] = field(default_factory=dict)

    def joined(self, other: _Envelope) -> tuple[Entity, ...]:
        """This envelope's entities then `other`'s, the same tuple each time for the same pair."""
        known = self._joined.get(id(other))
        if known is None or known[0] is not other:
            if len(self._joined) >= _CACHE_LIMIT:
                self._joined.clear()
            known = self._joined[id(other)] = (other, self.entities + other.entities)
        return known[1]


@dataclass
class SnowplowDecoder:
    """Decodes tracker-protocol requests and checks them against the protocol's schemas."""

    check: SchemaCheck
    _envelopes: dict[tuple[str, str], _Envelope] = field(default_factory=dict)
    #: The characters of the cached raw values, bounded by _CACHE_CHARACTERS.
    cached_characters: int = 0

    def forget(self) -> None:
        """Drop cached envelopes (after the schemas changed)."""
        self._envelopes.clear()
        self.cached_characters = 0

    # -- requests ----------------------------------------------------------------------------

    def decode_get(self, raw: RawRequest, nuid: str = "") -> list[CapturedEvent]:
        """A GET/HEAD `/i`, `/ice.png` or `/{vendor}/{version}`: one event in the query string.

        `nuid` is the network user id the collector assigned (cookie), recorded when the
        tracker sent none.
        """
        problem = _adapter_problem(raw.path)
        if problem is not None:
            return [bad_request(raw, problem)]
        params = parse_query(raw.query)
        if not params:
            return [bad_request(raw, Violation("request", "", "required",
                                               "empty querystring: not a valid tracker protocol event"))]
        return [self.decode_event(params, raw.received_at, _nuid_violations(params), nuid=nuid)]

    def decode_post(self, raw: RawRequest, nuid: str = "") -> list[CapturedEvent]:
        """A tp2 POST: a payload_data body of one or more events; query parameters win."""
        return [event for part in self.decode_post_parts(raw, nuid) for event in part]

    def decode_post_parts(self, raw: RawRequest, nuid: str = "") -> Iterator[list[CapturedEvent]]:
        """decode_post in parts of at most PART events (some empty), for a caller that yields to
        the event loop between them; at most MAX_EVENTS events, then a bad request for the rest."""
        problems = list(_content_type_violations(raw))
        if "nuid=" in raw.query:
            problems.extend(_nuid_violations(parse_query(raw.query)))
        if not raw.body.strip():
            empty = Violation("request", "", "required", "empty body: not a valid tracker protocol event")
            yield [bad_request(raw, *problems, empty)]
            return
        body, problem = yield from _parse_body(raw.body)
        if problem is not None:
            yield [bad_request(raw, *problems, problem)]
            return
        items, body_problems = yield from self._payload_items(body)
        if items is None:
            yield [bad_request(raw, *problems, *body_problems)]
            return
        yield from self._decode_items(raw, items[:MAX_EVENTS], problems, body_problems, nuid)
        if len(items) > MAX_EVENTS:
            yield [bad_request(raw, *problems, too_many_events(len(items)))]

    def _payload_items(self, body: Any) -> Generator[
            list[CapturedEvent], None, tuple[list[Any] | None, list[Violation]]]:
        """The list of events in a payload_data body, or None and why the body is unusable;
        a long list is validated _CHECKED_PER_STEP items at a time, yielding [] after each."""
        if not (isinstance(body, dict) and isinstance(body.get("schema"), str) and "data" in body):
            return None, [Violation("body", "", "self-describing",
                                    "the body is not a self-describing JSON: it needs a \"schema\" "
                                    "string and \"data\"")]
        uri: str = body["schema"]
        label = f"payload_data {uri}"
        if not uri.startswith(PAYLOAD_DATA_PREFIX):
            named = self.check(uri, body["data"], f"body {uri}", memo=False)
            return None, [Violation("body", "/schema", "payload_data",
                                    f"the body must be a payload_data 1-0-* JSON, not {uri}"), *named]
        data = body["data"]
        if not isinstance(data, list):
            return None, list(self.check(uri, data, label, memo=False))
        if len(data) <= PART:
            return data, list(self.check(uri, data, label, memo=False))
        # payload_data's keywords are per item (`items`) or hold for any non-empty list (`type`,
        # `minItems`): each part is checked alone, its item numbers shifted, list-level ones once.
        violations: list[Violation] = []
        for start in range(0, min(len(data), MAX_EVENTS), _CHECKED_PER_STEP):
            for violation in self.check(uri, data[start:start + _CHECKED_PER_STEP], label, memo=False):
                head, _, rest = violation.path.lstrip("/").partition("/")
                if head.isdigit():
                    path = f"/{int(head) + start}" + (f"/{rest}" if rest else "")
                    violations.append(Violation(violation.entity, path, violation.keyword,
                                                violation.message))
                elif start == 0:
                    violations.append(violation)
            yield []
        return data, violations

    def _decode_items(self, raw: RawRequest, items: list[Any], problems: list[Violation],
                      body_problems: list[Violation], nuid: str) -> Iterator[list[CapturedEvent]]:
        overrides = parse_query(raw.query)
        per_item: dict[int, list[Violation]] = {}
        for number, violation in enumerate(body_problems, 1):
            head, _, rest = violation.path.lstrip("/").partition("/")
            key = int(head) if head.isdigit() else -1
            per_item.setdefault(key, []).append(
                Violation("payload_data", "/" + rest if rest else "", violation.keyword,
                          violation.message))
            if number % _SORTED_PER_PART == 0:
                yield []  # 10,000 invalid items have tens of thousands of violations to sort out
        if not items:
            yield [bad_request(raw, *problems, *per_item.get(-1, []))]
            return
        batch = _batch_violation(sorted(key for key in per_item if key >= 0))
        events = []
        for index, item in enumerate(items):
            extra = [*problems, *per_item.get(-1, []), *per_item.get(index, [])]
            if batch is not None and index not in per_item:
                extra.append(batch)
            params = dict(item) if isinstance(item, dict) else {}  # JSON keys are strings
            params.update(overrides)
            if not isinstance(item, dict):
                extra.append(Violation("payload_data", "", "type",
                                       f"event {index} is {type(item).__name__}, not an object"))
            events.append(self.decode_event(params, raw.received_at, extra, nuid=nuid))
            if len(events) == PART:
                yield events
                events = []
        yield events

    # -- one event ---------------------------------------------------------------------------

    def decode_event(self, params: dict[str, Any], received_at: float,
                     extra: list[Violation] | None = None, *, nuid: str = "") -> CapturedEvent:
        """One event from its parameters: type, name, decoded entities and every violation."""
        if not params.keys().isdisjoint(LEGACY_ALIASES):
            for legacy, modern in LEGACY_ALIASES.items():
                if legacy in params and modern not in params:
                    params[modern] = params[legacy]
        violations = list(extra or ())
        event_type, problem = event_type_of(_text(params.get("e")))
        if problem is not None:
            violations.append(problem)
        violations.extend(field_violations(params))
        envelopes = [self._envelope(source, value) for source in _ENVELOPE_SOURCES
                     if isinstance(value := params.get(source), str)]
        for envelope in envelopes:
            violations.extend(envelope.violations)
        entities = _entities_of(envelopes)
        event = next((entity for entity in entities if entity.role == "event"), None)
        if event_type == "unstruct" and event is None and not _has_any(params, "ue_pr", "ue_px"):
            violations.append(Violation("event", "/ue_pr", "required",
                                        "a self-describing event (e=ue) needs ue_pr or ue_px"))
        schema = event.schema if event else BUILTIN_SCHEMAS.get(event_type or "", "")
        filled: tuple[str, ...] = ()
        if nuid and "nuid" not in params:
            params["nuid"] = nuid  # what Enrich records as network_userid
            filled = ("nuid",)
        return CapturedEvent(
            protocol=PROTOCOL_SNOWPLOW, event_type=event_type or UNKNOWN_TYPE,
            name=_event_name(event_type, params, event), schema=schema,
            app_id=_text(params.get("aid")) or "", payload=params, entities=entities,
            violations=tuple(violations), received_at=received_at, filled=filled)

    def _envelope(self, source: str, value: str) -> _Envelope:
        key = (source, value)
        known = self._envelopes.get(key)
        if known is None:
            known = self._decode_envelope(source, value)
            if not transient(known.violations):  # an unfinished check is no verdict to keep
                if len(self._envelopes) >= _CACHE_LIMIT or \
                        self.cached_characters + len(value) > _CACHE_CHARACTERS:
                    self.forget()
                self._envelopes[key] = known
                self.cached_characters += len(value)
        return known

    def _decode_envelope(self, source: str, value: str) -> _Envelope:
        if source in ("cx", "co") and value == "":
            return _Envelope()  # trackers send an empty cx when there are no contexts
        data, problem = decode_json_param(source, value)
        if problem is not None:
            return _Envelope(violations=(problem,))
        if not (isinstance(data, dict) and isinstance(data.get("schema"), str)):
            return _Envelope(violations=(Violation(source, "", "self-describing",
                                                   f"{source} is not a self-describing JSON: it needs a "
                                                   "\"schema\" string and \"data\""),))
        uri = data["schema"]
        violations = list(self.check(uri, data.get("data"), f"{source} {uri}"))
        if source in ("ue_pr", "ue_px"):
            inner = data.get("data")
            entities = _entities("event", [inner], source)
        else:
            inner = data.get("data")
            entities = _entities("context", inner if isinstance(inner, list) else [], source)
        for entity in entities:
            violations.extend(self.check(entity.schema, entity.data, entity.label))
        return _Envelope(tuple(entities), tuple(violations))


def decode_json_param(source: str, value: str) -> tuple[Any, Violation | None]:
    """The JSON inside a `cx`/`ue_px` (base64url) or `co`/`ue_pr` (plain) parameter."""
    if source.endswith("x"):
        try:
            raw = base64url.decode(value)
        except base64url.Base64Error as error:
            return None, Violation(source, "", "base64", f"{source}: {error}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return None, Violation(source, "", "utf-8",
                                   f"{source}: decoded bytes are not UTF-8 at byte {error.start}")
    else:
        text = value
    try:
        return json_numbers.loads(text), None
    except orjson.JSONDecodeError as error:
        return None, Violation(source, "", "json", f"{source}: invalid JSON: {error}")


def _entities_of(envelopes: list[_Envelope]) -> tuple[Entity, ...]:
    """The entities of an event's envelopes, in order.

    The same cached tuple for the same envelopes: GitLab sends the same contexts with every
    event, and the store finds a tuple it has seen before by identity (store_sets.EntitySets).
    """
    found = [envelope for envelope in envelopes if envelope.entities]
    if len(found) <= 1:
        return found[0].entities if found else ()
    if len(found) == 2:  # a self-describing event and its contexts
        return found[0].joined(found[1])
    return tuple(entity for envelope in found for entity in envelope.entities)


def _entities(role: str, items: list[Any], source: str) -> list[Entity]:
    entities = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("schema"), str):
            entities.append(Entity(role, index, item["schema"], item.get("data"), source))
    return entities


def _adapter_problem(path: str) -> Violation | None:
    """Why Enrich has no adapter for a querystring event on `path`, or None when it has one. The
    collector takes any /{vendor}/{version}, but only the tracker protocol's paths decode as events."""
    if path in QUERYSTRING_PATHS:
        return None
    vendor, _, version = path.strip("/").partition("/")
    return Violation("request", "", "adapter", (
        f"vendor/version combination is not supported: {vendor}/{version} (querystring events go to "
        f"{', '.join(QUERYSTRING_PATHS)}; a tracker's custom POST path is recognised by its "
        "payload_data body)"))


def _nuid_violations(params: dict[str, Any]) -> list[Violation]:
    nuid = params.get("nuid")
    problem = network_user_id_violation(nuid) if isinstance(nuid, str) else None
    return [problem] if problem else []


def parse_query(query: str) -> dict[str, Any]:
    """Query parameters as a dict; the first of repeated names wins, as in the collector."""
    params: dict[str, Any] = {}
    if not query:
        return params  # most POSTs: parse_qsl costs more than the rest of the event's fields
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        params.setdefault(name, value)
    return params


def too_many_events(count: int) -> Violation:
    """Why the events of a request past MAX_EVENTS were not decoded."""
    return Violation("request", "", "events",
                     f"the request holds {count:,} events, more than the limit of {MAX_EVENTS:,} per "
                     f"request: the first {MAX_EVENTS:,} were decoded and validated, the other "
                     f"{count - MAX_EVENTS:,} were not (the stored request keeps them all)")


def _batch_violation(rejected: list[int]) -> Violation | None:
    """What every valid event of a body with invalid ones gets: the pipeline rejects them all."""
    if not rejected:
        return None
    named = ", ".join(map(str, rejected[:_NAMED_REJECTS]))
    if len(rejected) > _NAMED_REJECTS:
        named += f" and {len(rejected) - _NAMED_REJECTS:,} more"
    return Violation("payload_data", "", "batch",
                     f"the pipeline rejects this whole body because event(s) {named} in it are invalid")


def _content_type_violations(raw: RawRequest) -> list[Violation]:
    content_type = raw.header("Content-Type")
    if content_type.strip() in ACCEPTED_CONTENT_TYPES:
        return []
    shown = as_json(content_type) if content_type else "missing"
    return [Violation("request", "", "content-type",
                      f"content type {shown} is not accepted: expected one of "
                      f"{', '.join(ACCEPTED_CONTENT_TYPES)}")]


def _parse_body(body: bytes) -> Generator[list[CapturedEvent], None, tuple[Any, Violation | None]]:
    """The parsed body or why it does not parse; a long body is parsed in pieces, yielding [] after
    each (json_numbers.loads_in_parts)."""
    parsing = json_numbers.loads_in_parts(body)
    try:
        while True:
            next(parsing)
            yield []
    except StopIteration as parsed:
        return parsed.value, None
    except orjson.JSONDecodeError as error:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as bad:
            return None, Violation("body", "", "utf-8", f"the body is not UTF-8 at byte {bad.start}")
        return None, Violation("body", "", "json", f"the body is not valid JSON: {error}")


def _event_name(event_type: str | None, params: dict[str, Any], event: Entity | None) -> str:
    if event is not None:
        return schema_name(event.schema) or event.schema
    if event_type == "struct":
        return _text(params.get("se_ac")) or ""
    if event_type in ("page_view", "page_ping"):
        url = _text(params.get("url")) or ""
        try:
            return urlsplit(url).path or url
        except ValueError:
            return url
    if event_type == "transaction":
        return _text(params.get("tr_id")) or ""
    return ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _has_any(params: JsonDict, *names: str) -> bool:
    return any(name in params for name in names)
