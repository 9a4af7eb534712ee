"""What a protocol declares: its routes, how it recognises, ingests, answers and re-decodes a request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from snowcatcher.model import CapturedEvent, RawRequest, Response

if TYPE_CHECKING:  # the ingestor hands itself to the protocol; no import at run time
    from snowcatcher.protocols.ingest import Ingestor


class Intake(NamedTuple):
    """A decoded request: its events and the answer the collector gives."""

    events: list[CapturedEvent]
    answer: Response


class QueryView(NamedTuple):
    """A query string that is no key=value pairs, decoded the protocol's way (a beacon's JSON capsule)."""

    title: str
    value: Any


@dataclass(frozen=True, slots=True)
class Route:
    """One collector route: a method (GET also answers HEAD) and an aiohttp path."""

    method: str
    path: str
    #: Answered as an unknown endpoint, so that a broader route (the Snowplow pixel's
    #: /{vendor}/{version}) does not take a request meant for this path with the wrong method.
    refuse: bool = False

    @property
    def is_pattern(self) -> bool:
        return "{" in self.path

    def matches(self, raw: RawRequest) -> bool:
        """Whether the collector would route `raw` here (as aiohttp matches the path)."""
        methods = ("GET", "HEAD") if self.method == "GET" else (self.method,)
        if raw.method not in methods:
            return False
        return raw.path == self.path if not self.is_pattern else bool(_pattern(self.path).fullmatch(raw.path))


def _pattern(path: str) -> re.Pattern[str]:
    """aiohttp's path syntax as a regular expression: {name} is one segment, {name:regex} the regex."""
    parts = re.split(r"(\{[^}]*\})", path)
    return re.compile("".join(
        (part[1:-1].partition(":")[2] or "[^{}/]+") if part.startswith("{") else re.escape(part)
        for part in parts))


class Protocol:
    """One tracker protocol; subclasses fill in the class attributes and the methods."""

    #: The protocol's name in the model, the store and the JSON output (`snowplow`).
    name: str = ""
    #: Its short mark in one-line displays and in filters (`sp`: the list's column, `protocol:sp`).
    short: str = ""
    #: How displays name its fields: field -> (group, human name), the groups in `field_groups`
    #: order; a protocol without a table is shown in its payload's own structure.
    fields: Mapping[str, tuple[str, str]] = MappingProxyType({})
    field_groups: tuple[str, ...] = ()
    #: Where the collector accepts it.
    routes: tuple[Route, ...] = ()
    #: CORS headers set on every answer of its plain routes, and an Express-style OPTIONS answer;
    #: None: the tracker default (the origin echoed, credentials allowed).
    cors: Mapping[str, str] | None = None

    def claims(self, raw: RawRequest) -> bool:
        """Whether a request the collector routed here is this protocol's traffic (else a 404)."""
        return True

    def recognises(self, raw: RawRequest) -> bool:
        """Whether a request read from a capture file (a HAR holds a whole page load) is this
        protocol's traffic; by default, whether the collector would route and claim it."""
        return self.routed(raw) and self.claims(raw)

    def routed(self, raw: RawRequest) -> bool:
        """Whether one of the protocol's routes takes `raw` (and does not refuse it)."""
        return any(route.matches(raw) and not route.refuse for route in self.routes)

    async def ingest(self, ingestor: Ingestor, raw: RawRequest, nuid: str) -> Intake:
        """Decode and validate a request; the events and the answer."""
        raise NotImplementedError

    def decode(self, ingestor: Ingestor, raw: RawRequest) -> list[CapturedEvent]:
        """Decode a stored request again with the schemas as they are now (no fetch)."""
        raise NotImplementedError

    def finish(self, answer: Response, events: list[CapturedEvent], nuid: str) -> Response:
        """The answer with the protocol's last touches (a cookie, verdict headers), made before it
        is stored: the store keeps the headers as sent."""
        return answer

    def query_view(self, raw: RawRequest) -> QueryView | None:
        """The request's query string decoded, when this protocol's is no key=value pairs."""
        return None
