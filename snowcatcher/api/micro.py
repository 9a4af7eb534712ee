"""Snowplow Micro's read API (/micro/*): the same paths, methods and JSON shapes, over our store."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from snowcatcher import __version__
from snowcatcher.api import micro_ui
from snowcatcher.api.guard import shown_request
from snowcatcher.capture.app_keys import INGESTOR, STORE
from snowcatcher.capture.intake_first import between_pages, long_read
from snowcatcher.model import BAD_REQUEST, PROTOCOL_SNOWPLOW, CapturedEvent, JsonDict, RawRequest, iso_time
from snowcatcher.protocols.snowplow.enriched import enriched_event
from snowcatcher.protocols.snowplow.protocol import ANONYMOUS_NUID, TP2_PATH, cookie_nuid
from snowcatcher.protocols.snowplow.tracker_fields import is_network_user_id
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.validate.iglu import SchemaKey

ENDPOINTS = ("/micro/all", "/micro/good", "/micro/bad", "/micro/reset",
             "/micro/iglu/{vendor}/{name}/jsonschema/{version}", "POST /micro/events",
             "/micro/columns", "POST /micro/columnStats", "/micro/timeline")
#: Events read, shaped and written between two yields to the event loop (~10 ms of work).
_PAGE = 25
#: Stored requests kept while a read shapes their events (a 500-event request is read once).
_REQUESTS_KEPT = 64
_SOURCE = {"name": f"snowcatcher-{__version__}", "encoding": "UTF-8", "hostname": socket.gethostname()}
_GENERIC_VALIDATION = "Error while validating the event."
_GENERIC_EXTRACTION = "Error while extracting event(s) from collector payload and validating it/them."
#: Findings about the request or its payload_data body: Enrich's adapter rejects the whole
#: payload (a tracker_protocol_violations or adapter_failures bad row) before any event exists.
_ADAPTER_ENTITIES = frozenset({"request", "body", "payload_data"})
#: Micro's answer (its own text) to a /micro/iglu path whose version is not MODEL-REVISION-ADDITION.
IGLU_PATH_HINT = ("Schema lookup should be in format "
                  "iglu/{vendor}/{schemaName}/jsonschema/{model}-{revision}-{addition}")


class BadFilter(ValueError):
    """A POST body that is not a usable Micro filter; the message says why."""


def install(app: web.Application) -> None:
    """Add the /micro/* routes (Micro answers GET and POST on all, good, bad and reset)."""
    for method in ("GET", "POST"):
        app.router.add_route(method, "/micro/all", _all)
        app.router.add_route(method, "/micro/good", _good)
        app.router.add_route(method, "/micro/bad", _bad)
        app.router.add_route(method, "/micro/reset", _reset)
    app.router.add_get("/micro/iglu/{vendor}/{name}/{format}/{version}", _iglu)
    micro_ui.install(app, lambda request: _Requests(request).of)
    # Not "*": OPTIONS must still reach the collector's CORS preflight.
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        app.router.add_route(method, "/micro{tail:(/.*)?}", _unsupported)


#: Entities of tracker-protocol violations (content type, body, payload_data): the pipeline
#: rejects the whole payload for them, in one bad row, however many events it holds. A request
#: with one has it on each of its events (see SnowplowDecoder._decode_items).
PAYLOAD_ENTITIES = ("request", "body", "payload_data")
_LATER_IN_REJECTED_PAYLOAD = Filter(
    "", "idx > 0 AND (" + " OR ".join("violations LIKE ?" for _ in PAYLOAD_ENTITIES) + ")",
    tuple(f'%"entity":"{entity}"%' for entity in PAYLOAD_ENTITIES))


def counts(store: Store) -> JsonDict:
    """Micro's summary: Snowplow events only, good = valid, bad = invalid events, and a payload
    rejected as a whole (a tracker-protocol violation) counts once, as Micro counts it.

    Micro knows no third outcome: an event whose check could not be finished yet ("unchecked")
    is in neither, and joins one of them once it is re-checked."""
    good = store.count(Filter.exact(protocol=PROTOCOL_SNOWPLOW, valid=True))
    invalid = Filter.exact(protocol=PROTOCOL_SNOWPLOW, valid=False)
    bad = store.count(invalid) - store.count(invalid & _LATER_IN_REJECTED_PAYLOAD)
    return {"total": good + bad, "good": good, "bad": bad}


def _later_in_rejected_payload(event: CapturedEvent) -> bool:
    return event.index > 0 and any(v.entity in PAYLOAD_ENTITIES for v in event.violations)


# -- handlers ------------------------------------------------------------------------------------


async def _all(request: web.Request) -> web.Response:
    return json_response(counts(request.app[STORE]))


async def _reset(request: web.Request) -> web.Response:
    store = request.app[STORE]
    store.reset()
    return json_response(counts(store))


@long_read
async def _good(request: web.Request) -> web.StreamResponse:
    try:
        filters = await _filters(request, {"event_type": str, "schema": str, "contexts": list,
                                           "limit": int})
    except BadFilter as error:
        return json_response({"error": str(error)}, status=400)
    where = Filter.exact(protocol=PROTOCOL_SNOWPLOW, valid=True, event_type=filters.get("event_type"),
                         schema=filters.get("schema"), contexts=filters.get("contexts", ()))
    requests = _Requests(request)

    async def pages() -> AsyncIterator[list[JsonDict]]:
        async for page in _newest(request, where):
            yield [good_event(event, requests.of(event)) for event in page]

    return await _stream_array(request, pages(), filters.get("limit"))


@long_read
async def _bad(request: web.Request) -> web.StreamResponse:
    try:
        filters = await _filters(request, {"vendor": str, "version": str, "limit": int})
    except BadFilter as error:
        return json_response({"error": str(error)}, status=400)
    wanted = (filters.get("vendor"), filters.get("version"))

    def matches(raw: RawRequest | None) -> bool:
        vendor, version = api_of(raw.path if raw else "")
        return (wanted[0] in (None, vendor)) and (wanted[1] in (None, version))

    where = Filter.exact(protocol=PROTOCOL_SNOWPLOW, valid=False)
    requests = _Requests(request)

    async def pages() -> AsyncIterator[list[JsonDict]]:
        async for page in _newest(request, where):
            pairs = ((event, requests.of(event)) for event in page)
            yield [bad_event(event, raw) for event, raw in pairs
                   if matches(raw) and not _later_in_rejected_payload(event)]

    return await _stream_array(request, pages(), filters.get("limit"))


async def _iglu(request: web.Request) -> web.Response:
    info = request.match_info
    uri = f"iglu:{info['vendor']}/{info['name']}/{info['format']}/{info['version']}"
    if SchemaKey.parse(uri) is None:
        return web.Response(status=404, text=(
            f"{IGLU_PATH_HINT}, e.g. iglu/{info['vendor']}/{info['name']}/jsonschema/1-0-0"))
    registry = request.app[INGESTOR].registry
    resolution = registry.lookup(uri)
    if not resolution.found and registry.needs_fetch(uri):
        await registry.fetch([uri])
        resolution = registry.lookup(uri)
    if resolution.schema is None:
        # Micro's shape: Iglu's lookup history per repository. snowcatcher tries every place once
        # per lookup; the sentence and the places are ours, besides.
        tried = iso_time(time.time())
        remote_failed = resolution.error not in ("", "schema not found")
        history = {place: {"errors": [{"error": "RepoFailure" if remote_failed and "://" in place
                                       else "NotFound"}],
                           "attempts": 1, "lastAttempt": tried} for place in resolution.places}
        return json_response({"value": history, "error": resolution.explain(), "uri": uri,
                              "lookedIn": list(resolution.places)}, status=404)
    return json_response(resolution.schema)


async def _unsupported(request: web.Request) -> web.Response:
    text = (f"snowcatcher does not serve {request.method} {request.path}. Supported endpoints: "
            f"{', '.join(ENDPOINTS)}; snowcatcher's own API is under /snowcatcher/api/")
    return web.Response(status=404, text=text)


# -- shapes --------------------------------------------------------------------------------------


def api_of(path: str) -> tuple[str, str]:
    """The collector API a path names: `/i` is tp1, `/{vendor}/{version}` names itself."""
    if path in ("/i", "/ice.png"):
        return "com.snowplowanalytics.snowplow", "tp1"
    parts = path.strip("/").split("/")
    if len(parts) == 2:
        return parts[0], parts[1]
    return api_of(TP2_PATH) if path == TP2_PATH else ("", "")


def good_event(event: CapturedEvent, raw: RawRequest | None) -> JsonDict:
    """Micro's GoodEvent."""
    return {"rawEvent": raw_event(event, raw), "eventType": event.event_type,
            "schema": event.schema or None, "contexts": event.contexts,
            "event": enriched_event(event, raw), "incomplete": False}


def bad_event(event: CapturedEvent, raw: RawRequest | None) -> JsonDict:
    """Micro's BadEvent, with errors as sentences and the violations as data besides. A request
    the adapter rejects has no raw event, as in Micro; Enrich's findings come with one."""
    extraction = event.event_type == BAD_REQUEST or any(
        v.entity in _ADAPTER_ENTITIES for v in event.violations)
    errors = [_GENERIC_EXTRACTION if extraction else _GENERIC_VALIDATION]
    errors.extend(error_sentence(v.entity, v.path, v.keyword, v.message) for v in event.violations)
    nuid = event.payload.get("nuid") if "nuid" in event.filled else None
    return {"collectorPayload": collector_payload(raw, nuid) if raw else None,
            "rawEvent": None if extraction else raw_event(event, raw),
            "errors": errors, "violations": [v.to_json() for v in event.violations]}


def error_sentence(entity: str, path: str, keyword: str, message: str) -> str:
    """One violation as a sentence naming the entity, the path inside it and the rule that failed."""
    where = f"{entity} at {path}" if path else entity
    return f"{where}: {message.rstrip('.')} (rule: {keyword})."


def raw_event(event: CapturedEvent, raw: RawRequest | None) -> JsonDict:
    vendor, version = api_of(raw.path if raw else "")
    params = {k: v if isinstance(v, str) else _dumps(v).decode() for k, v in event.payload.items()
              if k not in event.filled}
    return {"api": {"vendor": vendor, "version": version}, "parameters": params,
            "contentType": (raw.header("Content-Type") or None) if raw else None,
            "source": _SOURCE, "context": _context(event.payload.get("nuid"), raw, event.received_at)}


def collector_payload(raw: RawRequest, nuid: Any = None) -> JsonDict:
    """Enrich's CollectorPayload: the query as decoded name=value pairs (Enrich parses it into
    NameValuePairs) and, in the context, the network user id the collector assigned."""
    vendor, version = api_of(raw.path)
    query = [f"{name}={value}" for name, value in
             parse_qsl(raw.query, keep_blank_values=True, errors="replace")]
    body = raw.body.decode("utf-8", errors="replace") if raw.body else None
    return {"api": {"vendor": vendor, "version": version}, "querystring": query,
            "contentType": raw.header("Content-Type") or None, "body": body, "source": _SOURCE,
            "context": _context(nuid if isinstance(nuid, str) else _request_nuid(raw), raw,
                                raw.received_at)}


def _request_nuid(raw: RawRequest) -> str | None:
    """The network user id a stored request carried (a UUID `nuid`, else the `sp` cookie), as the
    collector would have assigned it; None when the collector made one up and it was not kept."""
    if raw.header("SP-Anonymous") == "*":
        return ANONYMOUS_NUID
    nuid = dict(parse_qsl(raw.query)).get("nuid", "")
    if is_network_user_id(nuid):
        return nuid
    return cookie_nuid(raw.header("Cookie")) or None


def _context(nuid: Any, raw: RawRequest | None, received_at: float) -> JsonDict:
    anonymous = raw is not None and raw.header("SP-Anonymous") == "*"
    headers = [] if raw is None else [f"{name}: {value}" for name, value in raw.headers
                                      if not (anonymous and name.lower() == "cookie")]
    return {"timestamp": iso_time(received_at), "ipAddress": (raw.remote or None) if raw else None,
            "useragent": (raw.header("User-Agent") or None) if raw else None,
            "refererUri": (raw.header("Referer") or None) if raw else None,
            "headers": headers, "userId": nuid if isinstance(nuid, str) else None}


# -- helpers -------------------------------------------------------------------------------------


async def _filters(request: web.Request, allowed: dict[str, type]) -> dict[str, Any]:
    """The JSON filters of a POST (GET has none), type-checked; unknown keys are ignored as in Micro."""
    if request.method != "POST" or not request.can_read_body:
        return {}
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as error:
        raise BadFilter(f"the filter must be a JSON object: {error}") from None
    if not isinstance(body, dict):
        raise BadFilter("the filter must be a JSON object such as {\"event_type\": \"struct\"}")
    found: dict[str, Any] = {}
    for key, kind in allowed.items():
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool) or (
                isinstance(value, list) and not all(isinstance(item, str) for item in value)):
            shape = "a list of schema URIs" if kind is list else kind.__name__
            raise BadFilter(f"{key} must be {shape}, got {_dumps(value).decode()}")
        found[key] = value
    if found.get("limit", 0) < 0:
        raise BadFilter("limit must be 0 or more")
    return found


async def _newest(request: web.Request, where: Filter) -> AsyncIterator[list[CapturedEvent]]:
    """Matching events newest first, _PAGE at a time, yielding to the event loop (trackers first)
    between pages; each page starts below the last one's oldest id, so it costs the same at any
    depth."""
    store = request.app[STORE]
    cursor = store.last_id() + 1
    while page := store.before(cursor, where, _PAGE):
        yield page
        cursor = page[-1].id
        await between_pages(request)


class _Requests:
    """The stored request of each event, read once for the many events one request carries,
    with secrets redacted as the reader may see them."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._store = request.app[STORE]
        self._kept: dict[int, RawRequest | None] = {}

    def of(self, event: CapturedEvent) -> RawRequest | None:
        if event.request_id not in self._kept:
            if len(self._kept) >= _REQUESTS_KEPT:
                self._kept.clear()
            stored = self._store.request(event.request_id)
            self._kept[event.request_id] = shown_request(self._request, stored.request) if stored else None
        return self._kept[event.request_id]


async def _stream_array(request: web.Request, pages: AsyncIterator[list[JsonDict]],
                        limit: int | None) -> web.StreamResponse:
    """A JSON array written a page at a time as it is produced, so that a big store never sits
    in memory and other requests are served between pages."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b"[")
    count = 0
    async for page in pages:
        items = page if limit is None else page[:limit - count]
        if items:
            await response.write((b"," if count else b"") + b",".join(map(_dumps, items)))
            count += len(items)
        if limit is not None and count >= limit:
            break
    await response.write(b"]")
    await response.write_eof()
    return response


_dumps: Callable[[Any], bytes] = orjson.dumps


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")
