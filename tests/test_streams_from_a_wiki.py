"""--streams with a wiki's api.php?action=streamconfigs URL: fetched at start and on re-validation."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from snowcatcher.cli import main
from snowcatcher.protocols.wikimedia.streams import StreamConfigError
from snowcatcher.runtime import Settings, Snowcatcher, StaleStreamConfig
from tests.cli_process import free_port
from tests.loopback import serving
from tests.wikimedia_support import PRIMARY, needs_corpus

API = "/w/api.php?action=streamconfigs&format=json"


def wiki_api(config: dict[str, Any], status: int = 200) -> web.Application:
    """A MediaWiki API that answers action=streamconfigs as EventStreamConfig does: {"streams": {…}}."""
    async def api(request: web.Request) -> web.Response:
        if request.query.get("action") != "streamconfigs":
            return web.json_response({"error": {"code": "badvalue"}})
        return web.json_response({"streams": config["streams"]}, status=config.get("status", status))

    app = web.Application()
    app.router.add_get("/w/api.php", api)
    return app


def event(stream: str) -> dict[str, Any]:
    return {"$schema": "/test/event/1.0.0", "meta": {"stream": stream, "id": "e1",
                                                     "dt": "2020-04-02T19:11:20Z"}}


async def post(catcher: Snowcatcher, body: object) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{catcher.url}/v1/events", data=orjson.dumps(body),
            headers={"Content-Type": "application/json"}) as answer:
        return answer.status, await answer.text()


@needs_corpus
async def test_the_wikis_stream_configuration_decides_and_r_fetches_it_again() -> None:
    config: dict[str, Any] = {"streams": {"test.event": {"schema_title": "test/event"}}}
    async with serving(wiki_api(config)) as base:
        catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, schemas=[PRIMARY],
                                       streams=base + API))
        await catcher.start()
        try:
            assert (await post(catcher, event("test.event")))[0] == 201
            status, text = await post(catcher, event("test.other"))
            assert status == 500
            assert json.loads(text)["error"][0]["context"]["message"].endswith(
                "test.other is not a configured stream.")
            # The developer configures the stream on the wiki, then presses r.
            config["streams"]["test.other"] = {"schema_title": "test/event"}
            report = await catcher.revalidate()
            stored = catcher.store.window()
        finally:
            await catcher.stop()
    assert report.changed == 1
    assert [e.valid for e in stored] == [True, True]


async def test_a_failed_fetch_at_start_is_an_error_naming_the_url() -> None:
    config: dict[str, Any] = {"streams": {}, "status": 503}
    async with serving(wiki_api(config)) as base:
        catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, streams=base + API))
        with pytest.raises(StreamConfigError) as raised:
            await catcher.start()
        catcher.store.close()
    assert str(raised.value) == (f"cannot fetch the stream configuration from {base + API}: "
                                 "HTTP 503 Service Unavailable")


async def test_a_failed_fetch_on_r_keeps_the_configuration_and_says_so() -> None:
    config: dict[str, Any] = {"streams": {"test.event": {"schema_title": "test/event"}}}
    async with serving(wiki_api(config)) as base:
        catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, streams=base + API))
        await catcher.start()
        try:
            config["status"] = 500
            with pytest.raises(StaleStreamConfig, match=r"HTTP 500.*configuration fetched before"):
                await catcher.revalidate()
            [remote] = catcher._remote_streams()
            assert remote.config.find("test.event") is not None
        finally:
            await catcher.stop()


def test_the_cli_exits_2_naming_an_unreachable_wiki(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: pathlib.Path) -> None:
    url = f"http://127.0.0.1:{free_port()}{API}"
    # A capture file in the test's folder: --db :memory: left a ':memory:.lock' in the repository.
    db = str(tmp_path / "capture.sqlite")
    code = main(["--headless", "--port", "0", "--offline", "--db", db, "--streams", url])
    error = capsys.readouterr().err
    assert code == 2
    assert f"cannot fetch the stream configuration from {url}" in error
    assert "Traceback" not in error
