"""Requests no intake route takes (unroutable ones, preflights with a body, events sent to the read API)."""

from __future__ import annotations

import time

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import ResourceRoute

from snowcatcher.capture.collector import CONFIG, STORE, TP2_PATH, UNSENT_BODY, capture, store_and_answer
from snowcatcher.model import RawRequest, Response, Violation, bad_request
from snowcatcher.protocols.snowplow.decode import PAYLOAD_DATA_PREFIX

#: Micro's read API: trackers pointed at Micro's URL by mistake post their events there.
MICRO_PATHS = ("/micro/",)
#: What marks a body as tracker events, in its first bytes: Snowplow's payload_data, or an
#: EventGate event's schema.
_EVENT_MARKS = (PAYLOAD_DATA_PREFIX.encode(), b'"$schema"')


def install(app: web.Application) -> None:
    """Record the strays of `app` (ahead of the read API's guard, which answers some itself) and
    answer `Expect: 100-continue` on every route; after all routes are added."""
    app.middlewares.insert(0, record_strays)
    for route in app.router.routes():
        if isinstance(route, ResourceRoute):
            # aiohttp takes an expect handler only as add_route's argument; this sets the same
            # attribute for the routes other modules add, so that none is left with the default.
            route._expect_handler = expect_continue


async def expect_continue(request: web.Request) -> None:
    """Say "100 Continue" to a client that waits for it, unless the body it announces is over the
    limit: then it is refused (413, recorded) without being sent. Other expectations are left to
    the handler, which records the request (aiohttp's default would answer 417 unrecorded)."""
    if request.version != HttpVersion11 or request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
        return
    if (request.content_length or 0) > request.app[CONFIG].max_body:
        request[UNSENT_BODY] = True
        return
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # as aiohttp's own: the answer proper has not started


@web.middleware
async def record_strays(request: web.Request, handler: Handler) -> web.StreamResponse:
    unrouted = request.match_info.http_exception
    if unrouted is not None:
        return await _record_unrouted(request, unrouted)
    if request.method == "OPTIONS" and request.body_exists:
        raw, _ = await capture(request)  # the preflight's handler never reads a body
        message = (f"an OPTIONS request (a CORS preflight) carries no events; its body of {len(raw.body)} "
                   "bytes was not read as events: send them with POST")
        return await _answer_and_record(request, handler, raw, message)
    if request.method == "POST" and request.path.startswith(MICRO_PATHS) and request.body_exists \
            and (request.content_length or 0) <= request.app[CONFIG].max_body:
        message = (f"{request.path} is snowcatcher's Micro read API, which takes a filter, not events; the "
                   f"events in this body were not collected: send them to POST {TP2_PATH}")
        return await _answer_and_record(request, handler, None, message)
    return await handler(request)


async def _record_unrouted(request: web.Request, unrouted: web.HTTPException) -> web.StreamResponse:
    """A request no route matches at all (CONNECT's host:port, an asterisk target)."""
    raw, _ = await capture(request)
    message = (f"snowcatcher has no endpoint for {raw.method} {request.raw_path}: it is a collector, "
               f"not a proxy; send Snowplow events to POST {TP2_PATH} or GET /i")
    event = bad_request(raw, Violation("request", "", "endpoint", message))
    return await store_and_answer(request, raw, Response(unrouted.status, message.encode()), [event])


async def _answer_and_record(request: web.Request, handler: Handler, raw: RawRequest | None,
                             message: str) -> web.StreamResponse:
    """Answer as the route does, then record the request as a bad one saying `message`: its body
    held events that were not collected. Without `raw`, the body is read after the handler (which
    may have read it, as the read API's filters do) and the request is recorded only when the
    body looks like events."""
    try:
        response = await handler(request)
    except web.HTTPException as refusal:
        await _store(request, raw or await _events_request(request), refusal, message)
        raise
    await _store(request, raw or await _events_request(request), response, message)
    return response


async def _events_request(request: web.Request) -> RawRequest | None:
    """The request as a RawRequest when its body looks like tracker events, else None."""
    body = await request.read()  # what the handler read, kept by aiohttp, or the rest now
    if not any(mark in body[:512] for mark in _EVENT_MARKS):
        return None
    return RawRequest(method=request.method, path=request.path, query=request.rel_url.raw_query_string,
                      headers=tuple(request.headers.items()), body=body, received_at=time.time(),
                      remote=request.remote or "")


async def _store(request: web.Request, raw: RawRequest | None, response: web.StreamResponse,
                 message: str) -> None:
    if raw is None:
        return
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
    # The headers the route set (its CORS come later, as the answer is sent).
    answer = Response(response.status, body, response.content_type, response.reason,
                      tuple(response.headers.items()))
    await request.app[STORE].append(raw, answer, [bad_request(raw, Violation("request", "", "endpoint",
                                                                             message))])
