"""What the TUI's actions do, kept out of app.py: copy as JSON or curl, NDJSON export, re-validation."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from snowcatcher.model import CapturedEvent, StoredRequest
from snowcatcher.redact import redact_header
from snowcatcher.runtime import RevalidationReport
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store

#: Re-validation the engine provides: re-read schemas, re-check every event (reporting how far it
#: got, done and total; stopping after the chunk in hand once the event is set), return the report.
Revalidate = Callable[[Callable[[int, int], None] | None, asyncio.Event | None],
                      Awaitable[RevalidationReport]]
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


#: Reports how many events an export has written so far.
Progress = Callable[[int], None]


def unique_path(directory: Path, stem: str, suffix: str) -> Path:
    """`stem-YYYYmmdd-HHMMSS.suffix` in `directory`, with `-2`, `-3`, … when that name is taken
    (two exports in one second wrote over each other)."""
    base = time.strftime(f"{stem}-%Y%m%d-%H%M%S")
    path, number = directory / f"{base}{suffix}", 1
    while path.exists():
        number += 1
        path = directory / f"{base}-{number}{suffix}"
    return path


async def export_ndjson(store: Store, where: Filter, directory: Path,
                        progress: Progress | None = None) -> tuple[Path, int]:
    """Write every event matching `where` to a new NDJSON file; yields to the loop between chunks
    and reports the count written after each one."""
    path = unique_path(directory, "snowcatcher", ".ndjson")
    written = 0
    with path.open("xb") as out:
        async for chunk in store.iter_after(0, where, 2000):
            out.write(b"".join(orjson.dumps(event.to_json()) + b"\n" for event in chunk))
            written += len(chunk)
            if progress is not None:
                progress(written)
    return path, written


def copy_file(text: str, directory: Path) -> Path:
    """Also keep what `y`/`Y` copied in a file: a terminal may ignore the clipboard request."""
    path = directory / "snowcatcher-copied.txt"
    path.write_text(text, encoding="utf-8")
    return path
