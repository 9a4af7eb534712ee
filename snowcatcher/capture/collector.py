"""The aiohttp collector: tracker endpoints, CORS, size limits; answers only once the store has the event."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader

from snowcatcher.api import guard
from snowcatcher.capture.app_keys import INGESTOR, STORE
from snowcatcher.capture.inflate import encoding_of, inflate
from snowcatcher.capture.intake_first import INTAKE_FIRST, IntakeFirst
from snowcatcher.capture.unparseable import parser_reason
from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, RawRequest, Response, Violation, bad_request
from snowcatcher.protocols import PROTOCOLS, Protocol, Protocols, Route
from snowcatcher.protocols.answer import as_sent, cors_headers, fixed_cors
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.protocols.snowplow.protocol import (
    ANONYMOUS_NUID,
    COOKIE_NAME,
    PIXEL,
    TP2_PATH,
    cookie_nuid,
)
from snowcatcher.protocols.snowplow.tracker_fields import is_network_user_id
from snowcatcher.protocols.wikimedia.eventgate_protocol import EVENTGATE_PATH
from snowcatcher.protocols.wikimedia.eventlogging_protocol import BEACON_PATH
from snowcatcher.store.store import Store

# Their homes are the Snowplow protocol and app_keys; kept here for callers until the moves.
__all__ = ["ANONYMOUS_NUID", "COOKIE_NAME", "INGESTOR", "PIXEL", "STORE", "TP2_PATH"]

CORS_MAX_AGE = 3600
DEFAULT_MAX_BODY = 1024 * 1024
#: Seconds a body may take to arrive (a megabyte at 70 KB/s); then it is recorded as stalled.
DEFAULT_BODY_TIMEOUT = 15.0
# Network user ids must be unique, not secret: a PRNG seeded from os.urandom makes them for a
# third of what uuid4() costs (a getrandom call per id).
_RANDOM = random.Random()
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC << 60))
_UUID4_SET = (0x4000 << 64) | (0x8 << 60)


#: Headers beyond these are refused with 431 (and recorded): cookies of a busy dev site fit easily.
MAX_HEADER_COUNT = 256
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Settings of the HTTP intake."""

    max_body: int = DEFAULT_MAX_BODY
    body_timeout: float = DEFAULT_BODY_TIMEOUT

    @property
    def max_query(self) -> int:
        """A GET carries its event in the query string: it gets the same limit as a body."""
        return self.max_body


def parser_limits(config: CollectorConfig) -> dict[str, int]:
    """aiohttp's HTTP parser limits, for AppRunner.

    Set above our own limits so that a request a little over them still reaches the handlers
    and is recorded with a reason; only far larger ones get aiohttp's bare 400.
    """
    return {"max_line_size": 2 * config.max_query + 8192, "max_field_size": 2 * MAX_HEADER_BYTES,
            "max_headers": 4 * MAX_HEADER_COUNT}


CONFIG = web.AppKey("config", CollectorConfig)

#: Adds routes to the app; called by make_app before the catch-all tracker routes.
RouteInstaller = Callable[[web.Application], None]
#: Told about every captured request, synchronously and before it is stored; must not block.
#: The second argument is the request target exactly as sent (path and query, undecoded), or
#: None when the request was not kept whole (a body, query or headers over the limits).
CaptureHook = Callable[[RawRequest, str | None], None]
#: Set on a request whose captured form was cut at a limit.
_CUT: web.RequestKey[bool] = web.RequestKey("cut", bool)
CAPTURE_HOOKS: web.AppKey[list[CaptureHook]] = web.AppKey("capture_hooks")


