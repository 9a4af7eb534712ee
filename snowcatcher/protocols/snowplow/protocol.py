"""Snowplow's place in the registry: tp2 POSTs (any path with payload_data), GET pixels, the sp cookie."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, RawRequest, Response
from snowcatcher.protocols.base import Intake, Protocol, Route
from snowcatcher.protocols.snowplow.decode import PAYLOAD_DATA_PREFIX, parse_query
from snowcatcher.protocols.snowplow.tracker_fields import FIELD_GROUPS, FIELDS

if TYPE_CHECKING:
    from snowcatcher.protocols.ingest import Ingestor

PIXEL = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
TP2_PATH = "/com.snowplowanalytics.snowplow/tp2"
#: The network user id of a tracker that asked for anonymity (SP-Anonymous: *).
ANONYMOUS_NUID = "00000000-0000-0000-0000-000000000000"
COOKIE_NAME = "sp"
COOKIE_MAX_AGE = 365 * 24 * 3600
_SP_COOKIE = re.compile(r"(?:^|;)\s*sp=([0-9A-Za-z-]{1,64})\s*(?:;|$)")
#: Paths of GET pixels that need no event parameters to be recognised in a capture file.
_PIXEL_PATHS = ("/i", "/ice.png")


class SnowplowProtocol(Protocol):
    """Snowplow trackers: POST /com.snowplowanalytics.snowplow/tp2 (or any path with a
    payload_data body), GET /i, /ice.png and /{vendor}/{version}."""

    name = PROTOCOL_SNOWPLOW
    short = "sp"
    fields = FIELDS
    field_groups = FIELD_GROUPS
    routes = (
        # The trackers' own path as a plain route: found by one dict lookup, before any pattern.
        Route("POST", TP2_PATH), Route("GET", TP2_PATH),
        Route("GET", "/i"), Route("GET", "/ice.png"), Route("GET", "/{vendor}/{version}"),
        Route("POST", "/{tail:.*}"),
    )

    def claims(self, raw: RawRequest) -> bool:
        return raw.method != "POST" or raw.path == TP2_PATH or looks_like_payload_data(raw.body)

    def recognises(self, raw: RawRequest) -> bool:
        if not self.routed(raw) or not self.claims(raw):
            return False
        if raw.method == "POST" or raw.path in _PIXEL_PATHS:
            return True
        return bool({"e", "tv"} & parse_query(raw.query).keys())  # other GETs of a page load

    async def ingest(self, ingestor: Ingestor, raw: RawRequest, nuid: str) -> Intake:
        if raw.method in ("GET", "HEAD"):
            return Intake(await ingestor.snowplow_get(raw, nuid), Response(200, PIXEL, "image/gif"))
        return Intake(await ingestor.snowplow_post(raw, nuid), Response(200, b"ok"))

    def decode(self, ingestor: Ingestor, raw: RawRequest) -> list[CapturedEvent]:
        if raw.method in ("GET", "HEAD"):
            return ingestor.snowplow.decode_get(raw)
        return ingestor.snowplow.decode_post(raw)

    def finish(self, answer: Response, events: list[CapturedEvent], nuid: str) -> Response:
        if nuid and nuid != ANONYMOUS_NUID and answer.status < 300:
            # Written by hand: http.cookies costs more than decoding the event.
            return answer.with_headers(("Set-Cookie", f"{COOKIE_NAME}={nuid}; Max-Age={COOKIE_MAX_AGE}; "
                                                      "Path=/; Secure; HttpOnly; SameSite=None"))
        return answer


def looks_like_payload_data(body: bytes) -> bool:
    """Whether a POST body to another path than tp2 is a tracker's payload_data batch."""
    return PAYLOAD_DATA_PREFIX.encode() in body[:512]


def cookie_nuid(header: str) -> str:
    """The network user id in a Cookie header's `sp` cookie, or empty."""
    cookie = _SP_COOKIE.search(header)
    return cookie.group(1) if cookie else ""
