"""The store's tables, and how captured values become rows and back."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from snowcatcher import json_numbers
from snowcatcher.model import CapturedEvent, Entity, JsonDict, RawRequest, Response, StoredRequest, Violation

SCHEMA = """
-- reason: the answer's reason phrase when it was not the standard one (EventGate's "1 out of 1
-- events were invalid …"); response_headers: the answer's headers as sent, a JSON array of
-- [name, value]. Both came later (RESPONSE_COLUMNS): NULL in a row written before them.
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    body_zlib INTEGER NOT NULL,
    remote TEXT NOT NULL,
    status INTEGER NOT NULL,
    response BLOB NOT NULL,
    response_type TEXT NOT NULL,
    reason TEXT,
    response_headers TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    received_at REAL NOT NULL,
    protocol TEXT NOT NULL,
    event_type TEXT NOT NULL,
    name TEXT NOT NULL,
    schema TEXT NOT NULL,
    app_id TEXT NOT NULL,
    valid INTEGER NOT NULL,
    contexts TEXT NOT NULL,
    payload TEXT NOT NULL,
    entity_set INTEGER NOT NULL,
    violations TEXT NOT NULL,
    filled TEXT NOT NULL
);
-- The decoded entities many events share, and the tracker parameters (cx, co, ue_px, ue_pr) they
-- were decoded from, which the events' payloads then leave out: see store_sets.py.
CREATE TABLE IF NOT EXISTS entity_sets (
    id INTEGER PRIMARY KEY,
    entities TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}'
);
-- Every distinct (schema, contexts) pair of the events: a handful, even at a million events.
-- `schema:` filters test their pattern on these and then look the matching pairs up in
-- events_by_schemas, instead of testing it on every event (see query.py).
CREATE TABLE IF NOT EXISTS schema_sets (
    schema TEXT NOT NULL,
    contexts TEXT NOT NULL,
    PRIMARY KEY (schema, contexts)
) WITHOUT ROWID;
-- Nothing looks events up by request (their ids are consecutive), and each index costs every insert.
DROP INDEX IF EXISTS events_by_request;
"""

#: Columns of `requests` added after its first version, with their types: Store adds them to an
#: older capture file (instant: its rows get NULL, "not recorded").
RESPONSE_COLUMNS = (("reason", "TEXT"), ("response_headers", "TEXT"))
#: The requests table's columns by name, in request_row's order: a file that has more (written
#: by a later snowcatcher) still reads and writes.
REQUEST_COLUMNS = ("id, received_at, method, path, query, headers, body, body_zlib, remote, status,"
                   " response, response_type, reason, response_headers")
INSERT_REQUEST = f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES ({','.join('?' * 14)})"

# Small indexes that keep the TUI's filtered windows and counts fast at a million rows: `invalid`,
# `type:`, `name:` and `app:` become index range scans, and OFFSET walks an index instead of the table.
VIEW_INDEXES = """
CREATE INDEX IF NOT EXISTS events_by_valid ON events (valid);
CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type);
CREATE INDEX IF NOT EXISTS events_by_name ON events (name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS events_by_app ON events (app_id COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS events_by_schemas ON events (schema, contexts);
-- Micro's timeline and time-range filters: counts over a span of arrival times read only this
-- index (it carries what /micro/* selects on), never the rows.
CREATE INDEX IF NOT EXISTS events_by_time ON events (received_at, protocol, event_type, valid);
"""

# Compressing costs more CPU than the write it saves (a 12 KB body of ten GitLab events takes
# 83 µs at level 1, where the event loop spends ~70 µs per event): only big batches are worth it.
COMPRESS_ABOVE = 65536
EVENT_COLUMNS = ("events.id, request_id, idx, received_at, protocol, event_type, name, schema, app_id,"
                  " contexts, payload, coalesce(entity_sets.entities, '[]'), violations, filled,"
                  " coalesce(entity_sets.params, '{}')")
EVENTS = "events LEFT JOIN entity_sets ON entity_sets.id = events.entity_set"
#: The same rows walked in id order: for a bounded id range this stops at the first matches,
#: where a filter's index would find every match in the range and sort them first.
EVENTS_IN_ID_ORDER = "events NOT INDEXED LEFT JOIN entity_sets ON entity_sets.id = events.entity_set"


#: Marks an entity stored without its data, which is the event's own payload (a Wikimedia event is
#: its one entity): its JSON is stored once, in the event's row (store_sets.EntitySets).
DATA_IS_PAYLOAD = "data_is_payload"

#: What the events table's `valid` column holds for each verdict (1 and 0 as ever; -1 is new, so a
#: file written before "unchecked" existed needs no migration).
VERDICT_CODES = {"valid": 1, "invalid": 0, "unchecked": -1}


def dump(value: Any) -> str:
    return json_numbers.dumps(value).decode()


def request_row(request_id: int, request: RawRequest, response: Response) -> tuple[Any, ...]:
    # Big bodies repeat the same contexts event after event: they shrink tenfold.
    compress = len(request.body) > COMPRESS_ABOVE
    body = zlib.compress(request.body, 1) if compress else request.body
    return (request_id, request.received_at, request.method, request.path, request.query,
            dump(request.headers), body, int(compress), request.remote, response.status,
            response.body, response.content_type, response.reason,
            None if response.headers is None else dump(response.headers))


def event_row(event: CapturedEvent, entity_set: int, payload: JsonDict) -> tuple[Any, ...]:
    """The events row; `payload` is the event's without what its entity set keeps."""
    return (event.id, event.request_id, event.index, event.received_at, event.protocol,
            event.event_type, event.name, event.schema, event.app_id, VERDICT_CODES[event.verdict],
            " ".join(event.contexts), dump(payload), entity_set,
            dump([violation.to_json() for violation in event.violations]),
            " ".join(event.filled))


def event_from_row(row: Sequence[Any]) -> CapturedEvent:
    (event_id, request_id, index, received_at, protocol, event_type, name, schema, app_id,
     _contexts, payload, entities, violations, filled, params) = row
    decoded = json_numbers.loads(payload)
    if params != "{}":
        decoded.update(orjson.loads(params))
    return CapturedEvent(
        protocol=protocol, event_type=event_type, name=name, schema=schema, app_id=app_id,
        payload=decoded,
        entities=tuple(Entity.from_json({**item, "data": decoded} if item.get(DATA_IS_PAYLOAD) else item)
                       for item in json_numbers.loads(entities)),
        violations=tuple(Violation.from_json(item) for item in orjson.loads(violations)),
        received_at=received_at, id=event_id, request_id=request_id, index=index,
        filled=tuple(filled.split()) if filled else ())


def request_from_row(row: Sequence[Any]) -> StoredRequest:
    (request_id, received_at, method, path, query, headers, body, body_zlib, remote, status,
     response, response_type, reason, response_headers) = row
    request = RawRequest(method=method, path=path, query=query,
                         headers=tuple((str(k), str(v)) for k, v in orjson.loads(headers)),
                         body=zlib.decompress(body) if body_zlib else bytes(body),
                         received_at=received_at, remote=remote, id=request_id)
    answer_headers = (None if response_headers is None else
                      tuple((str(k), str(v)) for k, v in orjson.loads(response_headers)))
    return StoredRequest(request, Response(status, bytes(response), response_type, reason,
                                           answer_headers))
