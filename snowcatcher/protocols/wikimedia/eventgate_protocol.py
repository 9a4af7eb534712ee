"""EventGate's place in the registry: POST /v1/events, answered with EventGate's status, body and CORS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from snowcatcher.model import PROTOCOL_EVENTGATE, CapturedEvent, RawRequest
from snowcatcher.protocols.base import Intake, Protocol, Route
from snowcatcher.protocols.snowplow.decode import parse_query

if TYPE_CHECKING:
    from snowcatcher.protocols.ingest import Ingestor

EVENTGATE_PATH = "/v1/events"
#: What EventGate's app.js sets on every answer (cors: '*'): production refuses credentialed
#: requests, so snowcatcher must too, or a fetch that works locally fails in production.
EVENTGATE_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "accept, x-requested-with, content-type",
    "Access-Control-Expose-Headers": "etag",
    "Access-Control-Allow-Methods": "post",
}


def is_hasty(query: str | None) -> bool:
    """EventGate answers at once when `req.query.hasty` is truthy in JavaScript: any non-empty
    value, even `false`; a bare `?hasty` is the empty string, so it is not hasty."""
    return bool(query)


class EventGateProtocol(Protocol):
    """Wikimedia's EventGate intake (also what EventBus and the Metrics Platform send)."""

    name = PROTOCOL_EVENTGATE
    short = "eg"
    routes = tuple(route for path in (EVENTGATE_PATH, EVENTGATE_PATH + "/")  # Express ignores a trailing /
                   for route in (Route("POST", path),
                                 Route("GET", path, refuse=True)))  # not a Snowplow /{vendor}/{version} pixel
    cors = EVENTGATE_CORS

    async def ingest(self, ingestor: Ingestor, raw: RawRequest, nuid: str) -> Intake:
        result = await ingestor.eventgate(raw, hasty=is_hasty(parse_query(raw.query).get("hasty")))
        return Intake(result.events, result.response)

    def decode(self, ingestor: Ingestor, raw: RawRequest) -> list[CapturedEvent]:
        return ingestor.eventgate_decoder.decode(raw).events
