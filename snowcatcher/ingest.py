"""RawRequest -> CapturedEvents: decode, fetch missing schemas, validate; never raises."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from jsonschema import Draft7Validator

from snowcatcher.backoff import FETCH_GRACE
from snowcatcher.decode.eventgate import EventGateDecoder, EventGateResult, wikimedia_bad_request
from snowcatcher.decode.eventlogging import EventLoggingDecoder
from snowcatcher.decode.snowplow import SnowplowDecoder, bad_request
from snowcatcher.decode.wikimedia_event import EventProcessor
from snowcatcher.model import PROTOCOL_EVENTGATE, CapturedEvent, RawRequest, Response, Violation
from snowcatcher.registry import Registry
from snowcatcher.streams import StreamCheck
from snowcatcher.validate import Validator
from snowcatcher.wikimedia_schemas import WikimediaSchemas

log = logging.getLogger(__name__)

Decode = Callable[[RawRequest], list[CapturedEvent]]
T = TypeVar("T")

EVENTGATE_PATH = "/v1/events"
BEACON_PATH = "/beacon/event"


class Ingestor:
    """Turns raw requests into validated events, one decoder per protocol."""

    def __init__(self, registry: Registry, wikimedia: WikimediaSchemas | None = None,
                 stream_checks: Sequence[StreamCheck] = ()) -> None:
        self.registry = registry
        self.validator = Validator(registry)
        self.snowplow = SnowplowDecoder(self.validator.check)
        self.wikimedia = wikimedia or WikimediaSchemas(offline=True)
        # Wikimedia schemas are draft-07 unless they say otherwise; a validator of their own also
        # keeps their relative URIs apart from Iglu URIs in the caches.
        self.wikimedia_validator = Validator(self.wikimedia, default_draft=Draft7Validator)
        self.wikimedia_events = EventProcessor(self.wikimedia_validator, stream_checks)
        self.eventgate_decoder = EventGateDecoder(self.wikimedia_events)
        self.eventlogging_decoder = EventLoggingDecoder(self.wikimedia_events)

    async def snowplow_get(self, raw: RawRequest, nuid: str = "") -> list[CapturedEvent]:
        return await self._run(partial(self.snowplow.decode_get, nuid=nuid), raw)

    async def snowplow_post(self, raw: RawRequest, nuid: str = "") -> list[CapturedEvent]:
        return await self._run(partial(self.snowplow.decode_post, nuid=nuid), raw)

    async def eventgate(self, raw: RawRequest, *, hasty: bool = False) -> EventGateResult:
        """A `/v1/events` request: its events and EventGate's answer."""
        try:
            return await self._with_wikimedia_schemas(
                lambda: self.eventgate_decoder.decode(raw, hasty=hasty))
        except Exception as error:  # the decoder handles every event; this is the last defence
            log.exception("decoding %s %s failed", raw.method, raw.path)
            problem = Violation("request", "", "internal", f"snowcatcher could not decode this request: "
                                f"{type(error).__name__}: {error}")
            return EventGateResult([wikimedia_bad_request(raw, PROTOCOL_EVENTGATE, problem)],
                                   Response(500, problem.message.encode()))

    def decoder_for(self, raw: RawRequest) -> Decode:
        """The decoder that produced a stored request's events, for re-validation."""
        if raw.path == EVENTGATE_PATH:
            return lambda request: self.eventgate_decoder.decode(request).events
        if raw.path == BEACON_PATH:
            return self.eventlogging_decoder.decode
        return self.snowplow.decode_get if raw.method in ("GET", "HEAD") else self.snowplow.decode_post

    async def eventlogging(self, raw: RawRequest) -> list[CapturedEvent]:
        """A legacy `/beacon/event` request."""
        return await self._with_wikimedia_schemas(
            lambda: self._safely(self.eventlogging_decoder.decode, raw))

    async def _with_wikimedia_schemas(self, decode: Callable[[], T]) -> T:
        result = decode()
        missing = self.wikimedia_validator.take_unresolved()
        # First sight of a schema.wikimedia.org schema: give the fetch a moment, then decode
        # again; a slow repository does not hold the request (the Revalidator takes over).
        if missing and await self.wikimedia.fetch(missing, grace=FETCH_GRACE):
            result = decode()
            self.wikimedia_validator.take_unresolved()
        return result

    async def _run(self, decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        events = self._safely(decode, raw)
        missing = self.validator.take_unresolved()
        # First sight of a remote schema: give the fetch a moment, then decode again with it;
        # a slow or dead registry does not hold the request (the Revalidator takes over).
        if missing and await self.registry.fetch(missing, grace=FETCH_GRACE):
            events = self._safely(decode, raw)
            self.validator.take_unresolved()
        return events

    def redecode(self, decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        """Decode again with the schemas as they are now (re-validation); no remote fetch."""
        return self._safely(decode, raw)

    def forget(self) -> None:
        """Re-read schemas from disk and drop every cached decode or validation result."""
        self.registry.reload()
        self.wikimedia.reload()
        self.snowplow.forget()

    @staticmethod
    def _safely(decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        try:
            return decode(raw)
        except RecursionError:
            return [bad_request(raw, Violation("body", "", "depth",
                                               "the body is nested too deeply to decode"))]
        except Exception as error:  # the promise: every request is stored, whatever it holds
            log.exception("decoding %s %s failed", raw.method, raw.path)
            return [bad_request(raw, Violation("request", "", "internal",
                                               f"snowcatcher could not decode this request: "
                                               f"{type(error).__name__}: {error}"))]
