"""The headers an answer goes out with, made before it is stored so that the store holds the real exchange."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from snowcatcher.model import CapturedEvent, RawRequest, Response
from snowcatcher.protocols.base import Protocol

#: Pixels must reach the collector every time: a cached GIF is an event lost.
NO_CACHE = "no-cache, no-store, must-revalidate"
#: One answer header a pair, in the order sent.
Headers = tuple[tuple[str, str], ...]


def fixed_cors(protocols: Iterable[Protocol]) -> dict[str, Mapping[str, str]]:
    """The CORS headers fixed per intake path by its protocol (EventGate's), by path."""
    return {route.path: protocol.cors for protocol in protocols if protocol.cors
            for route in protocol.routes if not route.is_pattern}


def cors_headers(fixed: Mapping[str, str] | None, origin: str) -> Headers:
    """A protocol's fixed CORS headers, else the trackers' default: the origin echoed with
    credentials allowed (browsers reject `*` with credentials, and a failed CORS check makes the
    tracker retry and duplicate its events)."""
    if fixed is not None:
        return tuple(fixed.items())
    return (("Access-Control-Allow-Origin", origin or "*"), ("Access-Control-Allow-Credentials", "true"))


def as_sent(answer: Response, cors: Headers) -> Response:
    """`answer` with every header the collector sends it with, but those the HTTP server adds on
    the wire (Date, Server, Content-Length): Content-Type first, then its own, then CORS."""
    headers: list[tuple[str, str]] = [("Content-Type", answer.content_type)]
    if answer.content_type == "image/gif":
        headers.append(("Cache-Control", NO_CACHE))
    return Response(answer.status, answer.body, answer.content_type, answer.reason,
                    (*headers, *(answer.headers or ()), *cors))


def imported_answer(protocol: Protocol, raw: RawRequest, answer: Response, events: list[CapturedEvent],
                    nuid: str,
                    fixed: Mapping[str, Mapping[str, str]]) -> Response:
    """The answer the collector would have sent a request read from a capture file, headers and all."""
    finished = protocol.finish(answer, events, nuid)
    return as_sent(finished, cors_headers(fixed.get(raw.path), raw.header("Origin")))