def make_app(store: Store, ingestor: Ingestor, config: CollectorConfig | None = None,
             routes: Sequence[RouteInstaller] = (), access: guard.Access | None = None,
             protocols: Protocols = PROTOCOLS) -> web.Application:
    """The collector as an aiohttp application: every protocol's routes, with `routes` adding read
    APIs ahead of the protocols' patterns, guarded by `access` (loopback and same-origin only by
    default)."""
    config = config or CollectorConfig()
    # The body limit is enforced by _read_body so that an oversized request is still recorded.
    app = web.Application(client_max_size=config.max_body * 64)
    app[STORE] = store
    app[INGESTOR] = ingestor
    app[CONFIG] = config
    app[CAPTURE_HOOKS] = []
    app[INTAKE_FIRST] = IntakeFirst()
    app[FIXED_CORS] = fixed_cors(protocols)
    app.on_response_prepare.append(_add_cors_headers)
    guard.install(app, access or guard.Access())
    app.router.add_get("/health", _health)
    plain = [(protocol, route) for protocol in protocols for route in protocol.routes if not route.is_pattern]
    patterns = [(protocol, route) for protocol in protocols for route in protocol.routes if route.is_pattern]
    for protocol, route in plain:
        _add_route(app, route, protocol)
    for install in routes:
        install(app)  # before the catch-alls below, which would otherwise swallow these paths
    for path, methods in _express_allow(plain).items():
        app.router.add_route("OPTIONS", path, partial(_express_preflight, methods))
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    for protocol, route in patterns:
        _add_route(app, route, protocol)
    app.router.add_route("*", "/{tail:.*}", _unknown_path)
    return app


def _add_route(app: web.Application, route: Route, protocol: Protocol) -> None:
    handler = _unknown_path if route.refuse else partial(_intake, protocol)
    if route.method == "GET":
        app.router.add_get(route.path, handler)  # also answers HEAD
    else:
        app.router.add_route(route.method, route.path, handler)


def _express_allow(plain: list[tuple[Protocol, Route]]) -> dict[str, str]:
    """The Allow answer of each plain path of a protocol with fixed CORS, as Express lists the
    route's methods."""
    methods: dict[str, list[str]] = {}
    for protocol, route in plain:
        if protocol.cors and not route.refuse:
            known = methods.setdefault(route.path, [])
            known.extend(["GET", "HEAD"] if route.method == "GET" else [route.method])
    return {path: ",".join(names) for path, names in methods.items()}


# -- handlers ------------------------------------------------------------------------------------


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _express_preflight(methods: str, request: web.Request) -> web.Response:
    """Express answers OPTIONS itself with the route's methods (CORS headers come from
    _add_cors_headers, as EventGate's app.all('*') sets them on every answer)."""
    return web.Response(text=methods, headers={"Allow": methods})


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(headers={
        "Access-Control-Allow-Headers": "Content-Type, SP-Anonymous",
        "Access-Control-Max-Age": str(CORS_MAX_AGE),
    })


async def _intake(protocol: Protocol, request: web.Request) -> web.StreamResponse:
    """Any protocol's intake: capture, decode and validate, store, then answer as the protocol does."""
    with request.app[INTAKE_FIRST].intake():  # long reads pause meanwhile
        return await _take_in(protocol, request)


async def _take_in(protocol: Protocol, request: web.Request) -> web.StreamResponse:
    raw, too_big = await capture(request)
    if not too_big and not protocol.claims(raw):
        return await _unknown(request, raw)
    nuid = network_user_id(request)
    if too_big:
        events, answer = oversize(request, raw)
        if protocol.name != PROTOCOL_SNOWPLOW:
            events = [replace(event, protocol=protocol.name) for event in events]
    else:
        events, answer = await protocol.ingest(request.app[INGESTOR], raw, nuid)
        answer = protocol.finish(answer, events, nuid)
    return await store_and_answer(request, raw, answer, events)


async def _unknown_path(request: web.Request) -> web.StreamResponse:
    raw, _ = await capture(request)
    return await _unknown(request, raw)


async def _unknown(request: web.Request, raw: RawRequest) -> web.StreamResponse:
    message = (f"snowcatcher has no endpoint for {raw.method} {raw.path}: send Snowplow events to "
               f"POST {TP2_PATH} (or any path with a payload_data body) or GET /i, Wikimedia events "
               f"to POST {EVENTGATE_PATH} and legacy EventLogging beacons to {BEACON_PATH}")
    event = bad_request(raw, Violation("request", "", "endpoint", message))
    return await store_and_answer(request, raw, Response(404, message.encode()), [event])


# -- shared steps --------------------------------------------------------------------------------


