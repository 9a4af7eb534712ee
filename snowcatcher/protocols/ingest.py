"""RawRequest -> CapturedEvents: decode, fetch missing schemas, validate; never raises."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import replace
from functools import cached_property, partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from snowcatcher.model import (
    PROTOCOL_EVENTGATE,
    REFUSED_STATUSES,
    CapturedEvent,
    RawRequest,
    Response,
    StoredRequest,
    Violation,
    bad_request,
    unresolved_uris,
)
from snowcatcher.protocols import PROTOCOLS
from snowcatcher.protocols.snowplow.decode import SnowplowDecoder
from snowcatcher.protocols.wikimedia.eventgate_protocol import EVENTGATE_PATH
from snowcatcher.protocols.wikimedia.eventlogging_protocol import BEACON_PATH
from snowcatcher.validate.backoff import FETCH_GRACE
from snowcatcher.validate.iglu import Registry, Resolution
from snowcatcher.validate.wikimedia_schemas import WikimediaSchemas

if TYPE_CHECKING:
    from snowcatcher.protocols.wikimedia.event import EventProcessor
    from snowcatcher.protocols.wikimedia.eventgate import EventGateDecoder, EventGateResult
    from snowcatcher.protocols.wikimedia.eventlogging import EventLoggingDecoder
    from snowcatcher.protocols.wikimedia.streams import StreamCheck
    from snowcatcher.validate.validator import Validator

log = logging.getLogger(__name__)

__all__ = ["BEACON_PATH", "EVENTGATE_PATH", "EventChecker", "Ingestor"]  # the paths' home is protocols/

Decode = Callable[[RawRequest], list[CapturedEvent]]
#: A decoder that hands its events over in parts, so that the event loop runs between them.
DecodeParts = Callable[[RawRequest], Iterator[list[CapturedEvent]]]
T = TypeVar("T")
#: Seconds a decoder works through its parts before it gives way to the event loop's other work:
#: a small request is decoded in one go (a turn of the loop costs as much as decoding its event),
#: a big one gives way every millisecond or so.
GIVE_WAY_AFTER = 0.001



class EventChecker(Protocol):
    """Extra findings about a decoded event (GitLab definitions); knows nothing of the protocols."""

    def findings(self, event: CapturedEvent) -> tuple[Violation, ...]: ...

    def reload(self) -> None: ...


class Ingestor:
    """Turns raw requests into validated events, one decoder per protocol."""

    def __init__(self, registry: Registry, wikimedia: WikimediaSchemas | None = None,
                 stream_checks: Sequence[StreamCheck] = (), checker: EventChecker | None = None) -> None:
        self.registry = registry
        #: Applied after decoding Snowplow events, so that the decoder needs no GitLab knowledge.
        self.checker = checker
        self.wikimedia = wikimedia or WikimediaSchemas(offline=True)
        self._stream_checks = stream_checks

    # The validators and decoders are made at their first use, not at start-up: with them come
    # jsonschema, referencing and the pattern engines (~60 ms of imports), which the port need
    # not wait for.

    @cached_property
    def validator(self) -> Validator:
        from snowcatcher.validate.validator import Validator
        return Validator(self.registry)

    @cached_property
    def snowplow(self) -> SnowplowDecoder:
        return SnowplowDecoder(self.validator.check)

    @cached_property
    def wikimedia_validator(self) -> Validator:
        """Wikimedia schemas are draft-07 unless they say otherwise; a validator of their own also
        keeps their relative URIs apart from Iglu URIs in the caches. Formats are checked by AJV's
        rules, as EventGate checks them."""
        from jsonschema import Draft7Validator

        from snowcatcher.protocols.wikimedia.ajv import ajv_format_checker
        from snowcatcher.validate.validator import FORMATS, Validator
        return Validator(self.wikimedia, default_draft=Draft7Validator,
                         formats=ajv_format_checker(FORMATS), exact_multiples=False)

    @cached_property
    def wikimedia_events(self) -> EventProcessor:
        from snowcatcher.protocols.wikimedia.event import EventProcessor
        return EventProcessor(self.wikimedia_validator, self._stream_checks)

    @property
    def stream_checks(self) -> Sequence[StreamCheck]:
        """The checks of Wikimedia events' streams (--streams), without making the processor."""
        return self.wikimedia_events.checks if "wikimedia_events" in self.__dict__ else self._stream_checks

    @cached_property
    def eventgate_decoder(self) -> EventGateDecoder:
        from snowcatcher.protocols.wikimedia.eventgate import EventGateDecoder
        return EventGateDecoder(self.wikimedia_events)

    @cached_property
    def eventlogging_decoder(self) -> EventLoggingDecoder:
        from snowcatcher.protocols.wikimedia.eventlogging import EventLoggingDecoder
        return EventLoggingDecoder(self.wikimedia_events)

    async def snowplow_get(self, raw: RawRequest, nuid: str = "") -> list[CapturedEvent]:
        return await self._run(partial(self.snowplow.decode_get, nuid=nuid), raw)

    async def snowplow_post(self, raw: RawRequest, nuid: str = "") -> list[CapturedEvent]:
        decode = partial(self.snowplow.decode_post_parts, nuid=nuid)
        events = await self._in_parts(decode, raw)
        missing = unresolved_uris(events)
        if missing and await self.registry.fetch(missing, grace=FETCH_GRACE):
            events = await self._in_parts(decode, raw)  # see _run
        return self._checked(events)

    async def eventgate(self, raw: RawRequest, *, hasty: bool = False) -> EventGateResult:
        """A `/v1/events` request: its events and EventGate's answer."""
        try:
            result = await _finish(self.eventgate_decoder.decode_parts(raw, hasty=hasty))
            missing = unresolved_uris(result.events)
            if missing and await self.wikimedia.fetch(missing, grace=FETCH_GRACE):
                result = await _finish(self.eventgate_decoder.decode_parts(raw, hasty=hasty))
            return result
        except Exception as error:  # the decoder handles every event; this is the last defence
            log.exception("decoding %s %s failed", raw.method, raw.path)
            from snowcatcher.protocols.wikimedia.eventgate import EventGateResult
            problem = Violation("request", "", "internal", f"snowcatcher could not decode this request: "
                                f"{type(error).__name__}: {error}")
            return EventGateResult([bad_request(raw, problem, protocol=PROTOCOL_EVENTGATE)],
                                   Response(500, problem.message.encode()))

    def decoder_for(self, raw: RawRequest) -> Decode:
        """The decoder that produced a stored request's events, for re-validation: the protocol
        the collector routed it to."""
        protocol = PROTOCOLS.routing(raw)
        if protocol is None:
            return lambda request: []
        return partial(protocol.decode, self)

    async def eventlogging(self, raw: RawRequest) -> list[CapturedEvent]:
        """A legacy `/beacon/event` request."""
        events = self._safely(self.eventlogging_decoder.decode, raw)
        missing = unresolved_uris(events)
        # First sight of a schema.wikimedia.org schema: give the fetch a moment, then decode
        # again; a slow repository does not hold the request (the Revalidator takes over).
        if missing and await self.wikimedia.fetch(missing, grace=FETCH_GRACE):
            events = self._safely(self.eventlogging_decoder.decode, raw)
        return events

    async def _run(self, decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        events = self._safely(decode, raw)
        missing = unresolved_uris(events)  # decoding names the schemas it could not resolve
        # First sight of a remote schema: give the fetch a moment, then decode again with it;
        # a slow or dead registry does not hold the request (the Revalidator takes over).
        if missing and await self.registry.fetch(missing, grace=FETCH_GRACE):
            events = self._safely(decode, raw)
        return self._checked(events)

    async def _in_parts(self, decode: DecodeParts, raw: RawRequest) -> list[CapturedEvent]:
        """_safely(), yielding to the event loop between the decoder's parts."""
        events: list[CapturedEvent] = []
        parts = decode(raw)
        started = time.perf_counter()
        while True:
            try:
                events.extend(next(parts))
            except StopIteration:
                return events
            except Exception as error:  # the whole request is recorded as _safely would
                return [_failure(raw, error)]
            if time.perf_counter() - started >= GIVE_WAY_AFTER:
                await asyncio.sleep(0)
                started = time.perf_counter()

    def decode_stored(self, stored: StoredRequest | None) -> list[CapturedEvent]:
        """A stored request's events decoded again (re-validation, the unresolved-schema retry);
        none for a request the collector refused (an unknown path, over a size limit): its one
        event says why, and decoding the part that was kept would lose that."""
        if stored is None or stored.response.status in REFUSED_STATUSES:
            return []
        return self.redecode(self.decoder_for(stored.request), stored.request)

    def redecode(self, decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        """Decode again with the schemas as they are now (re-validation); no remote fetch."""
        return self._checked(self._safely(decode, raw))

    def schema(self, uri: str) -> Resolution:
        """Where the schema `uri` comes from (its file or registry URL) and what it holds, or why
        it could not be had; never fetches."""
        return (self.registry if uri.startswith("iglu:") else self.wikimedia).lookup(uri)

    def forget(self) -> None:
        """Re-read schemas from disk and drop every cached decode or validation result."""
        self.registry.reload()
        self.wikimedia.reload()
        if "snowplow" in self.__dict__:  # made at its first use (cached_property)
            self.snowplow.forget()
        if self.checker is not None:
            self.checker.reload()

    def _checked(self, events: list[CapturedEvent]) -> list[CapturedEvent]:
        if self.checker is None:
            return events
        checked = []
        for event in events:
            try:
                found = self.checker.findings(event)
            except Exception:  # a checker bug must not cost the event: store it as decoded
                log.exception("checking event %s failed", event.name)
                found = ()
            checked.append(replace(event, violations=event.violations + found) if found else event)
        return checked

    @staticmethod
    def _safely(decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        try:
            return decode(raw)
        except Exception as error:  # the promise: every request is stored, whatever it holds
            return [_failure(raw, error)]


def _failure(raw: RawRequest, error: Exception) -> CapturedEvent:
    """The bad request recorded when decoding failed."""
    if isinstance(error, RecursionError):
        return bad_request(raw, Violation("body", "", "depth", "the body is nested too deeply to decode"))
    log.error("decoding %s %s failed", raw.method, raw.path, exc_info=error)
    return bad_request(raw, Violation("request", "", "internal", f"snowcatcher could not decode this "
                                      f"request: {type(error).__name__}: {error}"))


async def _finish(parts: Generator[None, None, T]) -> T:
    """Run a decoder's parts to their result, giving way to the event loop between them once
    they have worked for GIVE_WAY_AFTER."""
    started = time.perf_counter()
    while True:
        try:
            next(parts)
        except StopIteration as done:
            result: T = done.value
            return result
        if time.perf_counter() - started >= GIVE_WAY_AFTER:
            await asyncio.sleep(0)
            started = time.perf_counter()
