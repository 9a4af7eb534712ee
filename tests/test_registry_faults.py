"""A remote Iglu registry on 127.0.0.1 that is down, slow, failing or talking nonsense: capture goes on
at full speed, events are "not checked: schema unresolved: <reason>" (neither valid nor invalid), and
are validated again once it recovers."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from snowcatcher.protocols.snowplow import samples
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.validate import backoff
from snowcatcher.validate import iglu as registry
from tests.loopback import serving

REMOTE = "iglu:com.acme/remote/jsonschema/1-0-0"
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@dataclass
class FlakyRegistry:
    """A static Iglu registry whose behaviour the test switches; it records when it was asked."""

    mode: str = "down"
    asked: list[float] = field(default_factory=list)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.asked.append(time.monotonic())
        if self.mode == "slow":
            await asyncio.sleep(10)
        if self.mode == "500":
            return web.Response(status=500, text="internal error")
        if self.mode == "garbage":
            return web.Response(body=b"\x00<html>not json", content_type="application/json")
        return web.json_response(SCHEMA)


@pytest.fixture
async def flaky(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FlakyRegistry, str]]:
    # Shorter than in production so that the test sees several retries within seconds.
    monkeypatch.setattr(backoff, "BACKOFF_FIRST", 0.2)
    monkeypatch.setattr(registry, "FETCH_TIMEOUT", 1.0)
    state = FlakyRegistry()
    app = web.Application()
    app.router.add_get("/{tail:.*}", state.serve)
    async with serving(app, shutdown_timeout=0.1) as url:
        yield state, url


def unstruct(n: object) -> dict[str, str]:
    event = {"schema": samples.UNSTRUCT, "data": {"schema": REMOTE, "data": {"n": n}}}
    return {"e": "ue", "p": "web", "tv": "js-4.6.1", "ue_pr": json.dumps(event)}


async def timed_get(http: aiohttp.ClientSession, url: str, params: dict[str, str]) -> float:
    started = time.monotonic()
    async with http.get(url + "/i", params=params) as answer:
        assert answer.status == 200
    return time.monotonic() - started


@pytest.mark.parametrize(("mode", "reason"), [
    ("down", r"Cannot connect|Connect"), ("slow", r"schema unresolved"),
    ("500", r"answered 500"), ("garbage", r"JSONDecodeError")])
async def test_capture_goes_on_and_events_are_revalidated(
        flaky: tuple[FlakyRegistry, str], tmp_path: Path, mode: str, reason: str) -> None:
    state, url = flaky
    if mode == "down":
        url = "http://127.0.0.1:9"  # the discard port: nothing listens there
    state.mode = mode
    catcher = Snowcatcher(Settings(port=0, iglu=[url], cache_dir=tmp_path / "cache"))
    await catcher.start()
    try:
        async with aiohttp.ClientSession() as http:
            first = await timed_get(http, catcher.url, unstruct(1))
            await asyncio.sleep(1.2 if mode != "slow" else 0)  # let the first fetch fail
            waits = [await timed_get(http, catcher.url, unstruct(n)) for n in range(2, 22)]
            # An unrelated event meanwhile is answered at once and valid.
            await timed_get(http, catcher.url, {"e": "pv", "p": "web", "tv": "js"})
        assert first < 1.5 and max(waits) < 0.5, (first, waits)
        events = catcher.store.window(limit=100)
        waiting = [e for e in events if e.event_type == "unstruct"]
        # A registry that may still answer leaves the events unchecked: never invalid.
        assert len(waiting) == 21 and all(e.verdict == "unchecked" for e in waiting)
        assert catcher.store.counts().invalid == 0 and catcher.store.counts().unchecked == 21
        messages = [v.message for e in waiting for v in e.violations]
        assert all(m.startswith("not checked: schema unresolved: ") for m in messages)
        assert any(__import__("re").search(reason, m) for m in messages), messages[-1]
        attempts = len(state.asked)
        assert attempts < 10, "one fetch per event, not per request"

        # The registry recovers: every waiting event is validated again, without new requests.
        state.mode = "ok"
        if mode == "down":
            catcher.registry.remotes = (registry.RemoteRepo(flaky[1]),)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(
                e.valid for e in catcher.store.window(limit=100)):
            await asyncio.sleep(0.1)
        assert all(e.valid for e in catcher.store.window(limit=100))
        assert catcher.store.counts().valid == 22
    finally:
        await catcher.stop()


async def test_retries_back_off(flaky: tuple[FlakyRegistry, str], tmp_path: Path) -> None:
    state, url = flaky
    state.mode = "500"
    catcher = Snowcatcher(Settings(port=0, iglu=[url], cache_dir=tmp_path / "cache"))
    await catcher.start()
    try:
        async with aiohttp.ClientSession() as http:
            await timed_get(http, catcher.url, unstruct(1))
            await asyncio.sleep(3.5)
    finally:
        await catcher.stop()
    gaps = [later - earlier for earlier, later in zip(state.asked, state.asked[1:], strict=False)]
    # 0.2 s, 0.4 s, 0.8 s, 1.6 s ...: each wait at least as long as the one before, give or take.
    assert 3 <= len(state.asked) <= 6, gaps
    assert all(later >= earlier * 1.5 for earlier, later in itertools.pairwise(gaps)), gaps
