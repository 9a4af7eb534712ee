"""Pilot tests: the list follows every change of the store, not only new events (resets, re-validation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_detail import EventDetail
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.messages import EventHighlighted
from snowcatcher.validate.revalidate import revalidate
from tests.tui.pilot import SIZE, rows, status, until
from tests.tui.tracker import gitlab_event, post


@pytest.mark.parametrize(("method", "path"), [("POST", "/micro/reset"),
                                              ("DELETE", "/snowcatcher/api/events")])
async def test_a_reset_over_http_empties_the_open_list(live: SnowcatcherApp, method: str, path: str) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, *(gitlab_event(f"before_{n}") for n in range(6)))
        await until(pilot, lambda: len(rows(live)) == 6)
        async with aiohttp.ClientSession() as http, http.request(method, live.server.url + path) as answer:
            assert answer.status == 200
        await post(live.server.url, gitlab_event("after"))
        await until(pilot, lambda: len(rows(live)) == 1 and "after" in rows(live)[0])
        await until(pilot, lambda: "✓ 1" in status(live))
        events = live.query_one(EventList)
        assert events.total == 1 and events.selected_id == live.store.last_id()


async def test_background_revalidation_reaches_the_rows_on_screen(live: SnowcatcherApp,
                                                                  schemas: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("fixed", realm="moon"), gitlab_event("other"))
        await until(pilot, lambda: len(rows(live)) == 2 and "✗" in rows(live)[0])
        await pilot.press("up")  # the invalid one, shown in the detail pane too
        await until(pilot, lambda: live.query_one(EventDetail).event_id == 1)
        path = schemas / "com.gitlab" / "gitlab_standard" / "jsonschema" / "1-1-1"
        schema = orjson.loads(path.read_bytes())
        schema["properties"]["realm"]["enum"].append("moon")
        path.write_bytes(orjson.dumps(schema))
        # Not the `r` key (which redraws by itself): re-validation the TUI did not ask for.
        report = await revalidate(live.store, live.server.ingestor)
        assert report.changed == 1
        await until(pilot, lambda: "✗" not in rows(live)[0] and "✗ 0" in status(live))
        detail = live.query_one(EventDetail)
        assert detail.event is not None and detail.event.valid


@pytest.fixture
async def small(schemas: Path, tmp_path: Path) -> AsyncIterator[SnowcatcherApp]:
    """The app with a collector that refuses query strings over 1 KiB with 414."""
    server = Snowcatcher(Settings(port=0, schemas=[schemas], offline=True, cache_dir=None, max_body=1024))
    yield SnowcatcherApp(server.store, server=server, export_dir=tmp_path)


async def test_revalidating_keeps_the_verdict_on_a_refused_request(small: SnowcatcherApp) -> None:
    async with small.run_test(size=SIZE) as pilot:
        url = small.server.url + "/i?e=pv&tv=js-3&p=web&url=" + "x" * 2000
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            assert answer.status == 414
        await until(pilot, lambda: len(rows(small)) == 1 and "✗" in rows(small)[0])
        await pilot.press("r")
        await small.workers.wait_for_complete()
        await pilot.pause()
        event = small.store.get(1)
        assert event is not None and [v.keyword for v in event.violations] == ["size"]
        assert "✗" in rows(small)[0]


async def test_a_highlight_read_while_the_app_closes_is_ignored() -> None:
    """The list's last highlight can reach the app after its screens are gone (seen at quit under
    load): it must not raise "No screens on stack" out of the closing app."""
    store = Store()
    try:
        app = SnowcatcherApp(store, address="listening on http://127.0.0.1:9090")
        assert not app.screen_stack  # as when the app has closed its screens
        app.on_event_highlighted(EventHighlighted(1))
    finally:
        store.close()
