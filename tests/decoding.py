"""Helpers to run the real ingest pipeline on a request without HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from snowcatcher.model import CapturedEvent, RawRequest
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.validate.iglu import Registry
from tests.data import TP2

JSON = "application/json; charset=UTF-8"


def ingestor(*folders: Path) -> Ingestor:
    return Ingestor(Registry(list(folders), offline=True))


def post(ingest: Ingestor, body: bytes | str, *, content_type: str | None = JSON, query: str = "",
         path: str = TP2) -> list[CapturedEvent]:
    headers = (("Content-Type", content_type),) if content_type is not None else ()
    data = body.encode() if isinstance(body, str) else body
    raw = RawRequest("POST", path, query, headers, data, time.time())
    return asyncio.run(ingest.snowplow_post(raw))


def get(ingest: Ingestor, query: str, path: str = "/i") -> list[CapturedEvent]:
    raw = RawRequest("GET", path, query, (), b"", time.time())
    return asyncio.run(ingest.snowplow_get(raw))


def keywords(event: CapturedEvent) -> list[str]:
    return [violation.keyword for violation in event.violations]
