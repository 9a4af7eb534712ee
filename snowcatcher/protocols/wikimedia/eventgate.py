"""EventGate's `POST /v1/events`: a JSON event or array in, EventGate's status, reason phrase and body out."""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from snowcatcher import storable
from snowcatcher.model import (
    PROTOCOL_EVENTGATE,
    CapturedEvent,
    RawRequest,
    Response,
    Violation,
    bad_request,
)
from snowcatcher.protocols.snowplow.decode import MAX_EVENTS, PART, too_many_events
from snowcatcher.protocols.wikimedia.event import ERROR, INVALID, SUCCESS, EventProcessor, Outcome, Processed

#: The body types EventGate parses; text/plain is what navigator.sendBeacon sends.
ACCEPTED_TYPES = ("application/json", "text/plain", "application/reports+json")
EMPTY_BODY = "Request body was empty. Must provide JSON encoded events."
_JSON = "application/json"
_JSON_SPACE = " \t\n\r"


@dataclass(frozen=True, slots=True)
class EventGateResult:
    """The events to store and the answer EventGate would give."""

    events: list[CapturedEvent]
    response: Response


class EventGateDecoder:
    """Decodes `/v1/events` requests and builds EventGate's answer; never raises."""

    def __init__(self, processor: EventProcessor) -> None:
        self.processor = processor

    def decode(self, raw: RawRequest, *, hasty: bool = False) -> EventGateResult:
        parts = self.decode_parts(raw, hasty=hasty)
        while True:
            try:
                next(parts)
            except StopIteration as done:
                result: EventGateResult = done.value
                return result

    def decode_parts(self, raw: RawRequest, *, hasty: bool = False
                     ) -> Generator[None, None, EventGateResult]:
        """decode() PART events at a time, yielding between parts (for the event loop); at most
        MAX_EVENTS events, then a bad request for the rest, answered 400."""
        items, problem = _events_in(raw)
        if problem is not None:
            event = bad_request(raw, problem, protocol=PROTOCOL_EVENTGATE)
            return EventGateResult([event], _refusal(raw, problem))
        processed: list[Processed] = []
        for start in range(0, min(len(items), MAX_EVENTS), PART):
            if start:
                yield  # between parts only: a request of one part costs no extra turn of the loop
            processed.extend(self.processor.process(item, raw.received_at, index=index)
                             for index, item in enumerate(items[start:start + PART], start))
        events = [p.event for p in processed]
        if len(items) > MAX_EVENTS:
            excess = too_many_events(len(items))
            events.append(bad_request(raw, excess, protocol=PROTOCOL_EVENTGATE))
            return EventGateResult(events, Response(400, excess.message.encode(), "text/plain",
                                                    reason="Too many events in one request."))
        if hasty:
            count = len(processed)
            return EventGateResult(events, Response(202, b"", reason=f"{count} events hastily received."))
        return EventGateResult(events, answer([p.outcome for p in processed]))


def answer(outcomes: Sequence[Outcome]) -> Response:
    """EventGate's status code, reason phrase and body for a batch (routes/events.js)."""
    total = len(outcomes)
    invalid = [o.to_json() for o in outcomes if o.status == INVALID]
    errored = [o.to_json() for o in outcomes if o.status == ERROR]
    accepted = sum(1 for o in outcomes if o.status == SUCCESS)
    failed = len(invalid) + len(errored)
    if not failed:
        return Response(201, b"", reason=f"All {accepted} out of {total} events were accepted.")
    if not errored and not accepted:
        return Response(400, storable.dumps({"invalid": invalid}), _JSON,
                        reason=f"{failed} out of {total} events were invalid and not accepted.")
    body = storable.dumps({"invalid": invalid, "error": errored})
    counts = f"({len(invalid)} invalid and {len(errored)} errored)"
    if accepted:
        return Response(207, body, _JSON, reason=f"{accepted} out of {total} events were accepted, "
                                                 f"but {failed} failed {counts}.")
    return Response(500, body, _JSON,
                    reason=f"{failed} out of {total} events had failures and were not accepted. {counts}.")


def _events_in(raw: RawRequest) -> tuple[list[Any], Violation | None]:
    """The events in the body, or why EventGate would refuse the request (app.js's body-parser,
    then routes/events.js)."""
    content_type = raw.header("Content-Type").split(";", 1)[0].strip().lower()
    if not raw.body:
        return [], Violation("request", "", "required", EMPTY_BODY)
    if content_type not in ACCEPTED_TYPES:
        # body-parser leaves other types unparsed: the route then sees an empty body.
        shown = json.dumps(content_type) if content_type else "no content type"
        return [], Violation("request", "", "content-type",
                             f"{EMPTY_BODY} (EventGate does not parse a body sent with {shown}; "
                             f"send {', '.join(ACCEPTED_TYPES)})")
    # body-parser decodes UTF-8 replacing what is not, and is strict: `{` or `[` first.
    text = raw.body.decode("utf-8", "replace")
    first = text.lstrip(_JSON_SPACE)[:1]
    if first not in ("{", "["):
        shown = json.dumps(first) if first else "nothing but white space"
        return [], Violation("body", "", "json", "The request body is not valid JSON: EventGate's body "
                             f"parser wants an object or an array, and the body starts with {shown}")
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        keyword = "depth" if str(error).startswith("depth limit") else "json"
        return [], Violation("body", "", keyword, f"The request body is not valid JSON: {error}")
    if body in ({}, []):  # lodash's _.isEmpty
        return [], Violation("request", "", "required", EMPTY_BODY)
    return (body if isinstance(body, list) else [body]), None


def node_json_error(text: str) -> str:
    """JSON.parse's complaint about a body it refuses, in the words of the Node.js 16 that
    EventGate's images ran (V8 words it differently from version to version)."""
    stripped = text.lstrip(_JSON_SPACE)
    offset = len(text) - len(stripped)
    if stripped and stripped[0] not in "{[":
        return f"Unexpected token {stripped[0]} in JSON at position {offset}"
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if error.pos < len(text.rstrip(_JSON_SPACE)):
            return f"Unexpected token {text[error.pos]} in JSON at position {error.pos}"
    return "Unexpected end of JSON input"


def _refusal(raw: RawRequest, problem: Violation) -> Response:
    """EventGate's answer to a body it cannot use: 400 without a body for an empty (or unparsed)
    one; for broken JSON, the 500 that EventGate's error handler (lib/util.js setErrorHandler)
    makes of body-parser's SyntaxError."""
    if problem.keyword == "depth":  # JSON.parse would take it; snowcatcher's decoder stops at 1024
        return Response(400, problem.message.encode(), "text/plain", reason="Body nested too deeply")
    if problem.keyword != "json":
        return Response(400, b"", reason=EMPTY_BODY)
    detail = node_json_error(raw.body.decode("utf-8", "replace"))
    uri = raw.path + (f"?{raw.query}" if raw.query else "")
    body = {"status": 500, "type": "internal_error", "title": "SyntaxError", "detail": detail,
            "method": raw.method, "uri": uri}
    return Response(500, storable.dumps(body), _JSON, reason="Internal Server Error")