#: Why a request's body was refused after reading it: an HTTP status and a sentence.
_BODY_REFUSAL: web.RequestKey[tuple[int, str]] = web.RequestKey("body_refusal", tuple)
#: Set on a request with `Expect: 100-continue` whose announced body is over the limit: it is
#: refused without reading it (strays.expect_continue sent no "100 Continue").
UNSENT_BODY: web.RequestKey[bool] = web.RequestKey("unsent_body", bool)
#: Set when the body broke off: the client hung up, or its chunked framing went wrong mid-body.
_BODY_BROKEN: web.RequestKey[bool] = web.RequestKey("body_broken", bool)


async def capture(request: web.Request) -> tuple[RawRequest, bool]:
    """The request as a RawRequest (body and query cut at the limit, inflated when compressed)
    and whether it is refused: a body, query string or headers too big, or a body that does not
    inflate (`oversize()` says which)."""
    config = request.app[CONFIG]
    chunks: list[bytes] = []
    try:
        # Only a request with Expect has UNSENT_BODY set: asking first spares the others a
        # failed lookup (request.get raises and catches a KeyError, 4% of the intake's time).
        if "Expect" in request.headers and request.get(UNSENT_BODY):  # it waits for a "100 Continue"
            request[_BODY_REFUSAL] = (413, f"the body of {request.content_length} bytes (Content-Length) "
                                           f"is larger than the limit of {config.max_body} bytes "
                                           "(--max-body); it was refused before it was sent "
                                           "(Expect: 100-continue)")
            too_big = True
        elif request.content.is_eof():  # the body came with the headers: nothing to wait for
            too_big = await _read_body(request, config.max_body, chunks)
        else:
            async with asyncio.timeout(config.body_timeout):
                too_big = await _read_body(request, config.max_body, chunks)
    except TimeoutError:
        too_big = True
        request[_BODY_REFUSAL] = (408, f"the body stopped arriving: {_arrived(request, chunks)} came in "
                                       f"{config.body_timeout:g} s; only they were kept")
    except (ConnectionError, HttpProcessingError) as error:
        chunks.extend(_unread(request.content))
        if isinstance(error, ConnectionError) and request.content.is_eof():
            # The parser saw the whole body before the client hung up (wrk, or a tracker closing
            # at exit): the request is complete as sent, read from aiohttp's buffer.
            too_big = sum(map(len, chunks)) > config.max_body
        else:
            too_big = True
            request[_BODY_BROKEN] = True
            why = ("the client hung up" if isinstance(error, ConnectionError)
                   else f"the body is not valid HTTP ({parser_reason(error)})")
            request[_BODY_REFUSAL] = (400, f"{why} after {_arrived(request, chunks)} of the body; "
                                           "only they were kept")
    body = b"".join(chunks)[:config.max_body]
    encoding = encoding_of(request.headers.get("Content-Encoding", ""))
    # The server leaves bodies compressed (server.py): aiohttp would inflate all of a zip bomb.
    if encoding and body and not too_big and request.content.total_compressed_bytes is None:
        inflated = await inflate(body, encoding, config.max_body)
        body = inflated.body
        if inflated.too_big:
            request[_BODY_REFUSAL] = (413, f"the {encoding} body inflates to more than the limit of "
                                           f"{config.max_body} bytes (--max-body); only its start "
                                           "was kept")
        elif inflated.problem:
            request[_BODY_REFUSAL] = (415 if encoding not in ("gzip", "x-gzip", "deflate") else 400,
                                      inflated.problem)
        too_big = _BODY_REFUSAL in request
    anonymous = request.headers.get("SP-Anonymous") == "*"
    remote = "" if anonymous else (request.remote or "")
    query = request.rel_url.raw_query_string
    raw = RawRequest(method=request.method, path=request.path, query=query[:config.max_query],
                     headers=tuple(request.headers.items()), body=body,
                     received_at=time.time(), remote=remote)
    refused = too_big or _oversize_part(request, config) is not None
    request[_CUT] = refused  # set either way: store_and_answer's lookup then never fails
    return raw, refused


def _arrived(request: web.Request, chunks: list[bytes]) -> str:
    expected = request.content_length
    return (f"{sum(map(len, chunks))} of {expected if expected is not None else 'an unknown number of'}"
            " bytes")


