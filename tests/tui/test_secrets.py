"""Pilot tests: the HTTP tab and `Y` show a captured GitLab session cookie redacted; `s` reveals it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
from textual.widgets import Static

from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.tui.app import SnowcatcherApp
from tests.tui.pilot import SIZE, settle, shown, until
from tests.tui.samples import PAYLOAD_DATA
from tests.tui.tracker import gitlab_event

SESSION = "9d2c_admin_session_value"
COOKIES = f"_gitlab_session={SESSION}; sp=5e3a0c57-9d1b-4f2e-8c6a-7b4d2e1f0a93"


async def post_with_cookies(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/com.snowplowanalytics.snowplow/tp2",
            data=orjson.dumps({"schema": PAYLOAD_DATA, "data": [gitlab_event("with_cookies")]}),
            headers={"Content-Type": "application/json", "Cookie": COOKIES,
                     "Authorization": "Bearer glpat-secret"}) as answer:
        assert answer.status == 200


def http_tab(app: SnowcatcherApp) -> str:
    return shown(app.query_one("#http-body", Static))


async def test_the_http_tab_redacts_until_s_is_pressed(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        await post_with_cookies(live.server.url)
        await until(pilot, lambda: "_gitlab_session" in http_tab(live))
        text = http_tab(live)
        assert SESSION not in text and "glpat-secret" not in text
        assert "_gitlab_session=<redacted>" in text and "press s to show" in text
        assert "sp=5e3a0c57-9d1b-4f2e-8c6a-7b4d2e1f0a93" in text  # the tracker's own cookie stays
        await pilot.press("Y")
        assert SESSION not in live.clipboard and "_gitlab_session=<redacted>" in live.clipboard
        await pilot.press("s")
        await settle(pilot)
        assert SESSION in http_tab(live) and "Bearer glpat-secret" in http_tab(live)
        await pilot.press("s")
        await settle(pilot)
        assert SESSION not in http_tab(live)


async def test_show_secrets_shows_them_from_the_start(schemas: Path, tmp_path: Path) -> None:
    server = Snowcatcher(Settings(port=0, schemas=[schemas], offline=True, cache_dir=None,
                                  show_secrets=True))
    app = SnowcatcherApp(server.store, server=server, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await post_with_cookies(server.url)
        await until(pilot, lambda: SESSION in http_tab(app))
        await pilot.press("Y")
        assert SESSION in app.clipboard
