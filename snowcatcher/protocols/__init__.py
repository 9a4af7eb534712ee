"""The protocol registry: the collector, the importer and re-validation ask it which protocol a request is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from snowcatcher.model import RawRequest
from snowcatcher.protocols.base import Intake, Protocol, Route
from snowcatcher.protocols.snowplow.protocol import SnowplowProtocol
from snowcatcher.protocols.wikimedia.eventgate_protocol import EventGateProtocol
from snowcatcher.protocols.wikimedia.eventlogging_protocol import EventLoggingProtocol

__all__ = ["PROTOCOLS", "Intake", "Protocol", "Protocols", "Route"]


class Protocols:
    """The known protocols, in the order their routes are tried."""

    def __init__(self, protocols: list[Protocol]) -> None:
        self._protocols = list(protocols)

    def __iter__(self) -> Iterator[Protocol]:
        return iter(list(self._protocols))

    @contextlib.contextmanager
    def registered(self, protocol: Protocol) -> Iterator[Protocol]:
        """Add `protocol` ahead of the others (its routes before the Snowplow catch-alls) for the
        duration of the block."""
        self._protocols.insert(0, protocol)
        try:
            yield protocol
        finally:
            self._protocols.remove(protocol)

    def routing(self, raw: RawRequest) -> Protocol | None:
        """The protocol the collector routes `raw` to: plain paths first, then patterns (as aiohttp
        tries the longest matching prefix first)."""
        for plain in (True, False):
            for protocol in self._protocols:
                for route in protocol.routes:
                    if route.is_pattern != plain and route.matches(raw):
                        return None if route.refuse else protocol
        return None

    def recognising(self, raw: RawRequest) -> Protocol | None:
        """The protocol of a request read from a capture file, or None for other traffic."""
        protocol = self.routing(raw)
        return protocol if protocol is not None and protocol.recognises(raw) else None

    def named(self, name: str) -> Protocol | None:
        return next((protocol for protocol in self._protocols if protocol.name == name), None)

    def short_name(self, name: str) -> str:
        """The protocol's short mark (`sp`), or the name itself for one not known."""
        protocol = self.named(name)
        return protocol.short if protocol is not None else name


#: The protocols snowcatcher speaks; tests add theirs with PROTOCOLS.registered(...).
PROTOCOLS = Protocols([EventGateProtocol(), EventLoggingProtocol(), SnowplowProtocol()])
