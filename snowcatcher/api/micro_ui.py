"""Snowplow Micro 4's UI API (/micro/events, columns, columnStats, timeline) from the store's indexes."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from snowcatcher import __version__
from snowcatcher.capture.app_keys import STORE
from snowcatcher.model import (
    BAD_REQUEST,
    PROTOCOL_SNOWPLOW,
    CapturedEvent,
    JsonDict,
    RawRequest,
    Violation,
    epoch_of_iso_time,
    iso_time,
    pointer_parts,
)
from snowcatcher.protocols.snowplow.enriched import CANONICAL_FIELDS, PARAMETER_OF_COLUMN, enriched_event
from snowcatcher.protocols.snowplow.tracker_fields import BUILTIN_SCHEMAS
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.validate.iglu import SchemaKey

FAILURE_URI = "iglu:com.snowplowanalytics.snowplow/failure/jsonschema/1-0-0"
#: The column Micro's UI pins for incomplete events (ui/src/utils/fixed-columns.ts).
FAILURE_COLUMN = "contexts_com_snowplowanalytics_snowplow_failure_1"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_BUCKETS = 1000
#: At most this many values are offered per column, as in Micro.
MAX_VALUES = 20
#: Columns without an index offer the values of this many of the newest events.
VALUE_SAMPLE = 2000
#: What Micro's UI lists: Snowplow events that reached Enrich (valid, or incomplete with a failure
#: context); requests no event could be read from are only in /micro/bad.
EVENTS = Filter("", f"protocol = '{PROTOCOL_SNOWPLOW}' AND event_type != '{BAD_REQUEST}'", ())
#: Times follow arrival order (the event id), which the primary key serves at any depth.
SORTABLE = frozenset({"collector_tstamp", "etl_tstamp"})
_SCHEMA_PARTS = ("event_vendor", "event_name", "event_format", "event_version")
_JSON_COLUMNS = ("contexts", "unstruct_event", "derived_contexts")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")

Requests = Callable[[CapturedEvent], RawRequest | None]


class BadQuery(ValueError):
    """A UI API body that cannot be used; the message says why."""


def install(app: web.Application, requests: Callable[[web.Request], Requests]) -> None:
    """Add the UI API routes; `requests` gives a reader of each event's stored request."""

    async def events(request: web.Request) -> web.Response:
        store = request.app[STORE]
        try:
            body = await _body(request)
            where, sorting, page, size = _events_query(store, body)
        except BadQuery as error:
            return _json({"error": str(error)}, 400)
        total = store.count(where)
        skipped = (page - 1) * size
        # slice() finds a page near either end of a filtered list without sorting every match.
        if sorting is None or sorting.get("desc", True):
            window = store.slice(where, max(0, total - skipped - size), total - skipped)[::-1]
        else:
            window = store.slice(where, skipped, skipped + size)
        reader = requests(request)
        return _json({"events": [flattened(event, reader(event)) for event in window],
                      "totalPages": math.ceil(total / size), "totalItems": total})

    async def columns(request: web.Request) -> web.Response:
        return _json(column_names(request.app[STORE]))

    async def column_stats(request: web.Request) -> web.Response:
        store = request.app[STORE]
        try:
            body = await _body(request)
            wanted = body.get("columns", [])
            if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
                raise BadQuery('columns must be a list of column names, e.g. {"columns": ["app_id"]}')
        except BadQuery as error:
            return _json({"error": str(error)}, 400)
        return _json({column: stats(store, column) for column in wanted})

    async def timeline(request: web.Request) -> web.Response:
        try:
            spans = _buckets(await _body(request) if request.method == "POST" else {})
        except BadQuery as error:
            return _json({"error": str(error)}, 400)
        counts = request.app[STORE].counts_between(spans, EVENTS)
        return _json({"points": [
            {"validEvents": valid, "failedEvents": total - valid, "timestamp": round(start * 1000),
             "bucket": {"start": iso_time(start), "end": iso_time(end)}}
            for (start, end), (total, valid) in zip(spans, counts, strict=True)]})

    app.router.add_post("/micro/events", events)
    app.router.add_get("/micro/columns", columns)
    app.router.add_post("/micro/columnStats", column_stats)
    app.router.add_route("GET", "/micro/timeline", timeline)
    app.router.add_route("POST", "/micro/timeline", timeline)


