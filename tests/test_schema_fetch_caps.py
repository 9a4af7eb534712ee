"""Events naming thousands of unknown schemas cost a bounded number of registry requests; reset forgets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from snowcatcher.protocols.snowplow import samples
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.validate import backoff, unresolved
from snowcatcher.validate.iglu import RemoteRepo
from tests.conftest import post_events
from tests.loopback import serving

STATUS = "/snowcatcher/api/status"


@pytest.fixture
async def counting_registry() -> AsyncIterator[tuple[list[str], str]]:
    """A static Iglu registry on 127.0.0.1 that knows no schema and records every request."""
    asked: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(status=404, text="not found")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    async with serving(app, shutdown_timeout=0.1) as url:
        yield asked, url


def naming(schema: str) -> dict[str, str]:
    event = {"schema": samples.UNSTRUCT, "data": {"schema": schema, "data": {}}}
    return {"e": "ue", "p": "web", "tv": "js-4.6.1", "ue_pr": json.dumps(event)}


async def _status(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    async with http.get(url + STATUS) as answer:
        return await answer.json()  # type: ignore[no-any-return]


async def _until_quiet(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        report = await _status(http, url)
        if report["schema_fetches"]["schemas_awaited"] == 0:  # type: ignore[index]
            return report
        assert time.monotonic() < deadline, report["schema_fetches"]
        await asyncio.sleep(0.05)


async def test_distinct_unknown_schemas_cost_a_bounded_number_of_fetches(
        counting_registry: tuple[list[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked, registry_url = counting_registry
    # Small caps and a fast backoff, so that every retry happens within the test.
    monkeypatch.setattr(backoff, "BACKOFF_FIRST", 0.01)
    monkeypatch.setattr(backoff, "BACKOFF_MAX", 0.02)
    monkeypatch.setattr(backoff, "ATTEMPTS_PER_URI", 3)
    monkeypatch.setattr(backoff, "DISTINCT_URIS", 40)
    monkeypatch.setattr(backoff, "ATTEMPTS_IN_ALL", 100)
    monkeypatch.setattr(unresolved, "MAX_ATTEMPTS", 3)
    catcher = Snowcatcher(Settings(port=0, cache_dir=tmp_path / "cache"))
    catcher.registry.remotes = (RemoteRepo(registry_url),)
    await catcher.start()
    try:
        async with aiohttp.ClientSession() as http:
            for batch in range(20):
                events = [naming(f"iglu:com.acme/made_up_{batch}_{n}/jsonschema/1-0-0")
                          for n in range(100)]
                assert await post_events(http, catcher.url, *events) == 200
            report = await _until_quiet(http, catcher.url)
            fetches = report["schema_fetches"]["iglu"]  # type: ignore[index]
            assert len(asked) <= 100  # one remote: one request per attempt; 2,000 schemas asked for
            assert fetches["attempts"] == len(asked)
            assert fetches["schemas_tried"] == 40
            assert fetches["fetches_given_up"] >= 2000 - 40
            assert len(fetches["given_up_examples"]) == 5
            assert report["store"]["total"] == 2000  # type: ignore[index]

            async with http.post(catcher.url + "/micro/reset") as answer:
                assert answer.status == 200
            fetches = (await _status(http, catcher.url))["schema_fetches"]["iglu"]  # type: ignore[index]
            assert (fetches["attempts"], fetches["schemas_tried"], fetches["fetches_given_up"]) == (0, 0, 0)
            # Forgotten: a schema given up on before is asked for again.
            before = len(asked)
            again = naming("iglu:com.acme/made_up_19_99/jsonschema/1-0-0")
            assert await post_events(http, catcher.url, again) == 200
            await _until_quiet(http, catcher.url)
            assert len(asked) > before
    finally:
        await catcher.stop()
