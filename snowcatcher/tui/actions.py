"""What the TUI's actions do, kept out of app.py: copy as JSON or curl, NDJSON export, re-validation."""

from __future__ import annotations

import shlex
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from snowcatcher.model import CapturedEvent, StoredRequest
from snowcatcher.redact import redact_header
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.validate.revalidate import RevalidationReport

#: Re-validation the engine provides: re-read schemas, re-check every event, return how many changed.
Revalidate = Callable[[], Awaitable[RevalidationReport]]
_REPLAYED_HEADERS = ("content-type", "user-agent", "origin", "referer", "cookie")


def event_json(event: CapturedEvent) -> str:
    """The event as indented JSON, in the NDJSON contract's shape."""
    return orjson.dumps(event.to_json(), option=orjson.OPT_INDENT_2).decode()


def curl_command(stored: StoredRequest, base_url: str, *, show_secrets: bool = False) -> str:
    """A shell-safe curl command that sends the same request to `base_url` again; cookies other
    than the trackers' and Authorization redacted unless `show_secrets`."""
    request = stored.request
    url = f"{base_url.rstrip('/')}{request.path}" + (f"?{request.query}" if request.query else "")
    parts = ["curl", "-X", request.method, url]
    for name, value in request.headers:
        if name.lower() in _REPLAYED_HEADERS:
            parts += ["-H", f"{name}: {value if show_secrets else redact_header(name, value)}"]
    if request.body:
        parts += ["--data-binary", request.body.decode("utf-8", "replace")]
    return " ".join(shlex.quote(part) for part in parts)


async def export_ndjson(store: Store, where: Filter, directory: Path) -> tuple[Path, int]:
    """Write every event matching `where` to a new NDJSON file; yields to the loop between chunks."""
    path = directory / time.strftime("snowcatcher-%Y%m%d-%H%M%S.ndjson")
    written = 0
    with path.open("wb") as out:
        async for chunk in store.iter_after(0, where, 2000):
            out.write(b"".join(orjson.dumps(event.to_json()) + b"\n" for event in chunk))
            written += len(chunk)
    return path, written


