"""RawRequest -> CapturedEvents: decode, fetch missing schemas, validate; never raises."""

from __future__ import annotations

import logging
from collections.abc import Callable

from snowcatcher.decode.snowplow import SnowplowDecoder, bad_request
from snowcatcher.model import CapturedEvent, RawRequest, Violation
from snowcatcher.registry import Registry
from snowcatcher.validate import Validator

log = logging.getLogger(__name__)

Decode = Callable[[RawRequest], list[CapturedEvent]]


class Ingestor:
    """Turns raw requests into validated events, one decoder per protocol."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.validator = Validator(registry)
        self.snowplow = SnowplowDecoder(self.validator.check)

    async def snowplow_get(self, raw: RawRequest) -> list[CapturedEvent]:
        return await self._run(self.snowplow.decode_get, raw)

    async def snowplow_post(self, raw: RawRequest) -> list[CapturedEvent]:
        return await self._run(self.snowplow.decode_post, raw)

    async def _run(self, decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        events = self._safely(decode, raw)
        missing = self.validator.take_unresolved()
        if missing:
            # First sight of a remote schema: fetch it once, then decode again with it.
            await self.registry.fetch(missing)
            events = self._safely(decode, raw)
            self.validator.take_unresolved()
        return events

    def redecode(self, decode: Decode, raw: RawRequest) -> list[CapturedEvent]:
        """Decode again with the schemas as they are now (re-validation); no remote fetch."""
        return self._safely(decode, raw)

    def forget(self) -> None:
        """Re-read schemas from disk and drop every cached decode or validation result."""
        self.registry.reload()
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