def _oversize_part(request: web.Request, config: CollectorConfig) -> tuple[int, str] | None:
    """The status and sentence for a query string or headers over the limits, if any."""
    size = len(request.rel_url.raw_query_string)
    if size > config.max_query:
        return 414, (f"the query string is {size} characters, larger than the limit of "
                     f"{config.max_query} (--max-body); only its start was kept")
    count = len(request.headers)
    total = sum(len(key) + len(value) for key, value in request.headers.items())
    if count > MAX_HEADER_COUNT or total > MAX_HEADER_BYTES:
        return 431, (f"the request has {count} headers of {total} bytes, more than the limits of "
                     f"{MAX_HEADER_COUNT} headers and {MAX_HEADER_BYTES} bytes")
    return None


async def _read_body(request: web.Request, limit: int, chunks: list[bytes]) -> bool:
    """Read the body into `chunks`, up to a byte past `limit`; whether it was longer."""
    if not request.body_exists:
        return False
    size = 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if request.content.at_eof():
            break  # all of it was buffered: another read would only learn that it ended
    return size > limit


def _unread(content: StreamReader) -> list[bytes]:
    """What arrived of a body that broke off but was not read yet. aiohttp raises the hang-up on
    the next read although those bytes are buffered, so they are taken from its buffer."""
    parts = [bytes(part) for part in getattr(content, "_buffer", ())]
    offset = getattr(content, "_buffer_offset", 0)
    if parts and offset:
        parts[0] = parts[0][offset:]
    return parts


def oversize(request: web.Request, raw: RawRequest) -> tuple[list[CapturedEvent], Response]:
    """The bad event and the answer for a request over the limits: 414 for the query string,
    431 for the headers, 413 for a body over --max-body."""
    limit = request.app[CONFIG].max_body
    status, message = _oversize_part(request, request.app[CONFIG]) or request.get(_BODY_REFUSAL) or (
        413, f"the body is larger than the limit of {limit} bytes (--max-body); only its start was kept")
    keyword = "incomplete" if status == 400 and request.get(_BODY_BROKEN) else {
        400: "content-encoding", 415: "content-encoding", 408: "timeout"}.get(status, "size")
    event = bad_request(raw, Violation("request", "", keyword, message))
    title = {400: "bad request", 408: "request timeout", 413: "payload too large", 414: "URI too long",
             415: "unsupported media type", 431: "request header fields too large"}
    return [event], Response(status, f"{title[status]}: {message}".encode())


async def store_and_answer(request: web.Request, raw: RawRequest, answer: Response,
                           events: list[CapturedEvent]) -> web.Response:
    """Store the request and its events with the answer as it will be sent, headers included, then
    send it: a 2xx means the events are in the store."""
    target = None if request.get(_CUT) else request.raw_path
    for hook in request.app[CAPTURE_HOOKS]:
        hook(raw, target)
    answer = as_sent(answer, cors_headers(request.app[FIXED_CORS].get(request.path),
                                          request.headers.get("Origin", "")))
    try:
        await request.app[STORE].append(raw, answer, events)
    except Exception as error:  # the store is gone (disk full, read-only): say so, do not pretend
        return web.Response(status=500, text=f"snowcatcher could not store the request: {error}")
    return web.Response(status=answer.status, body=answer.body, reason=answer.reason,
                        headers=answer.headers)


def network_user_id(request: web.Request) -> str:
    """`nuid` from the query when it is a UUID, else the `sp` cookie, else a new one; all zeros when
    anonymous."""
    if request.headers.get("SP-Anonymous") == "*":
        return ANONYMOUS_NUID
    if "nuid=" in request.query_string and is_network_user_id(request.query.get("nuid", "")):
        return request.query["nuid"]  # anything else is a violation of the event, never a header
    return cookie_nuid(request.headers.get("Cookie", "")) or random_uuid()


def random_uuid() -> str:
    """A random version-4 UUID."""
    digits = f"{_RANDOM.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


#: CORS headers fixed per intake path by its protocol (EventGate's), instead of the origin echoed.
FIXED_CORS: web.AppKey[dict[str, Mapping[str, str]]] = web.AppKey("fixed_cors")


async def _add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    if guard.is_read_path(request.path):
        guard.add_read_cors(request, response)  # only the origins the user allowed
        return
    if "Access-Control-Allow-Origin" in response.headers:
        return  # a stored request's answer: store_and_answer sent (and stored) its CORS already
    response.headers.extend(cors_headers(request.app[FIXED_CORS].get(request.path),
                                         request.headers.get("Origin", "")))

