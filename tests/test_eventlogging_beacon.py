"""Legacy EventLogging beacons over real HTTP: GET and empty-body POST of `/beacon/event?<capsule>;`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from rich.console import Console
from yarl import URL

from snowcatcher.model import CapturedEvent
from snowcatcher.protocols.wikimedia.eventlogging import capsule_from_query, legacy_schema_uri
from snowcatcher.protocols.wikimedia.streams import StreamConfig, StreamConfigError
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.tui import views
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


# -- the legacy conversion, as Wikimedia's EventLoggingLegacyConverter makes it ----------------------


async def send_with(catcher: Snowcatcher, capsule: Any, headers: dict[str, str]) -> int:
    url = URL(f"{catcher.url}/beacon/event?{beacon_query(capsule)}", encoded=True)
    async with aiohttp.ClientSession() as http, http.post(url, headers=headers) as answer:
        return answer.status


@needs_corpus
async def test_a_version_string_revision_selects_that_version_and_passes() -> None:
    # mw.eventLog's documented way to pick a migrated schema's version; the schema's own
    # `revision` is a meta-wiki number, so the version string is not left in the event.
    async with running(PRIMARY, SECONDARY) as catcher:
        await send(catcher, "GET", {**CAPSULE, "revision": "1.2.1"})
        stored = catcher.store.window()[0]
    assert stored.schema == "/analytics/legacy/homepagevisit/1.2.1"
    assert stored.valid, stored.violations
    assert "revision" not in stored.payload


@needs_corpus
async def test_a_php_capsules_user_agent_lands_in_http_request_headers() -> None:
    # EventLogging::logEvent (PHP) puts the user's agent in the capsule; the Event Platform schema
    # has no `userAgent`, but keeps the agent in http.request_headers['user-agent'].
    capsule = {**CAPSULE, "userAgent": "Mozilla/5.0 (the user's browser)"}
    async with running(PRIMARY, SECONDARY) as catcher:
        await send_with(catcher, capsule, {"User-Agent": "MediaWiki/1.43 (the wiki's HTTP client)"})
        stored = catcher.store.window()[0]
    assert stored.valid, stored.violations
    assert "userAgent" not in stored.payload
    assert stored.payload["http"]["request_headers"] == {"user-agent": "Mozilla/5.0 (the user's browser)"}
    assert "http.request_headers.user-agent" in stored.filled


@needs_corpus
async def test_the_conversion_adds_what_production_adds_and_marks_it_filled() -> None:
    # EventLoggingLegacyConverter::convertEvent adds uuid, dt, client_dt (the receive time when the
    # client sent none), recvFrom and http.request_headers['user-agent']; eventgate-wikimedia adds
    # http.client_ip from X-Client-IP. homepagevisit 1.2.1 has all of them.
    capsule = {key: value for key, value in CAPSULE.items() if key != "dt"}
    capsule["revision"] = "1.2.1"
    async with running(PRIMARY, SECONDARY) as catcher:
        await send_with(catcher, capsule, {"User-Agent": "Mozilla/5.0 test", "X-Client-IP": "192.0.2.7"})
        stored = catcher.store.window()[0]
    payload = stored.payload
    assert stored.valid, stored.violations
    assert len(payload["uuid"]) == 36 and payload["uuid"][14] == "4"
    assert payload["client_dt"].endswith("Z") and payload["recvFrom"] == "127.0.0.1"
    assert payload["http"] == {"request_headers": {"user-agent": "Mozilla/5.0 test"},
                               "client_ip": "192.0.2.7"}
    assert {"uuid", "client_dt", "recvFrom", "http.request_headers.user-agent",
            "http.client_ip"} <= set(stored.filled)


TINY_LEGACY = """\
title: analytics/legacy/tiny
$id: /analytics/legacy/tiny/1.0.0
$schema: https://json-schema.org/draft-07/schema#
type: object
additionalProperties: false
required: [$schema, meta, event]
properties:
  $schema: {type: string}
  meta: {type: object}
  dt: {type: string}
  schema: {type: string}
  event: {type: object}
"""


async def test_fields_the_schema_lacks_are_not_added(tmp_path: Path) -> None:
    (tmp_path / "jsonschema" / "analytics" / "legacy" / "tiny").mkdir(parents=True)
    (tmp_path / "jsonschema" / "analytics" / "legacy" / "tiny" / "1.0.0.yaml").write_text(TINY_LEGACY)
    async with running(tmp_path) as catcher:
        await send_with(catcher, {"schema": "Tiny", "revision": "1.0.0", "event": {}},
                        {"User-Agent": "Mozilla/5.0 test"})
        stored = catcher.store.window()[0]
    assert stored.valid, stored.violations
    assert set(stored.payload) == {"$schema", "meta", "dt", "schema", "event"}


@needs_corpus
async def test_the_raw_tab_shows_a_beacons_capsule_decoded() -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        await send(catcher, "GET", CAPSULE)
        stored = catcher.store.request(catcher.store.window()[0].request_id)
    console = Console(width=120, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(views.raw(stored, dark=True))
    shown = capture.get()
    assert "beacon capsule, URL-decoded" in shown
    assert '"schema": "HomepageVisit"' in shown and '"homepage_pageview_token": "example token"' in shown
    assert "%22" not in shown
