"""MediaWiki's way of sending, from headless Chromium: sendBeacon and fetch to /v1/events, legacy beacons."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from snowcatcher.model import CapturedEvent, JsonDict
from snowcatcher.runtime import Snowcatcher
from tests.browser_support import Page
from tests.wikimedia_support import PRIMARY, SCHEMA_EXAMPLES, SECONDARY, SEED, needs_corpus, running

pytestmark = needs_corpus

WAIT = 10.0


@pytest.fixture
async def wiki() -> AsyncIterator[Snowcatcher]:
    """snowcatcher with the Wikimedia schema repositories, as `--schemas primary --schemas secondary`."""
    async with running(PRIMARY, SECONDARY) as catcher:
        yield catcher


def example(name: str) -> JsonDict:
    loaded: JsonDict = json.loads((SCHEMA_EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def homepagevisit_from_browser() -> JsonDict:
    """The seed's homepagevisit example as a browser sends it: EventGate fills meta.id and meta.dt."""
    event = example("analytics_legacy_homepagevisit__1.2.1__example0")
    if SEED.is_file():
        assert event["event"]["homepage_pageview_token"] in SEED.read_text(encoding="utf-8")
    del event["meta"]["id"], event["meta"]["dt"], event["dt"]
    return event


async def stored(catcher: Snowcatcher, count: int) -> list[CapturedEvent]:
    """The stored events once there are `count` of them (beacons report nothing back to the page)."""
    deadline = time.monotonic() + WAIT
    while catcher.store.count() < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    events: list[CapturedEvent] = catcher.store.window()
    assert len(events) == count, [(e.name, e.violations) for e in events]
    return events


async def test_send_beacon_of_one_event_is_stored_as_text_plain(wiki: Snowcatcher, page: Page,
                                                                page_url: str) -> None:
    await page.goto(page_url)
    queued = await page.call_js("window.realClients.beaconEvent", f"{wiki.url}/v1/events",
                                homepagevisit_from_browser())
    assert queued is True
    [event] = await stored(wiki, 1)
    assert (event.protocol, event.name, event.schema) == (
        "eventgate", "eventlogging_HomepageVisit", "/analytics/legacy/homepagevisit/1.2.1")
    assert event.valid, event.violations
    assert event.payload["event"]["impact_module_state"] == "activated"
    assert {"meta.id", "meta.dt"} <= set(event.filled)
    request = wiki.store.request(event.request_id)
    assert request is not None and request.request.method == "POST"
    assert request.request.header("Content-Type").startswith("text/plain")
    assert request.request.header("Origin") == page_url.rstrip("/")
    assert request.response.status == 201


async def test_fetch_of_a_metrics_platform_batch_reads_eventgates_answer(wiki: Snowcatcher, page: Page,
                                                                         page_url: str) -> None:
    valid = [example(f"analytics_mediawiki_client_metrics_event__2.1.1__example{n}") for n in (0, 1)]
    broken = copy.deepcopy(valid[1])
    broken["performer"]["is_logged_in"] = "yes"
    for event in (*valid, broken):
        del event["meta"]["dt"]
    await page.goto(page_url)
    answer: dict[str, Any] = await page.call_js("window.realClients.fetchBatch",
                                                f"{wiki.url}/v1/events?hasty=true", [*valid, broken])
    # The page could read the answer: EventGate's CORS (`*`, preflight allowing content-type) let
    # the JSON POST through; hasty answers 202 regardless.
    assert (answer["status"], answer["statusText"]) == (202, "3 events hastily received."), answer
    events = await stored(wiki, 3)
    assert [e.name for e in events] == ["desktop_web_ui_actions"] * 3
    assert [e.valid for e in events] == [True, True, False]
    [violation] = events[2].violations
    assert (violation.path, violation.keyword) == ("/performer/is_logged_in", "type")
    assert len({e.request_id for e in events}) == 1, "one fetch, one stored request"


async def test_a_credentialed_fetch_fails_as_it_does_against_production(wiki: Snowcatcher, page: Page,
                                                                        page_url: str) -> None:
    # EventGate's app.js answers `access-control-allow-origin: *` and no allow-credentials; a
    # browser refuses that for credentials: 'include', so the page must not rely on it locally.
    await page.goto(page_url)
    failed = await page.evaluate(
        f"window.realClients.fetchBatch({json.dumps(wiki.url + '/v1/events')}, [{{}}], 'include')"
        ".then(() => 'read', (error) => String(error))")
    assert failed == "TypeError: Failed to fetch"


async def test_legacy_beacon_capsule_becomes_a_validated_event(wiki: Snowcatcher, page: Page,
                                                               page_url: str) -> None:
    capsule = {"schema": "HomepageVisit", "revision": 19792380, "wiki": "devwiki",
               "webHost": "127.0.0.1", "dt": "2020-04-02T19:11:20.942Z",
               "event": {"is_mobile": False, "user_editcount": 7, "user_id": 42,
                         "impact_module_state": "moon", "start_email_state": "noemail",
                         "homepage_pageview_token": "t0k3n"}}
    await page.goto(page_url)
    assert await page.call_js("window.realClients.legacyBeacon", f"{wiki.url}/beacon/event", capsule)
    [event] = await stored(wiki, 1)
    assert (event.protocol, event.name, event.app_id) == (
        "eventlogging", "eventlogging_HomepageVisit", "devwiki")
    assert event.payload["event"]["user_id"] == 42 and event.payload["client_dt"] == capsule["dt"]
    [violation] = event.violations
    assert (violation.path, violation.keyword) == ("/event/impact_module_state", "enum")
    request = wiki.store.request(event.request_id)
    assert request is not None and request.request.method == "POST" and request.request.body == b""
    assert request.request.query.endswith(";")
    assert request.response.status == 204