# -- one event, flattened ------------------------------------------------------------------------


def flattened(event: CapturedEvent, raw: RawRequest | None) -> JsonDict:
    """The enriched event as the analytics SDK's lossy JSON: each context and the self-describing
    event in a column of its own, and for an invalid event Enrich's failure context."""
    enriched = enriched_event(event, raw)
    flat = {name: value for name, value in enriched.items() if name not in _JSON_COLUMNS}
    unstruct = next((e for e in event.entities if e.role == "event"), None)
    if unstruct is not None:
        flat[column_of("unstruct_event", unstruct.schema)] = unstruct.data
    for entity in event.entities:
        if entity.role == "context":
            flat.setdefault(column_of("contexts", entity.schema), []).append(entity.data)
    if event.violations:
        flat[FAILURE_COLUMN] = failures(event, str(flat["collector_tstamp"]))
    return flat


def column_of(prefix: str, uri: str) -> str:
    """`contexts_com_snowplowanalytics_snowplow_web_page_1` for a web_page 1-0-0 context."""
    key = SchemaKey.parse(uri)
    if key is None:
        return f"{prefix}_{_snake(uri)}"
    return f"{prefix}_{_snake(key.vendor)}_{_snake(key.name)}_{key.version.split('-')[0]}"


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub(r"_\1", text).lower()).strip("_")


def failures(event: CapturedEvent, timestamp: str) -> list[JsonDict]:
    """Enrich's failure context, one per entity that failed, carrying every finding about it."""
    entities = {entity.label: entity for entity in event.entities}
    grouped: dict[str, list[Violation]] = {}
    for violation in event.violations:
        grouped.setdefault(violation.entity, []).append(violation)
    found = []
    for label, violations in grouped.items():
        entity = entities.get(label)
        found.append({
            "failureType": _failure_type(violations),
            "errors": [{"message": v.message, "source": entity.source if entity else label,
                        "path": _json_path(v.path), "keyword": v.keyword, "targets": []}
                       for v in violations],
            "schema": entity.schema if entity else None, "data": entity.data if entity else None,
            "timestamp": timestamp, "componentName": "snowcatcher", "componentVersion": __version__})
    return found


def _failure_type(violations: Sequence[Violation]) -> str:
    keywords = {v.keyword for v in violations}
    if "resolve" in keywords:
        return "ResolutionError"
    if keywords & {"json", "base64", "utf-8"}:
        return "NotJSON"
    if keywords & {"self-describing", "iglu"}:
        return "NotIglu"
    if any(v.entity.startswith(("contexts[", "unstruct_event ")) for v in violations):
        return "ValidationError"
    return "EnrichmentError: snowcatcher"


def _json_path(pointer: str) -> str:
    """A JSON pointer (`/items/0/name`) as the JSONPath Enrich reports (`$.items[0].name`)."""
    path = "$"
    for part in pointer_parts(pointer):
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


# -- columns -------------------------------------------------------------------------------------


def column_names(store: Store) -> list[str]:
    """The atomic fields, then a column per self-describing event and context schema stored."""
    extra: set[str] = set()
    for schema, contexts in store.schema_pairs():
        if schema and SchemaKey.parse(schema) and schema not in _BUILTIN_SCHEMAS:
            extra.add(column_of("unstruct_event", schema))
        extra.update(column_of("contexts", uri) for uri in contexts.split())
    if store.count(EVENTS & Filter.exact(valid=False)):
        extra.add(FAILURE_COLUMN)
    return [name for name in CANONICAL_FIELDS if name not in _JSON_COLUMNS] + sorted(extra)


