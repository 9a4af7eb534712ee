"""Pilot tests: the HTTP tab shows the real exchange, the answer's status with its reason phrase and
its headers as sent (Set-Cookie redacted as request cookies are), or says they were not recorded."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson

from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from tests.data import capture_without_answer_headers
from tests.tui.pilot import SIZE, settle, until
from tests.tui.samples import PAYLOAD_DATA
from tests.tui.test_secrets import http_tab
from tests.tui.tracker import gitlab_event


async def test_the_answers_status_line_and_headers_are_shown(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{live.server.url}/com.snowplowanalytics.snowplow/tp2",
                                 data=orjson.dumps({"schema": PAYLOAD_DATA, "data": [gitlab_event("x")]}),
                                 headers={"Content-Type": "application/json",
                                          "Origin": "https://gdk.test:3443"}) as answer:
                cookie = answer.headers["Set-Cookie"]
            await until(pilot, lambda: "our answer" in http_tab(live))
            text = " ".join(http_tab(live).split())
            assert "200 OK" in text
            assert "Access-Control-Allow-Origin https://gdk.test:3443" in text
            assert "Access-Control-Allow-Credentials true" in text
            assert f"Set-Cookie {cookie}" in text  # the tracker's own cookie is no secret
            assert "redacted" not in text
            async with http.post(f"{live.server.url}/v1/events", json=[{"meta": {}}]) as answer:
                status, reason = answer.status, answer.reason
        await pilot.press("end")
        await until(pilot, lambda: "/v1/events" in http_tab(live))
        assert reason is not None and "out of 1 events" in reason  # EventGate's own phrase
        assert f"{status} {reason}" in " ".join(http_tab(live).split())


async def test_an_older_capture_says_its_headers_were_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    await capture_without_answer_headers(path)
    store = Store(path)
    app = SnowcatcherApp(store, export_dir=tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await until(pilot, lambda: "our answer" in http_tab(app))
            assert "200 OK" in http_tab(app)
            text = " ".join(http_tab(app).split())
            assert "headers not recorded (captured by an older snowcatcher)" in text
    finally:
        store.close()
