"""A Wikimedia event as EventGate handles it: fill server fields, load the schema, validate, check streams."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from snowcatcher.model import (
    NOT_CHECKED,
    PROTOCOL_EVENTGATE,
    UNCHECKED,
    CapturedEvent,
    Entity,
    JsonDict,
    Violation,
    iso_time,
)
from snowcatcher.protocols.wikimedia.ajv import (
    AjvError,
    ajv_errors,
    errors_text,
    insecure_reasons,
    js_string,
    schema_invalid_text,
)
from snowcatcher.protocols.wikimedia.streams import StreamCheck
from snowcatcher.validate.validator import CompiledSchema, Validator, draft_for

SUCCESS, INVALID, ERROR = "success", "invalid", "error"
#: The namespace of the meta.id values we fill in (see fill_meta).
_METADATA_IDS = uuid.UUID("6f1c2b4e-3d0a-5b8e-9c71-2a4f5e6d7c80")
_LEGACY_PREFIX = "analytics/legacy/"
#: eventgate-wikimedia's stream_field and schema_uri_field (config.wikimedia.yaml); a missing field
#: is EventGate's MissingFieldError (lib/event-util.js makeExtractField), an `error`, not `invalid`.
STREAM_FIELD = ("meta", "stream")
SCHEMA_URI_FIELDS = (("$schema",), ("meta", "schema_uri"))


def missing_field_message(*fields: tuple[str, ...]) -> str:
    """EventGate's words for an event without the field(s) it extracts; several fields are
    written as JavaScript writes an array in a template string."""
    names = ",".join(".".join(field) for field in fields)
    return f"Field(s) {names} were missing from event and could not be extracted."


def has_field(event: Any, field: tuple[str, ...]) -> bool:
    """lodash's `_.has(event, 'a.b')`: every step is a key present in an object."""
    for key in field:
        if not isinstance(event, dict) or key not in event:
            return False
        event = event[key]
    return True


@dataclass(frozen=True, slots=True)
class Outcome:
    """EventGate's verdict on one event (its EventStatus): success, invalid or error."""

    status: str
    #: The event as EventGate would produce it: with the fields the server fills.
    event: Any
    errors: tuple[AjvError, ...] = ()
    message: str = ""

    def to_json(self) -> JsonDict:
        """The item EventGate puts in the `invalid` or `error` list of its answer."""
        if self.status == INVALID:
            context: JsonDict = {"errors": [error.to_json() for error in self.errors],
                                 "errorsText": errors_text(self.errors)}
        else:
            context = {"message": self.message}
        return {"status": self.status, "event": self.event, "context": context}


@dataclass(frozen=True, slots=True)
class Processed:
    """A processed event: what snowcatcher stores and what EventGate would answer about it."""

    event: CapturedEvent
    outcome: Outcome


def schema_uri_of(event: JsonDict) -> str:
    """`$schema`, or `meta.schema_uri` as eventgate-wikimedia also accepts (the first field
    present wins, as in EventGate's objectFindAndGet); "" when neither is there."""
    field = next((field for field in SCHEMA_URI_FIELDS if has_field(event, field)), None)
    if field is None:
        return ""
    value: Any = event
    for key in field:
        value = value[key]
    return js_string(value)