def stats(store: Store, column: str) -> JsonDict:
    """Whether a column sorts and filters, and up to MAX_VALUES of its values."""
    filterable = column in _FILTERABLE
    found: JsonDict = {"sortable": column in SORTABLE, "filterable": filterable}
    if filterable:
        found["values"] = _values(store, column)
    return found


def _values(store: Store, column: str) -> list[str]:
    if column in _SCHEMA_PARTS:
        parts = {_schema_part(column, schema) for schema, _ in store.schema_pairs()}
        return sorted(part for part in parts if part)[:MAX_VALUES]
    seen: dict[str, int] = {}
    parameter = PARAMETER_OF_COLUMN.get(column)
    for event in store.window(EVENTS, 0, VALUE_SAMPLE, newest_first=True):
        value = (event.event_type if column == "event" else event.app_id if column == "app_id"
                 else event.name if column == "se_action" and event.event_type == "struct"
                 else event.payload.get(parameter) if parameter else None)
        if isinstance(value, str) and value:
            seen[value] = seen.get(value, 0) + 1
    return sorted(seen, key=lambda value: (-seen[value], value))[:MAX_VALUES]


def _schema_part(column: str, schema: str) -> str:
    key = SchemaKey.parse(schema)
    if key is None:
        return ""
    return {"event_vendor": key.vendor, "event_name": key.name, "event_format": key.format,
            "event_version": key.version}[column]


# -- requests ------------------------------------------------------------------------------------


def _events_query(store: Store, body: JsonDict) -> tuple[Filter, JsonDict | None, int, int]:
    where = EVENTS
    filters = body.get("filters") or []
    if not isinstance(filters, list):
        raise BadQuery('filters must be a list such as [{"column": "app_id", "values": ["shop"]}]')
    for item in filters:
        where = where & _column_filter(store, item)
    valid = body.get("validEvents")
    if valid is not None:
        if not isinstance(valid, bool):
            raise BadQuery(f"validEvents must be true, false or null, got {_shown(valid)}")
        where = where & Filter.exact(valid=valid)
    span = body.get("timeRange")
    if span is not None:
        if not isinstance(span, dict):
            raise BadQuery('timeRange must be an object such as {"start": "2025-01-01T00:00:00Z"}')
        clauses, params = [], []
        for name, operator in (("start", ">="), ("end", "<")):
            if span.get(name) is not None:
                clauses.append(f"received_at {operator} ?")
                params.append(repr(_instant(span[name], f"timeRange.{name}")))
        if clauses:
            where = where & Filter("", " AND ".join(clauses), tuple(params))
    sorting = body.get("sorting")
    if sorting is not None:
        if not isinstance(sorting, dict) or not isinstance(sorting.get("column"), str):
            raise BadQuery('sorting must be an object such as {"column": "collector_tstamp", "desc": true}')
        if sorting["column"] not in SORTABLE:
            raise BadQuery(f"events sort by {' or '.join(sorted(SORTABLE))} (arrival order), "
                           f"not {sorting['column']}")
    page = _whole(body.get("page", 1), "page", 1, None)
    size = _whole(body.get("pageSize", PAGE_SIZE), "pageSize", 1, MAX_PAGE_SIZE)
    return where, sorting, page, size


def _column_filter(store: Store, item: Any) -> Filter:
    """One of Micro's column filters (any of the values, case-insensitive) on the column's index."""
    if not isinstance(item, dict) or not isinstance(item.get("column"), str):
        raise BadQuery('a filter must look like {"column": "app_id", "values": ["shop"]}, '
                       f"got {_shown(item)}")
    column = item["column"]
    values = item.get("values", [item["value"]] if "value" in item else None)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadQuery(f"the values of the {column} filter must be a list of strings")
    compile_filter = _FILTERABLE.get(column)
    if compile_filter is None:
        raise BadQuery(f"column {column} cannot be filtered; filterable: {', '.join(sorted(_FILTERABLE))}")
    if not values:
        return Filter()
    return compile_filter(store, column, values)


