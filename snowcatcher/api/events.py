"""snowcatcher's own HTTP API under /snowcatcher/api/: events, wait, live stream, export, import, status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDict

from snowcatcher import __version__
from snowcatcher.api.capture_file import CaptureError, read_capture
from snowcatcher.api.exchange import request_json, response_json, stored_json
from snowcatcher.api.guard import shown_stored
from snowcatcher.api.har import har_entry, har_frame
from snowcatcher.api.importer import import_requests
from snowcatcher.api.live import Waiters, latest_id, wait_for
from snowcatcher.api.micro import counts, error_sentence, json_response
from snowcatcher.capture.app_keys import INGESTOR, STORE
from snowcatcher.capture.forward import FORWARD_STATS
from snowcatcher.capture.intake_first import between_pages, long_read
from snowcatcher.capture.unparseable import UNPARSEABLE
from snowcatcher.gitlab.api import GITLAB
from snowcatcher.model import PROTOCOL_SNOWPLOW
from snowcatcher.protocols import PROTOCOLS
from snowcatcher.protocols.snowplow.enriched import enriched_event
from snowcatcher.qa.checks import EventCheck
from snowcatcher.store.query import Filter, FilterError
from snowcatcher.store.store import StoreError
from snowcatcher.text import as_json
from snowcatcher.validate.unresolved import UNRESOLVED_SCHEMAS

log = logging.getLogger(__name__)

PREFIX = "/snowcatcher/api"
MAX_LIMIT = 1000
MAX_WAIT = 600.0
KEEP_ALIVE = 15.0
#: A live stream writes at most this often (s): what arrives meanwhile goes in one write.
STREAM_INTERVAL = 0.1
#: Seconds a live stream's client may leave a full buffer unread before it is dropped.
STALLED_STREAM = 30.0
#: The largest JSON body POST /wait reads.
MAX_WAIT_BODY = 65536
#: Events exported between two yields to the event loop (a few ms of work).
EXPORT_PAGE = 50
ENDPOINTS = {
    "GET /events?filter=&offset=&limit=&order=oldest|newest&after=ID": "events, paged",
    "GET /events/{id}": "one event with its request and our answer",
    "DELETE /events": "forget every event",
    "GET /wait?filter=&count=1&timeout=10&context=&field=KEY=VALUE&after=ID&exact=1&defined=1":
        "block until events arrive; 504 with a report on timeout",
    "POST /wait": "the same wait, its query as a JSON object: {\"filter\", \"count\", \"timeout\", "
                  "\"context\": [...], \"field\": {\"KEY\": \"VALUE\"}, \"after\", \"exact\", \"defined\"}",
    "GET /stream?filter=&after=ID": "Server-Sent Events, one per stored event",
    "GET /export.ndjson?filter=": "events as NDJSON (with their requests, for import)",
    "GET /export.har?filter=": "the requests as a HAR log",
    "POST /import": "an NDJSON or HAR capture in the body, decoded and validated again",
    "GET /status": "counts, the store and forwarding",
    "GET /gitlab/definitions": "with --gitlab: the checkout, its definition counts and problems",
    "GET /gitlab/metrics": "with --gitlab: metrics touched by captured events, this capture's contribution",
}
#: The long-lived requests (waits and streams), ended when the server shuts down.
LIVE: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("live_requests")
#: The one store subscriber behind every wait and stream.
WAITERS = web.AppKey("waiters", Waiters)
#: The routes whose handler ends when its client hangs up (see unparseable.RecordingRunner).
LIVE_PATHS = frozenset({PREFIX + "/wait", PREFIX + "/stream"})


def install(app: web.Application) -> None:
    app[LIVE] = set()
    app[WAITERS] = Waiters(app[STORE])
    app.on_shutdown.append(_end_live_requests)
    add = app.router.add_route
    add("GET", PREFIX, _index)
    add("GET", PREFIX + "/", _index)
    add("GET", PREFIX + "/status", _status)
    add("GET", PREFIX + "/events", _events)
    add("DELETE", PREFIX + "/events", _reset)
    add("GET", PREFIX + "/events/{id}", _event)
    add("GET", PREFIX + "/wait", _wait)
    add("POST", PREFIX + "/wait", _wait_posted)
    add("GET", PREFIX + "/stream", _stream)
    add("GET", PREFIX + "/export.ndjson", _export_ndjson)
    add("GET", PREFIX + "/export.har", _export_har)
    add("POST", PREFIX + "/import", _import)
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        add(method, PREFIX + "/{tail:.*}", _unknown)


# -- reading -------------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.Response:
    return json_response({"snowcatcher": __version__, "endpoints": {
        f"{key.split(' ', 1)[0]} {PREFIX}{key.split(' ', 1)[1]}": text
        for key, text in ENDPOINTS.items()}})


async def _status(request: web.Request) -> web.Response:
    store = request.app[STORE]
    totals = store.counts()
    stats = request.app.get(FORWARD_STATS)
    unresolved = request.app.get(UNRESOLVED_SCHEMAS)
    return json_response({
        "version": __version__,
        "store": {"path": str(store.path), "total": totals.total, "valid": totals.valid,
                  "invalid": totals.invalid, "unchecked": totals.unchecked,
                  "warnings": list(store.check_files())},
        "micro": counts(store),
        "schema_fetches": unresolved.to_json() if unresolved else None,
        "waiters": request.app[WAITERS].counts(),
        "unparseable": unparseable.to_json() if (unparseable := request.app.get(UNPARSEABLE)) else None,
        "forward": stats.to_json() if stats else {"enabled": False}})


async def _events(request: web.Request) -> web.Response:
    store = request.app[STORE]
    where = _filter(request)
    limit = _int(request, "limit", 100, 1, MAX_LIMIT)
    after = _int(request, "after", -1, 0)
    order = request.query.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise _bad(f"order must be oldest or newest, not {as_json(order)}")
    offset = _int(request, "offset", 0, 0)
    if after >= 0:
        events = store.after(after, where, limit)
    else:
        events = store.window(where, offset, limit, newest_first=order == "newest")
    return json_response({"total": store.count(where), "offset": offset, "limit": limit,
                          "order": order, "events": [event.to_json() for event in events],
                          "next_after": max((event.id for event in events), default=max(after, 0))})


async def _event(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        event_id = int(request.match_info["id"])
    except ValueError:
        event = None
    else:
        if not 0 <= event_id <= LARGEST_ID:
            raise _bad(f"an event id is between 0 and {LARGEST_ID}, not {request.match_info['id'][:40]}")
        event = store.get(event_id)
    if event is None:
        return json_response({"error": f"no event {request.match_info['id']} in the store "
                                       f"(it holds {store.count()} events)"}, status=404)
    stored = shown_stored(request, store.request(event.request_id))
    raw = stored.request if stored else None
    return json_response({
        "event": event.to_json(),
        "errors": [error_sentence(v.entity, v.path, v.keyword, v.message) for v in event.violations],
        "enriched": enriched_event(event, raw) if event.protocol == PROTOCOL_SNOWPLOW else None,
        "request": request_json(stored.request) if stored else None,
        "response": response_json(stored.response) if stored else None})


async def _reset(request: web.Request) -> web.Response:
    request.app[STORE].reset()
    return json_response({"total": 0})


# -- waiting and streaming -----------------------------------------------------------------------


async def _wait(request: web.Request) -> web.Response:
    store = request.app[STORE]
    where = _filter(request)
    try:
        check = EventCheck.parse(request.query.getall("context", []), request.query.getall("field", []),
                                 defined=request.query.get("defined", "") in ("1", "true", "yes"))
    except ValueError as error:
        raise _bad(str(error)) from None
    if check.defined and request.app.get(GITLAB) is None:
        raise _bad("defined=1 needs GitLab definitions: start snowcatcher with --gitlab PATH")
    count = _int(request, "count", 1, 0)
    timeout = _float(request, "timeout", 10.0, 0.0, MAX_WAIT)
    exact = request.query.get("exact", "") in ("1", "true", "yes")
    with _live(request):
        result = await wait_for(request.app[WAITERS], where, check, count, timeout,
                                after=_int(request, "after", 0, 0), exact=exact)
    return json_response(result.to_json(store, where, check), status=200 if result.ok else 504)


async def _wait_posted(request: web.Request) -> web.Response:
    """POST /wait: the JSON body read as GET's query, then the GET handler."""
    # Read from the stream: a request whose body was read() cannot be cloned with a new query.
    data = b""
    while len(data) <= MAX_WAIT_BODY and (chunk := await request.content.read(MAX_WAIT_BODY + 1)):
        data += chunk
    if len(data) > MAX_WAIT_BODY:
        raise _bad(f"the body is larger than {MAX_WAIT_BODY} bytes: a wait's query is a small JSON object")
    try:
        body = orjson.loads(data or b"{}")
    except orjson.JSONDecodeError as error:
        raise _bad(f"the body must be a JSON object: {error}") from None
    if not isinstance(body, dict):
        raise _bad('the body must be a JSON object such as {"filter": "type:struct", "count": 1}')
    query = MultiDict(request.query)
    for key, value in body.items():
        for item in _query_values(key, value):
            query.add(key, item)
    return await _wait(request.clone(rel_url=request.rel_url.with_query(query)))