class EventProcessor:
    """Runs EventGate's per-event steps; never raises (problems become an `error` outcome)."""

    def __init__(self, validator: Validator, checks: Sequence[StreamCheck] = ()) -> None:
        self.validator = validator
        #: Run after the schema loads; the first message they return makes the event an error.
        self.checks = list(checks)
        self._insecure: dict[str, list[str]] = {}
        self._generation = validator.registry.generation

    def process(self, event: Any, received_at: float, *, protocol: str = PROTOCOL_EVENTGATE,
                filled: tuple[str, ...] = (), source: str = "body", index: int = 0) -> Processed:
        """EventGate's handling of one event: `index` is its place in the request's batch."""
        try:
            return self._process(event, received_at, protocol, filled, source, index)
        except RecursionError:
            problem = "the event is nested too deeply to process"
        except Exception as error:  # one odd event must not lose the others in its batch
            problem = f"snowcatcher could not process this event: {type(error).__name__}: {error}"
        return self._failed(event, received_at, protocol, filled, source, problem, "internal")

    def _process(self, event: Any, received_at: float, protocol: str, filled: tuple[str, ...],
                 source: str, index: int) -> Processed:
        if not isinstance(event, dict):
            return self._failed(event, received_at, protocol, filled, source,
                                f"An event must be a JSON object, not {_json_type(event)}.", "type")
        event, more = fill_meta(event, received_at, index)
        filled = (*filled, *more)
        # eventgate-wikimedia extracts the stream before it loads the schema or validates.
        if not has_field(event, STREAM_FIELD):
            return self._failed(event, received_at, protocol, filled, source,
                                missing_field_message(STREAM_FIELD), "required")
        if not any(has_field(event, field) for field in SCHEMA_URI_FIELDS):
            return self._failed(event, received_at, protocol, filled, source,
                                missing_field_message(*SCHEMA_URI_FIELDS), "required")
        uri = schema_uri_of(event)
        if uri.lstrip("/").startswith(_LEGACY_PREFIX) and "dt" not in event:
            # Legacy events carry the client's time in client_dt; dt is the time of receipt.
            event = {**event, "dt": iso_time(received_at)}
            filled = (*filled, "dt")
        compiled = self.validator.compiled(uri)
        if isinstance(compiled, Violation):
            return self._unloadable(event, uri, compiled, received_at, protocol, filled, source)
        defaults: tuple[str, ...] = ()
        if compiled.declares_defaults:
            event = json_copy(event)  # filled in place: the caller's event stays as it came
            defaults = apply_defaults(compiled.schema, event)
        return self._validated(event, uri, compiled, received_at, protocol,
                               (*filled, *defaults), source)

    def _validated(self, event: JsonDict, uri: str, compiled: CompiledSchema, received_at: float,
                   protocol: str, filled: tuple[str, ...], source: str) -> Processed:
        entity = Entity("event", 0, uri, event, source)
        found, unchecked = compiled.errors(event)
        errors = ajv_errors(found, compiled.schema) if found else []
        violations = [Violation(entity.label, e.pointer, e.keyword, e.explained()) for e in errors]
        # Not checked is no verdict: EventGate's answer says nothing against the event.
        violations.extend(Violation(entity.label, "", UNCHECKED, NOT_CHECKED + reason)
                          for reason in unchecked)
        insecure = self._security(uri, compiled.schema)
        refused = [m for m in (check(event, uri, compiled.schema) for check in self.checks) if m]
        violations.extend(Violation(entity.label, "", "secure", message) for message in insecure)
        violations.extend(Violation(entity.label, "/meta/stream", "stream", message) for message in refused)
        # EventValidator.loadSchema throws for an insecure schema, and validatorAt wraps that in
        # EventSchemaLoadError: the answer says "Failed loading schema at <uri>", the why is ours.
        problems = [f"Failed loading schema at {uri}" for _ in insecure[:1]] + refused
        if problems:
            outcome = Outcome(ERROR, event, tuple(errors), problems[0])
        else:
            outcome = Outcome(INVALID if errors else SUCCESS, event, tuple(errors))
        return Processed(_captured(event, uri, protocol, received_at, (entity,), violations, filled),
                         outcome)

    def _unloadable(self, event: JsonDict, uri: str, problem: Violation, received_at: float,
                    protocol: str, filled: tuple[str, ...], source: str) -> Processed:
        entity = Entity("event", 0, uri, event, source)
        resolution = self.validator.registry.lookup(uri)
        if problem.keyword in ("resolve", UNCHECKED):
            message = f"Failed loading schema at {uri}"
            refused = not resolution.places
            detail = f"schema URI {uri} refused: {resolution.error}" if refused else problem.message
        else:
            # AJV's compile error, written as AJV writes it (jsonschema's message has Python reprs).
            schema = resolution.schema
            draft = draft_for(schema, self.validator.default_draft) if schema is not None else None
            message = detail = (schema_invalid_text(schema, draft.META_SCHEMA) if draft is not None
                                else problem.message)
        violation = Violation(entity.label, "", problem.keyword, detail)
        return Processed(_captured(event, uri, protocol, received_at, (entity,), [violation], filled),
                         Outcome(ERROR, event, (), message))

    def _failed(self, event: Any, received_at: float, protocol: str, filled: tuple[str, ...],
                source: str, message: str, keyword: str) -> Processed:
        data = event if isinstance(event, dict) else {"event": event}
        violation = Violation("event", "", keyword, message)
        uri = schema_uri_of(data)
        entities = (Entity("event", 0, uri, data, source),) if uri else ()
        return Processed(_captured(data, uri, protocol, received_at, entities, [violation], filled),
                         Outcome(ERROR, event, (), message))

    def _security(self, uri: str, schema: JsonDict) -> list[str]:
        """EventGate refuses to compile schemas that break AJV's security rules; say so once."""
        if self._generation != self.validator.registry.generation:
            self._insecure.clear()
            self._generation = self.validator.registry.generation
        reasons = self._insecure.get(uri)
        if reasons is None:
            reasons = self._insecure[uri] = insecure_reasons(schema)
        if not reasons:
            return []
        shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
        return [f"Schema at {uri} is not secure for compilation ({shown})"]


