"""The protocol registry: the collector, the importer and re-validation ask it which protocol a request is;
the front ends ask it how to show one (short names, field names, decoded query strings)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from snowcatcher.model import RawRequest
from snowcatcher.protocols.base import Intake, Protocol, QueryView, Route
from snowcatcher.protocols.snowplow.protocol import SnowplowProtocol
from snowcatcher.protocols.wikimedia.eventgate_protocol import EventGateProtocol
from snowcatcher.protocols.wikimedia.eventlogging_protocol import EventLoggingProtocol

__all__ = ["PROTOCOLS", "Intake", "Protocol", "Protocols", "QueryView", "Route"]


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

    def name_of(self, word: str) -> str:
        """The protocol a filter's `protocol:` value means: its short mark (`eg`) or its name, in
        any case; a word no protocol answers to stays as written (lowercased)."""
        lowered = word.lower()
        return next((protocol.name for protocol in self._protocols if lowered == protocol.short), lowered)

    def fields_of(self, name: str) -> Mapping[str, tuple[str, str]]:
        """A protocol's field -> (group, human name) table; empty when it names none (its payload's
        own structure is shown)."""
        protocol = self.named(name)
        return protocol.fields if protocol is not None else {}

    def field_groups(self, name: str) -> tuple[str, ...]:
        """The groups a protocol's fields are shown in, in order, "other" last."""
        protocol = self.named(name)
        groups = protocol.field_groups if protocol is not None else ()
        return (*groups, "other") if "other" not in groups else groups

    def query_view(self, raw: RawRequest) -> QueryView | None:
        """A stored request's query string decoded by its protocol, when it is no key=value pairs."""
        protocol = self.routing(raw)
        return protocol.query_view(raw) if protocol is not None else None

    def entry_path(self, name: str) -> str:
        """The path a protocol's trackers send to (its first plain route), for displays."""
        protocol = self.named(name)
        routes = protocol.routes if protocol is not None else ()
        return next((route.path for route in routes if not route.is_pattern and not route.refuse), "")


#: The protocols snowcatcher speaks; tests add theirs with PROTOCOLS.registered(...).
PROTOCOLS = Protocols([EventGateProtocol(), EventLoggingProtocol(), SnowplowProtocol()])
