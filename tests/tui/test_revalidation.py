"""Pilot tests: `r` shows how far the re-check got, Esc or `r` again cancels it (saying how many were
re-checked), and the summary names a schema file that broke, with its path."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from snowcatcher.model import RawRequest, Response
from snowcatcher.protocols.snowplow.protocol import TP2_PATH
from snowcatcher.tui.app import SnowcatcherApp
from tests.tui.pilot import SIZE, settle, status, until
from tests.tui.samples import PAYLOAD_DATA
from tests.tui.test_safe_actions import _notes
from tests.tui.tracker import gitlab_event, post

REQUESTS, PER_REQUEST = 500, 20


async def _soon(app: SnowcatcherApp, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for `condition` with the loop's own sleeps: Pilot's pause first waits for every
    widget's queue to drain, which a re-check refreshing the status bar keeps from happening."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not there within {timeout} s: {status(app)} {_notes(app)}"
        await asyncio.sleep(0.02)


async def _fill(app: SnowcatcherApp) -> None:
    """10,000 GitLab events in 500 tp2 requests, decoded and stored as the collector does."""
    assert app.server is not None
    for request in range(REQUESTS):  # each body its own: nothing a cache could answer
        body = orjson.dumps({"schema": PAYLOAD_DATA,
                             "data": [gitlab_event(f"e{request}.{n}") for n in range(PER_REQUEST)]})
        raw = RawRequest("POST", TP2_PATH, "", (("Content-Type", "application/json"),), body, time.time())
        events = app.server.ingestor.snowplow.decode_post(raw)
        await app.server.store.append(raw, Response(200, b"ok"), events)


@pytest.mark.parametrize("key", ["escape", "r"])
async def test_the_recheck_shows_progress_and_can_be_cancelled(live: SnowcatcherApp, key: str) -> None:
    total = REQUESTS * PER_REQUEST
    async with live.run_test(size=SIZE) as pilot:
        await _fill(live)
        await settle(pilot)
        live.simulate_key("r")  # Pilot's press would wait for the app to be idle: for the whole re-check
        await _soon(live, lambda: "re-checking" in status(live))
        assert re.search(rf"re-checking [\d,]+ of {total:,} \(Esc or r cancels\)", status(live))
        live.simulate_key(key)
        await _soon(live, lambda: any("cancelled after" in note for note in _notes(live)))
        note = next(note for note in _notes(live) if "cancelled after" in note)
        found = re.search(rf"cancelled after ([\d,]+) of {total:,} events", note)
        assert found is not None, note
        assert 0 < int(found.group(1).replace(",", "")) < total
        assert "re-checking" not in status(live)
        live.simulate_key("r")  # a new run starts, and runs to the end
        await _soon(live, lambda: any(f"Re-validated {total:,} events" in note for note in _notes(live)), 120)


async def test_the_summary_names_the_schema_file_that_broke(live: SnowcatcherApp, schemas: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        await post(live.server.url, gitlab_event("before the edit"))
        await settle(pilot)
        path = schemas / "com.gitlab" / "gitlab_standard" / "jsonschema" / "1-1-1"
        path.write_text('{"type": "object",')  # an edit saved half-way
        await pilot.press("r")
        await until(pilot, lambda: any("could not be used" in note for note in _notes(live)))
        note = next(note for note in _notes(live) if "could not be used" in note)
        assert f"schema file {path} is not valid JSON" in note, note
        assert "1 schema(s) could not be used" in note