def fill_meta(event: JsonDict, received_at: float, index: int = 0) -> tuple[JsonDict, tuple[str, ...]]:
    """A copy of the event with `meta.id` and `meta.dt` set when missing, as EventGate does; the
    event itself when it has both (nothing filled).

    EventGate draws a random id; ours is derived from the time of receipt, the event's place in
    its batch and the event itself, so that importing an export decodes the same id again.
    """
    current = event.get("meta")
    if isinstance(current, dict) and "id" in current and "dt" in current:
        return event, ()  # nothing to fill: no copy (the caller copies before changing it)
    original = event
    event = json_copy(event)
    filled = [] if "meta" in event else ["meta"]
    meta = event.setdefault("meta", {})
    if not isinstance(meta, dict):
        return event, ()  # the schema will say what is wrong with it
    if "id" not in meta:
        meta["id"] = str(uuid.uuid5(_METADATA_IDS, f"{received_at!r}/{index}/{_fingerprint(original)}"))
        filled.append("meta.id")
    if "dt" not in meta:
        meta["dt"] = iso_time(received_at)
        filled.append("meta.dt")
    return event, tuple(filled)


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists and immutable values, no shared parts): half of
    copy.deepcopy's time on a homepagevisit event, which keeps a memo for what JSON cannot have."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def apply_defaults(schema: Any, data: Any, prefix: str = "") -> tuple[str, ...]:
    """Set missing properties that declare a `default`, in place (EventGate runs AJV with
    useDefaults); returns the dotted paths it set."""
    if not (isinstance(schema, dict) and isinstance(data, dict)):
        return ()
    filled: list[str] = []
    properties = schema.get("properties")
    for name, sub in (properties.items() if isinstance(properties, dict) else ()):
        if not isinstance(sub, dict):
            continue
        if name not in data and "default" in sub:
            data[name] = copy.deepcopy(sub["default"])
            filled.append(prefix + name)
        elif name in data:
            filled.extend(apply_defaults(sub, data[name], f"{prefix}{name}."))
    return tuple(filled)


def _captured(event: JsonDict, uri: str, protocol: str, received_at: float,
              entities: tuple[Entity, ...], violations: list[Violation],
              filled: tuple[str, ...]) -> CapturedEvent:
    meta = event.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    stream = meta.get("stream")
    app = event.get("wiki") or meta.get("domain") or ""
    return CapturedEvent(protocol=protocol, event_type="event",
                         name=stream if isinstance(stream, str) else "", schema=uri,
                         app_id=app if isinstance(app, str) else "", payload=event, entities=entities,
                         violations=tuple(violations), received_at=received_at, filled=filled)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"


def _fingerprint(event: JsonDict) -> str:
    """The event's JSON, or its repr when it holds values JSON cannot (a lone surrogate)."""
    try:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(event)
