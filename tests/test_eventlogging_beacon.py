"""Legacy EventLogging beacons over real HTTP: GET and empty-body POST of `/beacon/event?<capsule>;`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from snowcatcher.decode.eventlogging import capsule_from_query, legacy_schema_uri
from snowcatcher.model import CapturedEvent
from snowcatcher.server import Settings, Snowcatcher
from snowcatcher.streams import StreamConfig, StreamConfigError
from tests.wikimedia_support import PRIMARY, SECONDARY, needs_corpus, running

CAPSULE = {
    "schema": "HomepageVisit",
    "revision": 19792380,
    "wiki": "devwiki",
    "webHost": "localhost",
    "dt": "2020-04-02T19:11:20.942Z",
    "event": {"is_mobile": True, "user_editcount": 123, "user_id": 456,
              "impact_module_state": "activated", "start_email_state": "noemail",
              "homepage_pageview_token": "example token"},
}


def beacon_query(capsule: Any) -> str:
    """What mw.eventLog builds: encodeURIComponent(JSON.stringify(capsule)) + ';'."""
    return quote(json.dumps(capsule, separators=(",", ":")), safe="!'()*-._~") + ";"


async def send(catcher: Snowcatcher, method: str, capsule: Any) -> tuple[int, dict[str, str]]:
    url = URL(f"{catcher.url}/beacon/event?{beacon_query(capsule)}", encoded=True)
    async with aiohttp.ClientSession() as http, http.request(method, url) as answer:
        return answer.status, dict(answer.headers)


@needs_corpus
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_legacy_beacon_is_captured_and_validated(method: str) -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        status, headers = await send(catcher, method, CAPSULE)
        stored: CapturedEvent = catcher.store.window()[0]
        request = catcher.store.request(stored.request_id)
    assert status == 204
    assert headers["Requested-Event-Valid"] == "1", headers
    assert stored.valid, stored.violations
    assert (stored.protocol, stored.event_type, stored.name, stored.app_id) == (
        "eventlogging", "event", "eventlogging_HomepageVisit", "devwiki")
    assert stored.schema == "/analytics/legacy/homepagevisit/latest"
    # dt is the time of receipt; the client's own time is kept in client_dt.
    assert stored.payload["client_dt"] == "2020-04-02T19:11:20.942Z"
    assert stored.payload["dt"] != stored.payload["client_dt"] and stored.payload["dt"].endswith("Z")
    assert {"$schema", "meta.stream", "client_dt", "meta.id", "meta.dt", "dt"} <= set(stored.filled)
    assert request is not None and request.request.method == method and request.request.body == b""


@needs_corpus
async def test_an_invalid_beacon_reports_the_violation_in_headers_and_store() -> None:
    capsule = {**CAPSULE, "event": {**CAPSULE["event"], "impact_module_state": "broken"}}
    del capsule["event"]["user_id"]
    async with running(PRIMARY, SECONDARY) as catcher:
        status, headers = await send(catcher, "GET", capsule)
        stored = catcher.store.window()[0]
    assert status == 204 and headers["Requested-Event-Valid"] == "0"
    assert sorted(v.path for v in stored.violations) == ["/event", "/event/impact_module_state"]
    assert any("user_id" in value for key, value in headers.items() if key.startswith("Validation-Error"))


@needs_corpus
async def test_an_unknown_legacy_schema_is_reported() -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        status, headers = await send(catcher, "GET", {**CAPSULE, "schema": "NoSuchSchema"})
        stored = catcher.store.window()[0]
    assert status == 204 and headers["Requested-Event-Valid"] == "0"
    assert stored.violations[0].keyword == "resolve"
    assert "/analytics/legacy/nosuchschema/latest" in stored.violations[0].message


async def test_undecodable_beacons_become_bad_requests() -> None:
    async with running() as catcher:
        for query in ("", "not%20json;", quote('["a"]') + ";", quote('{"event": {}}') + ";"):
            url = URL(f"{catcher.url}/beacon/event?{query}", encoded=True)
            async with aiohttp.ClientSession() as http, http.get(url) as answer:
                assert answer.status == 204
        stored = catcher.store.window()
    assert [event.event_type for event in stored] == ["bad_request"] * 4
    assert [event.violations[0].keyword for event in stored] == ["required", "json", "type", "required"]
    assert {event.protocol for event in stored} == {"eventlogging"}


def test_capsule_parsing_and_schema_choice() -> None:
    capsule, problem = capsule_from_query(beacon_query(CAPSULE))
    assert problem is None and capsule == CAPSULE
    assert legacy_schema_uri(CAPSULE) == "/analytics/legacy/homepagevisit/latest"
    assert legacy_schema_uri({**CAPSULE, "revision": "1.2.1"}) == "/analytics/legacy/homepagevisit/1.2.1"


# -- stream configuration files -----------------------------------------------------------------------


def test_stream_config_shapes(tmp_path: Path) -> None:
    as_map = StreamConfig.from_document({"a.b": {"schema_title": "t"}, "/^x\\./": {"schema_title": "u"}})
    as_api = StreamConfig.from_document({"streams": {"a.b": {"schema_title": "t"}}})
    as_list = StreamConfig.from_document([{"stream": "a.b", "schema_title": "t"}])
    for config in (as_map, as_api, as_list):
        assert config.find("a.b") is not None and config.find("a.c") is None
    assert as_map.find("x.y") == as_map.rules[1]
    broken = tmp_path / "streams.yaml"
    broken.write_text("/[/: {schema_title: t}\n")
    with pytest.raises(StreamConfigError, match="not a valid regex"):
        StreamConfig.load(broken)
    with pytest.raises(StreamConfigError, match="cannot read"):
        Snowcatcher(Settings(port=0, offline=True, cache_dir=None, streams=tmp_path / "missing.yaml"))
