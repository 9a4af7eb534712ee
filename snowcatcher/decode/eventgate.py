"""EventGate's `POST /v1/events`: a JSON event or array in, EventGate's status, reason phrase and body out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from snowcatcher import storable
from snowcatcher.decode.wikimedia_event import ERROR, INVALID, SUCCESS, EventProcessor, Outcome
from snowcatcher.model import (
    BAD_REQUEST,
    PROTOCOL_EVENTGATE,
    CapturedEvent,
    RawRequest,
    Response,
    Violation,
)

#: The body types EventGate parses; text/plain is what navigator.sendBeacon sends.
ACCEPTED_TYPES = ("application/json", "text/plain", "application/reports+json")
EMPTY_BODY = "Request body was empty. Must provide JSON encoded events."
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class EventGateResult:
    """The events to store and the answer EventGate would give."""

    events: list[CapturedEvent]
    response: Response


def is_hasty(query: str | None) -> bool:
    """EventGate answers at once when `req.query.hasty` is truthy in JavaScript: any non-empty
    value, even `false`; a bare `?hasty` is the empty string, so it is not hasty."""
    return bool(query)


class EventGateDecoder:
    """Decodes `/v1/events` requests and builds EventGate's answer; never raises."""

    def __init__(self, processor: EventProcessor) -> None:
        self.processor = processor

    def decode(self, raw: RawRequest, *, hasty: bool = False) -> EventGateResult:
        items, problem = _events_in(raw)
        if problem is not None:
            event = wikimedia_bad_request(raw, PROTOCOL_EVENTGATE, problem)
            return EventGateResult([event], Response(400, problem.message.encode(), "text/plain",
                                                     reason=_reason(problem)))
        processed = [self.processor.process(item, raw.received_at, index=index)
                     for index, item in enumerate(items)]
        events = [p.event for p in processed]
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


def wikimedia_bad_request(raw: RawRequest, protocol: str, *violations: Violation) -> CapturedEvent:
    """The event recorded for a Wikimedia request that held no event at all."""
    return CapturedEvent(protocol=protocol, event_type=BAD_REQUEST, name="", schema="", app_id="",
                         payload={}, violations=violations, received_at=raw.received_at)


def _events_in(raw: RawRequest) -> tuple[list[Any], Violation | None]:
    """The events in the body, or why EventGate would refuse the request with a 400."""
    content_type = raw.header("Content-Type").split(";", 1)[0].strip().lower()
    if not raw.body.strip():
        return [], Violation("request", "", "required", EMPTY_BODY)
    if content_type not in ACCEPTED_TYPES:
        shown = repr(content_type) if content_type else "no content type"
        return [], Violation("request", "", "content-type",
                             f"{EMPTY_BODY} (EventGate does not parse a body sent with {shown}; "
                             f"send {', '.join(ACCEPTED_TYPES)})")
    try:
        body = orjson.loads(raw.body)
    except orjson.JSONDecodeError as error:
        return [], Violation("body", "", "json", f"The request body is not valid JSON: {error}")
    if body in ({}, [], None, ""):
        return [], Violation("request", "", "required", EMPTY_BODY)
    return (body if isinstance(body, list) else [body]), None


def _reason(problem: Violation) -> str:
    # A reason phrase is one latin-1 line; EventGate uses its fixed sentence for an empty body.
    if problem.keyword in ("required", "content-type"):
        return EMPTY_BODY
    return "Request body is not valid JSON."