def _any_of(expression: str, count: int) -> str:
    return "(" + " OR ".join([f"{expression} = ? COLLATE NOCASE"] * count) + ")"


def _on_column(name: str) -> Callable[[Store, str, list[str]], Filter]:
    def compile_filter(store: Store, column: str, values: list[str]) -> Filter:
        return Filter("", _any_of(name, len(values)), tuple(values))
    return compile_filter


def _on_event_type(store: Store, column: str, values: list[str]) -> Filter:
    # Stored lower case, as Enrich names them; the index compares them as they are.
    return Filter("", f"event_type IN ({', '.join('?' * len(values))})",
                  tuple(value.lower() for value in values))


def _on_schema(store: Store, column: str, values: list[str]) -> Filter:
    wanted = {value.lower() for value in values}
    schemas = sorted({schema for schema, _ in store.schema_pairs()
                      if _schema_part(column, schema).lower() in wanted})
    if not schemas:
        return Filter("", "0", ())
    return Filter("", f"schema IN ({', '.join('?' * len(schemas))})", tuple(schemas))


def _on_struct_action(store: Store, column: str, values: list[str]) -> Filter:
    return Filter("", f"event_type = 'struct' AND {_any_of('name', len(values))}", tuple(values))


def _on_parameter(parameter: str) -> Callable[[Store, str, list[str]], Filter]:
    def compile_filter(store: Store, column: str, values: list[str]) -> Filter:
        return Filter("", _any_of(f"json_extract(payload, '$.\"{parameter}\"')", len(values)),
                      tuple(values))
    return compile_filter


_BUILTIN_SCHEMAS = frozenset(BUILTIN_SCHEMAS.values())
#: Column -> how a filter on it becomes SQL: indexed columns first (event, app_id, the event's
#: schema, a struct's action), then tracker parameters read from the stored payload.
_FILTERABLE: dict[str, Callable[[Store, str, list[str]], Filter]] = {
    **{column: _on_parameter(parameter) for column, parameter in PARAMETER_OF_COLUMN.items()
       if column not in ("app_id", "se_action")},
    "event": _on_event_type, "app_id": _on_column("app_id"),
    **dict.fromkeys(_SCHEMA_PARTS, _on_schema), "se_action": _on_struct_action,
}


def _buckets(body: JsonDict) -> list[tuple[float, float]]:
    """The requested [start, end) spans, or the last 30 minutes by minute."""
    buckets = body.get("buckets")
    if buckets is None:
        now = math.floor(time.time() / 60) * 60 + 60
        return [(now - 60 * (30 - n), now - 60 * (29 - n)) for n in range(30)]
    if not isinstance(buckets, list) or len(buckets) > MAX_BUCKETS:
        raise BadQuery(f"buckets must be a list of at most {MAX_BUCKETS} {{start, end}} objects")
    spans = []
    for n, bucket in enumerate(buckets):
        if not isinstance(bucket, dict):
            raise BadQuery(f"buckets[{n}] must be an object with start and end, got {_shown(bucket)}")
        spans.append((_instant(bucket.get("start"), f"buckets[{n}].start"),
                      _instant(bucket.get("end"), f"buckets[{n}].end")))
    return spans


def _instant(value: Any, name: str) -> float:
    """Epoch seconds from an ISO-8601 time or epoch milliseconds (the UI sends either)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value) / 1000
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return epoch_of_iso_time(value)
    raise BadQuery(f"{name} must be an ISO-8601 time or epoch milliseconds, got {_shown(value)}")


def _whole(value: Any, name: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        limit = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise BadQuery(f"{name} must be a whole number {limit}, got {_shown(value)}")
    return value


async def _body(request: web.Request) -> JsonDict:
    if not request.can_read_body:
        return {}
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as error:
        raise BadQuery(f"the body must be a JSON object: {error}") from None
    if not isinstance(body, dict):
        raise BadQuery(f"the body must be a JSON object, got {_shown(body)}")
    return body


def _shown(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")