def _query_values(key: str, value: Any) -> list[str]:
    """A JSON value as query values: lists repeat the key, `field` may be a mapping, true is 1."""
    if key == "field" and isinstance(value, dict):
        return [f"{name}={_query_values(key, item)[0]}" for name, item in value.items()]
    if isinstance(value, list):
        return [item for element in value for item in _query_values(key, element)]
    if isinstance(value, bool):
        return ["1" if value else "0"]
    if isinstance(value, str):
        return [value]
    if value is None:
        return ["null"] if key == "field" else []
    if isinstance(value, int | float):
        return [f"{value:g}" if isinstance(value, float) else str(value)]
    raise _bad(f"{key} must be a string, a number, true or false, or a list of them, "
               f"not {orjson.dumps(value).decode()}")


async def _stream(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    where = _filter(request)
    resume = request.headers.get("Last-Event-ID", "")
    cursor = int(resume) if resume.isdigit() and len(resume) < 19 else _int(request, "after", -1, 0)
    if cursor < 0:
        cursor = latest_id(store)  # by default only what arrives from now on
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    waiters = request.app[WAITERS]
    loop = asyncio.get_running_loop()
    written = 0.0
    with _live(request), waiters.watch(where, cursor, "stream") as watch, \
            contextlib.suppress(ConnectionError):
        await _write_or_drop(request, response, b"retry: 2000\n\n")
        while True:
            frames = watch.take_frames(waiters.frame)
            if frames:
                await _write_or_drop(request, response, frames)
                written = loop.time()
            if watch.behind:
                continue
            if not await watch.wait(KEEP_ALIVE):
                await _write_or_drop(request, response, b": keep-alive\n\n")  # keeps proxies open
            elif (pause := written + STREAM_INTERVAL - loop.time()) > 0:
                # Events come in many small batches under load: a stream takes what came meanwhile
                # in one write, so 300 streams cost 300 writes a tick, not 300 per batch.
                await asyncio.sleep(pause)
    return response


async def _write_or_drop(request: web.Request, response: web.StreamResponse, data: bytes) -> None:
    """Write to a stream's client; a client that has read nothing for STALLED_STREAM seconds
    while its buffers are full is dropped (logged), so that it holds no memory or task."""
    try:
        async with asyncio.timeout(STALLED_STREAM):
            await response.write(data)
    except TimeoutError:
        log.warning("dropped the live stream of %s: it read nothing for %g s while events waited "
                    "(it can reconnect with Last-Event-ID to resume)", request.remote, STALLED_STREAM)
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("the stream's client stopped reading") from None


@contextlib.contextmanager
def _live(request: web.Request) -> Iterator[None]:
    task = asyncio.current_task()
    live = request.app[LIVE]
    if task is not None:
        live.add(task)
    try:
        yield
    finally:
        if task is not None:
            live.discard(task)


async def _end_live_requests(app: web.Application) -> None:
    live: set[asyncio.Task[Any]] = app[LIVE]
    for task in list(live):
        task.cancel()
    app[WAITERS].close()


# -- export and import ---------------------------------------------------------------------------


@long_read
async def _export_ndjson(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    where = _filter(request)
    response = web.StreamResponse(headers={
        "Content-Type": "application/x-ndjson",
        "Content-Disposition": 'attachment; filename="snowcatcher.ndjson"'})
    await response.prepare(request)
    written: set[int] = set()
    async for page in store.iter_after(0, where, EXPORT_PAGE):
        lines = []
        for event in page:
            line = event.to_json()
            if event.request_id not in written:  # the request goes with its first event only
                written.add(event.request_id)
                stored = shown_stored(request, store.request(event.request_id))
                line["request"] = stored_json(stored) if stored else None
            lines.append(orjson.dumps(line) + b"\n")
        await response.write(b"".join(lines))
        await between_pages(request)
    await response.write_eof()
    return response


@long_read
async def _export_har(request: web.Request) -> web.StreamResponse:
    """The HAR log written an entry at a time: each request is read when its first event comes."""
    store = request.app[STORE]
    where = _filter(request)
    base = f"{request.scheme}://{request.host}"
    response = web.StreamResponse(headers={
        "Content-Type": "application/json",
        "Content-Disposition": 'attachment; filename="snowcatcher.har"'})
    await response.prepare(request)
    head, tail = har_frame()
    await response.write(head)
    written: set[int] = set()
    separator = b""
    async for page in store.iter_after(0, where, EXPORT_PAGE):
        entries = []
        for event in page:
            if event.request_id in written:
                continue
            written.add(event.request_id)
            stored = shown_stored(request, store.request(event.request_id))
            if stored is not None:
                nuid = event.payload.get("nuid") if "nuid" in event.filled else ""
                entries.append(separator + orjson.dumps(har_entry(stored, base, nuid
                                                                  if isinstance(nuid, str) else "")))
                separator = b","
        await response.write(b"".join(entries))
        await between_pages(request)
    await response.write(tail)
    await response.write_eof()
    return response


async def _import(request: web.Request) -> web.Response:
    try:
        captured = read_capture(await request.read())
    except CaptureError as error:
        raise _bad(str(error)) from None
    try:
        summary = await import_requests(request.app[STORE], request.app[INGESTOR], captured)
    except StoreError as error:  # the disk is full or the file read-only: say so, in JSON
        return json_response({"error": f"snowcatcher could not store the import: {error}"}, status=500)
    return json_response({**summary.to_json(), "message": summary.sentence()})


async def _unknown(request: web.Request) -> web.Response:
    return json_response({"error": f"no such endpoint: {request.method} {request.path}",
                          "endpoints": sorted({f"{PREFIX}{key.split(' ', 1)[1].split('?')[0]}"
                                               for key in ENDPOINTS})}, status=404)


# -- parameters ----------------------------------------------------------------------------------


#: SQLite's integers are 64-bit: larger ids, offsets and counts are the caller's mistake, not ours.
LARGEST_ID = 2**63 - 1


def _filter(request: web.Request) -> Filter:
    try:
        return Filter.parse(request.query.get("filter", ""), PROTOCOLS)
    except FilterError as error:
        raise _bad(str(error)) from None


def _int(request: web.Request, name: str, default: int, low: int, high: int = LARGEST_ID) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _bad(f"{name} must be a whole number, not {as_json(text)}") from None
    if not low <= value <= high:
        raise _bad(f"{name} must be between {low} and {high}")
    return value


def _float(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    text = request.query.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise _bad(f"{name} must be a number of seconds, not {as_json(text)}") from None
    if not low <= value <= high:
        raise _bad(f"{name} must be between {low:g} and {high:g} seconds")
    return value


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=orjson.dumps({"error": message}).decode(),
                              content_type="application/json")
