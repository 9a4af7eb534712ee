"""Test data for the whole suite: tracker paths, tp2 bodies, Snowplow parameters, captured events."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from snowcatcher.model import CapturedEvent, Entity, RawRequest, Response, Violation
from snowcatcher.protocols.snowplow import samples
from snowcatcher.protocols.snowplow.protocol import TP2_PATH
from snowcatcher.store.store import Store

#: The Snowplow trackers' POST path.
TP2 = TP2_PATH
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


def body(*events: dict[str, str]) -> dict[str, Any]:
    """A tp2 POST body (payload_data) holding these events' parameters."""
    return {"schema": PAYLOAD_DATA, "data": list(events)}


def struct(action: str, **extra: str) -> dict[str, str]:
    """A structured event's tracker parameters, as the Python tracker sends them."""
    return {"e": "se", "tv": "py-1.1.0", "p": "srv", "aid": "shop", "se_ca": "cat", "se_ac": action,
            "dtm": "1742268163016", "stm": "1742268163018", **extra}


def event(name: str, *, valid: bool = True, event_type: str = "struct", app: str = "gitlab",
          contexts: Sequence[str] = ()) -> CapturedEvent:
    """A decoded Snowplow event, valid or with one enum violation, received now."""
    entities = tuple(Entity("context", i, uri, {"i": i}, "cx") for i, uri in enumerate(contexts))
    violations = () if valid else (Violation("contexts[0] x", "/realm", "enum", "bad realm"),)
    return CapturedEvent("snowplow", event_type, name, "", app, {"e": "se", "se_ac": name},
                         entities, violations, received_at=time.time())


def request(body: bytes = b"{}") -> RawRequest:
    """A JSON POST received now."""
    return RawRequest("POST", "/tp2", "", (("Content-Type", "application/json"),), body, time.time())


def write_schema(folder: Path, name: str, schema: dict[str, Any]) -> str:
    """An Iglu schema `iglu:com.acme/<name>/jsonschema/1-0-0` written under `folder`; its URI."""
    path = folder / "com.acme" / name / "jsonschema" / "1-0-0"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    return f"iglu:com.acme/{name}/jsonschema/1-0-0"


def unstruct(uri: str, data: object) -> dict[str, str]:
    """A self-describing event's tracker parameters (plain `ue_pr`) carrying `data` as `uri`."""
    event = {"schema": samples.UNSTRUCT, "data": {"schema": uri, "data": data}}
    return {"e": "ue", "p": "web", "tv": "js-4.6.1", "ue_pr": json.dumps(event)}


async def capture_without_answer_headers(path: Path) -> None:
    """A capture file at `path` holding one event, its requests table as snowcatcher wrote it
    before it recorded the answer's reason and headers."""
    store = Store(path)
    await store.append(request(b'{"a": 1}'), Response(200, b"ok"), [event("before")])
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE requests DROP COLUMN reason")
        db.execute("ALTER TABLE requests DROP COLUMN response_headers")
