"""EventLogging's place in the registry: legacy /beacon/event beacons, 204 with the verdict in headers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from snowcatcher.model import PROTOCOL_EVENTLOGGING, CapturedEvent, RawRequest, Response
from snowcatcher.protocols.base import Intake, Protocol, QueryView, Route
from snowcatcher.protocols.wikimedia.eventgate_protocol import EVENTGATE_CORS
from snowcatcher.protocols.wikimedia.eventlogging import capsule_from_query
from snowcatcher.text import inert

if TYPE_CHECKING:
    from snowcatcher.protocols.ingest import Ingestor

BEACON_PATH = "/beacon/event"
#: Violations named in Validation-Error-N headers, and the length of each.
_HEADER_VIOLATIONS = 20
_HEADER_LENGTH = 500


class EventLoggingProtocol(Protocol):
    """A legacy EventLogging beacon: 204 like Wikimedia's edge, plus the verdict in headers as the
    old eventlogging-devserver gave it, since a beacon's sender never reads the body."""

    name = PROTOCOL_EVENTLOGGING
    short = "el"
    routes = (Route("GET", BEACON_PATH), Route("POST", BEACON_PATH))
    cors = EVENTGATE_CORS

    async def ingest(self, ingestor: Ingestor, raw: RawRequest, nuid: str) -> Intake:
        return Intake(await ingestor.eventlogging(raw), Response(204))

    def decode(self, ingestor: Ingestor, raw: RawRequest) -> list[CapturedEvent]:
        return ingestor.eventlogging_decoder.decode(raw)

    def query_view(self, raw: RawRequest) -> QueryView | None:
        """A beacon's query string is one URL-encoded JSON capsule, not key=value pairs."""
        capsule, problem = capsule_from_query(raw.query)
        return QueryView("beacon capsule, URL-decoded", capsule) if problem is None else None

    def finish(self, answer: Response, events: list[CapturedEvent], nuid: str) -> Response:
        if answer.status != 204:
            return answer
        violations = [violation for event in events for violation in event.violations]
        headers = [("Requested-Event-Valid", "0" if violations else "1")]
        for number, violation in enumerate(violations[:_HEADER_VIOLATIONS], start=1):
            text = inert(f"{violation.path} {violation.message}".strip())
            headers.append((f"Validation-Error-{number}",
                            text.encode("ascii", "backslashreplace").decode()[:_HEADER_LENGTH]))
        return answer.with_headers(*headers)
