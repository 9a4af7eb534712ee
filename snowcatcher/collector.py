"""The aiohttp collector: tracker endpoints, CORS, size limits; answers only once the store has the event."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from snowcatcher.decode.snowplow import PAYLOAD_DATA_PREFIX, bad_request
from snowcatcher.ingest import Ingestor
from snowcatcher.model import BAD_REQUEST, CapturedEvent, RawRequest, Response, Violation
from snowcatcher.store import Store

PIXEL = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
TP2_PATH = "/com.snowplowanalytics.snowplow/tp2"
ANONYMOUS_NUID = "00000000-0000-0000-0000-000000000000"
COOKIE_NAME = "sp"
COOKIE_MAX_AGE = 365 * 24 * 3600
CORS_MAX_AGE = 3600
DEFAULT_MAX_BODY = 1024 * 1024
_NO_CACHE = "no-cache, no-store, must-revalidate"


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Settings of the HTTP intake."""

    max_body: int = DEFAULT_MAX_BODY


STORE = web.AppKey("store", Store)
INGESTOR = web.AppKey("ingestor", Ingestor)
CONFIG = web.AppKey("config", CollectorConfig)

Intake = Callable[[RawRequest], Awaitable[list[CapturedEvent]]]


def make_app(store: Store, ingestor: Ingestor, config: CollectorConfig | None = None) -> web.Application:
    """The collector as an aiohttp application; other modules add their routes to it."""
    config = config or CollectorConfig()
    # The body limit is enforced by _read_body so that an oversized request is still recorded.
    app = web.Application(client_max_size=config.max_body * 64)
    app[STORE] = store
    app[INGESTOR] = ingestor
    app[CONFIG] = config
    app.on_response_prepare.append(_add_cors_headers)
    app.router.add_get("/health", _health)
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    for path in ("/i", "/ice.png", "/{vendor}/{version}"):
        app.router.add_get(path, _snowplow_get)  # also answers HEAD
    app.router.add_post("/{tail:.*}", _snowplow_post)
    app.router.add_route("*", "/{tail:.*}", _unknown_path)
    return app


# -- handlers ------------------------------------------------------------------------------------


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(headers={
        "Access-Control-Allow-Headers": "Content-Type, SP-Anonymous",
        "Access-Control-Max-Age": str(CORS_MAX_AGE),
    })


async def _snowplow_get(request: web.Request) -> web.StreamResponse:
    raw, too_big = await capture(request)
    return await _track(request, raw, too_big, request.app[INGESTOR].snowplow_get,
                        Response(200, PIXEL, "image/gif"))


async def _snowplow_post(request: web.Request) -> web.StreamResponse:
    raw, too_big = await capture(request)
    if request.path != TP2_PATH and not too_big and not _looks_like_payload_data(raw.body):
        return await _unknown(request, raw)
    return await _track(request, raw, too_big, request.app[INGESTOR].snowplow_post, Response(200, b"ok"))


async def _track(request: web.Request, raw: RawRequest, too_big: bool, intake: Intake,
                 answer: Response) -> web.StreamResponse:
    if too_big:
        events, answer = oversize(request, raw)
    else:
        events = await intake(raw)
    nuid = network_user_id(request)
    events = [_fill(event, "nuid", nuid) for event in events]
    response = await store_and_answer(request, raw, answer, events)
    if nuid != ANONYMOUS_NUID and response.status < 300:
        response.set_cookie(COOKIE_NAME, nuid, max_age=COOKIE_MAX_AGE, path="/", secure=True,
                            httponly=True, samesite="None")
    return response


async def _unknown_path(request: web.Request) -> web.StreamResponse:
    raw, _ = await capture(request)
    return await _unknown(request, raw)


async def _unknown(request: web.Request, raw: RawRequest) -> web.StreamResponse:
    message = (f"snowcatcher has no endpoint for {raw.method} {raw.path}: send Snowplow events to "
               f"POST {TP2_PATH} (or any path with a payload_data body) or GET /i")
    event = bad_request(raw, Violation("request", "", "endpoint", message))
    return await store_and_answer(request, raw, Response(404, message.encode()), [event])


# -- shared steps --------------------------------------------------------------------------------


async def capture(request: web.Request) -> tuple[RawRequest, bool]:
    """The request as a RawRequest (body cut at the limit) and whether the body was too big."""
    limit = request.app[CONFIG].max_body
    body, too_big = await _read_body(request, limit)
    anonymous = request.headers.get("SP-Anonymous") == "*"
    remote = "" if anonymous else (request.remote or "")
    raw = RawRequest(method=request.method, path=request.path, query=request.query_string,
                     headers=tuple(request.headers.items()), body=body,
                     received_at=time.time(), remote=remote)
    return raw, too_big


async def _read_body(request: web.Request, limit: int) -> tuple[bytes, bool]:
    if not request.body_exists:
        return b"", False
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit], True


def oversize(request: web.Request, raw: RawRequest) -> tuple[list[CapturedEvent], Response]:
    """The bad event and the 413 answer for a body over --max-body."""
    limit = request.app[CONFIG].max_body
    message = f"the body is larger than the limit of {limit} bytes (--max-body); only its start was kept"
    event = bad_request(raw, Violation("request", "", "size", message))
    return [event], Response(413, f"payload too large: {message}".encode())


async def store_and_answer(request: web.Request, raw: RawRequest, answer: Response,
                           events: list[CapturedEvent]) -> web.Response:
    """Store the request and its events, then answer: a 2xx means the events are in the store."""
    try:
        await request.app[STORE].append(raw, answer, events)
    except Exception as error:  # the store is gone (disk full, read-only): say so, do not pretend
        return web.Response(status=500, text=f"snowcatcher could not store the request: {error}")
    response = web.Response(status=answer.status, body=answer.body, content_type=answer.content_type,
                            reason=answer.reason)
    if answer.content_type == "image/gif":
        response.headers["Cache-Control"] = _NO_CACHE
    return response


def network_user_id(request: web.Request) -> str:
    """`nuid` from the query, else the `sp` cookie, else a new one; all zeros when anonymous."""
    if request.headers.get("SP-Anonymous") == "*":
        return ANONYMOUS_NUID
    return request.query.get("nuid") or request.cookies.get(COOKIE_NAME) or str(uuid.uuid4())


def _fill(event: CapturedEvent, name: str, value: Any) -> CapturedEvent:
    """Record a value the collector adds itself (like Enrich's network_userid) as filled."""
    if event.event_type == BAD_REQUEST or name in event.payload:
        return event
    return replace(event, payload={**event.payload, name: value}, filled=(*event.filled, name))


async def _add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    # Trackers send credentials, and browsers reject `*` with credentials: a failed CORS check
    # makes the tracker retry and duplicates events, so the origin is echoed.
    response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response.headers["Access-Control-Allow-Credentials"] = "true"


def _looks_like_payload_data(body: bytes) -> bool:
    return PAYLOAD_DATA_PREFIX.encode() in body[:512]
