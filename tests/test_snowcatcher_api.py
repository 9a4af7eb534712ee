"""/snowcatcher/api/ on a real loopback server: events, wait, stream, export, import, status, forwarding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from snowcatcher.runtime import Snowcatcher
from tests.conftest import post_events, settings
from tests.data import TP2, struct
from tests.loopback import serving

API = "/snowcatcher/api"


async def fetch(http: aiohttp.ClientSession, url: str, **params: Any) -> tuple[int, Any]:
    async with http.get(url, params=params) as answer:
        return answer.status, await answer.json(content_type=None)


async def test_events_paged_and_filtered(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, *(struct(f"act_{n}") for n in range(5)), struct("bad", se_va="x"))
    url = catcher.url + API + "/events"
    status, page = await fetch(http, url, limit=2, offset=1)
    assert status == 200 and page["total"] == 6
    assert [e["name"] for e in page["events"]] == ["act_1", "act_2"]
    _, newest = await fetch(http, url, limit=1, order="newest")
    assert newest["events"][0]["name"] == "bad"
    _, invalid = await fetch(http, url, filter="invalid")
    assert invalid["total"] == 1 and invalid["events"][0]["violations"][0]["path"] == "/se_va"
    _, named = await fetch(http, url, filter="name:act_* -name:act_0")
    assert named["total"] == 4
    _, after = await fetch(http, url, after=4)
    assert [e["id"] for e in after["events"]] == [5, 6] and after["next_after"] == 6
    status, error = await fetch(http, url, filter="colour:red")
    assert status == 400 and "unknown filter key" in error["error"]
    status, error = await fetch(http, url, limit="many")
    assert status == 400 and "limit must be a whole number" in error["error"]


async def test_one_event_with_request_and_answer(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("one", se_la="lab"))
    status, found = await fetch(http, catcher.url + API + "/events/1")
    assert status == 200 and found["event"]["name"] == "one"
    assert found["request"]["path"] == TP2 and '"se_la": "lab"' in found["request"]["body"]["text"]
    headers = found["response"].pop("headers")
    assert found["response"] == {"status": 200, "reason": None, "content_type": "text/plain",
                                 "body": {"text": "ok", "encoding": "utf-8"}}
    assert headers[0] == ["Content-Type", "text/plain"] and headers[1][0] == "Set-Cookie"
    assert ["Access-Control-Allow-Credentials", "true"] in headers
    assert found["enriched"]["se_label"] == "lab"
    status, missing = await fetch(http, catcher.url + API + "/events/99")
    assert status == 404 and "no event 99" in missing["error"]


async def test_wait_returns_at_once_when_events_are_there(catcher: Snowcatcher,
                                                          http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("here"), struct("here"))
    status, report = await fetch(http, catcher.url + API + "/wait", filter="name:here", count=2, timeout=5)
    assert status == 200 and report["ok"] and report["found"] == 2 and report["waited"] < 1


async def test_wait_blocks_until_the_event_is_stored(catcher: Snowcatcher,
                                                     http: aiohttp.ClientSession) -> None:
    waiting = asyncio.ensure_future(fetch(http, catcher.url + API + "/wait", filter="name:late",
                                          count=1, timeout=10, field="se_la=yes", context=""))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await post_events(http, catcher.url, struct("late", se_la="no"))  # a near miss: keeps waiting
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await post_events(http, catcher.url, struct("late", se_la="yes"))
    status, report = await asyncio.wait_for(waiting, 5)
    assert status == 200 and report["found"] == 1 and report["events"][0]["payload"]["se_la"] == "yes"
    assert report["near_misses"][0]["problems"] == ['se_la is "no", wanted "yes"']


async def test_wait_times_out_with_a_report(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("other"), struct("target", se_la="wrong"))
    status, report = await fetch(http, catcher.url + API + "/wait", filter="name:target", count=1,
                                 timeout=0.3, field="se_label=right", context="gitlab_standard")
    assert status == 504 and not report["ok"] and report["found"] == 0
    assert report["matching_filter"] == 1 and report["store_total"] == 2
    problems = report["near_misses"][0]["problems"]
    assert problems == ["no gitlab_standard context (it has: none)", 'se_label is "wrong", wanted "right"']
    assert [e["name"] for e in report["recent"]] == ["target", "other"]


async def test_wait_exact_and_after(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("x"), struct("x"))
    status, report = await fetch(http, catcher.url + API + "/wait", filter="name:x", count=1, exact=1,
                                 timeout=0.2)
    assert status == 504 and report["found"] == 2
    status, report = await fetch(http, catcher.url + API + "/wait", filter="name:x", count=1,
                                 after=1, exact=1, timeout=0.2)
    assert status == 200 and report["events"][0]["id"] == 2


async def read_sse(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = (await response.content.readline()).decode()
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    return events


async def test_stream_pushes_events_as_they_are_stored(catcher: Snowcatcher,
                                                       http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("before"))
    async with http.get(catcher.url + API + "/stream", params={"filter": "-name:skip"}) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        await post_events(http, catcher.url, struct("skip"), struct("live_1"))
        await post_events(http, catcher.url, struct("live_2"))
        events = await asyncio.wait_for(read_sse(stream, 2), 5)
    assert [e["name"] for e in events] == ["live_1", "live_2"]
    async with http.get(catcher.url + API + "/stream", headers={"Last-Event-ID": "0"}) as replay:
        events = await asyncio.wait_for(read_sse(replay, 4), 5)
    assert [e["name"] for e in events] == ["before", "skip", "live_1", "live_2"]


async def test_stop_ends_open_streams_and_waits() -> None:
    running = Snowcatcher(settings())
    await running.start()
    async with aiohttp.ClientSession() as session:
        stream = await session.get(running.url + API + "/stream")
        waiting = asyncio.ensure_future(fetch(session, running.url + API + "/wait", timeout=600))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(running.stop(), 5)
        stream.close()
        waiting.cancel()


async def test_export_ndjson_and_import_round_trip(catcher: Snowcatcher,
                                                   http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("a"), struct("b", se_va="x"))
    async with http.get(catcher.url + "/i", params={"e": "pv", "tv": "js", "p": "web", "url": "http://x/"}):
        pass
    async with http.get(catcher.url + API + "/export.ndjson") as answer:
        lines = [json.loads(line) for line in (await answer.text()).splitlines()]
    assert [line["name"] for line in lines] == ["a", "b", "/"]
    assert "request" in lines[0] and "request" not in lines[1] and "request" in lines[2]
    async with http.get(catcher.url + API + "/export.ndjson", params={"filter": "invalid"}) as answer:
        assert [json.loads(line)["name"] for line in (await answer.text()).splitlines()] == ["b"]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    async with http.post(catcher.url + API + "/import", data=data) as answer:
        summary = await answer.json()
    assert (summary["requests"], summary["events"], summary["invalid"]) == (2, 3, 1)
    _, page = await fetch(http, catcher.url + API + "/events", offset=3)
    assert [e["name"] for e in page["events"]] == ["a", "b", "/"]
    assert page["events"][0]["received_at"] == lines[0]["received_at"]


async def test_har_export_import_round_trip(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("har_1"), struct("har_2", se_va="x"))
    async with http.get(catcher.url + "/i", params={"e": "se", "tv": "js", "p": "web", "se_ac": "har_3",
                                                      "se_ca": "c"}):
        pass
    async with http.get(catcher.url + API + "/export.har") as answer:
        har = await answer.json()
    entries = har["log"]["entries"]
    assert har["log"]["version"] == "1.2" and len(entries) == 2
    assert entries[0]["request"]["method"] == "POST" and entries[0]["request"]["url"].endswith(TP2)
    assert entries[1]["response"]["content"]["mimeType"] == "image/gif"
    before = [(e["name"], e["valid"], e["payload"]) for e in (await fetch(
        http, catcher.url + API + "/events"))[1]["events"]]
    # A devtools HAR also holds the page's own traffic: it is skipped, not stored.
    entries.append({"startedDateTime": "2025-03-18T03:22:43.000Z", "request": {
        "method": "GET", "url": "https://shop.example/app.js", "headers": [{"name": ":authority",
                                                                         "value": "shop.example"}]}})
    async with http.post(catcher.url + API + "/reset"):
        pass
    async with http.delete(catcher.url + API + "/events") as answer:
        assert answer.status == 200
    async with http.post(catcher.url + API + "/import", data=json.dumps(har).encode()) as answer:
        summary = await answer.json()
    assert (summary["requests"], summary["events"], summary["skipped"]) == (2, 3, 1)
    after = [(e["name"], e["valid"], e["payload"]) for e in (await fetch(
        http, catcher.url + API + "/events"))[1]["events"]]
    assert after == before  # same parameters, the same verdicts, and the same network user id


async def test_import_rejects_garbage(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    async with http.post(catcher.url + API + "/import", data=b"{not json\n") as answer:
        assert answer.status == 400 and "line 1: not JSON" in (await answer.json())["error"]


async def test_status_and_unknown_endpoints(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("a"), struct("b", se_va="x"))
    status, report = await fetch(http, catcher.url + API + "/status")
    assert status == 200 and report["store"]["total"] == 2 and report["store"]["invalid"] == 1
    assert report["micro"] == {"total": 2, "good": 1, "bad": 1}
    assert report["forward"]["enabled"] is False
    status, index = await fetch(http, catcher.url + API + "/")
    assert status == 200 and any("/wait" in key for key in index["endpoints"])
    status, unknown = await fetch(http, catcher.url + API + "/nothing")
    assert status == 404 and f"{API}/wait" in unknown["endpoints"]


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in upstream collector that records what it is sent."""
    seen: list[dict[str, Any]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "path": request.path,
                     "query": request.rel_url.raw_query_string, "body": await request.read(),
                     "headers": dict(request.headers)})
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serving(app) as url:
        yield url, seen


async def test_forward_relays_requests_unchanged(upstream: tuple[str, list[dict[str, Any]]],
                                                 http: aiohttp.ClientSession) -> None:
    url, seen = upstream
    running = Snowcatcher(settings(forward=url))
    await running.start()
    try:
        await post_events(http, running.url, struct("fwd"), Origin="https://shop.example")
        query_url = URL(running.url + "/i?e=pv&tv=js&p=web&url=http%3A%2F%2Fx%2F", encoded=True)
        async with http.get(query_url) as answer:
            assert answer.status == 200
        assert running.forwarder is not None
        await asyncio.wait_for(running.forwarder.join(), 5)
        assert [(r["method"], r["path"]) for r in seen] == [("POST", TP2), ("GET", "/i")]
        assert json.loads(seen[0]["body"])["data"][0]["se_ac"] == "fwd"
        assert seen[0]["headers"]["Origin"] == "https://shop.example"
        assert seen[1]["query"] == "e=pv&tv=js&p=web&url=http%3A%2F%2Fx%2F"
        _, status = await fetch(http, running.url + API + "/status")
        assert status["forward"] == {"enabled": True, "url": url, "sent": 2, "failed": 0, "dropped": 0,
                                     "cut": 0, "pending": 0, "pending_bytes": 0, "last_error": ""}
    finally:
        await running.stop()


async def test_forward_failures_are_counted_not_felt(http: aiohttp.ClientSession) -> None:
    running = Snowcatcher(settings(forward="http://127.0.0.1:9"))  # nothing listens on the discard port
    await running.start()
    try:
        assert await post_events(http, running.url, struct("a")) == 200
        assert running.forwarder is not None
        await asyncio.wait_for(running.forwarder.join(), 10)
        assert running.forward.failed == 1 and running.forward.sent == 0
        _, status = await fetch(http, running.url + API + "/status")
        assert status["forward"]["failed"] == 1 and "127.0.0.1:9" in status["forward"]["last_error"]
        assert running.store.count() == 1
    finally:
        await running.stop()


async def test_micro_endpoints_are_snowplow_only(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    wikimedia = {"$schema": "/test/0.0.1", "meta": {"stream": "test.event"}, "test": "x"}
    async with http.post(catcher.url + "/v1/events", json=[wikimedia]):
        pass  # its schema is not configured here: a 500, as EventGate answers, and still stored
    await post_events(http, catcher.url, struct("sp"))
    assert catcher.store.count() == 2
    _, counts = await fetch(http, catcher.url + "/micro/all")
    assert counts["total"] == 1
    async with http.get(catcher.url + "/micro/bad") as answer:
        assert all(item["collectorPayload"]["api"]["version"] != "events" for item in await answer.json())
    _, wikimedia_only = await fetch(http, catcher.url + API + "/events", filter="-protocol:snowplow")
    assert wikimedia_only["events"][0]["protocol"] == "eventgate"


async def test_import_replays_eventgate_and_headless_lines(catcher: Snowcatcher,
                                                           http: aiohttp.ClientSession) -> None:
    wikimedia = {"$schema": "/test/0.0.1", "meta": {"stream": "test.event"}, "test": "x"}
    async with http.post(catcher.url + "/v1/events", json=[wikimedia]):
        pass
    async with http.get(catcher.url + API + "/export.ndjson") as answer:
        exported = (await answer.text()).splitlines()
    # `--headless --json` lines carry no request: the Snowplow parameters are sent again as a GET.
    headless = {"protocol": "snowplow", "received_at": 1742268163.0, "payload": struct("from_headless")}
    data = "\n".join([*exported, json.dumps(headless)]).encode()
    async with http.post(catcher.url + API + "/import", data=data) as answer:
        summary = await answer.json()
    assert (summary["requests"], summary["events"]) == (2, 2)
    _, page = await fetch(http, catcher.url + API + "/events", offset=1)
    assert [(e["protocol"], e["name"]) for e in page["events"]] == [
        ("eventgate", "test.event"), ("snowplow", "from_headless")]
    assert page["events"][1]["received_at"] == 1742268163.0


@pytest.mark.parametrize("received_at", ["1e20", "-5", "\"noon\"", "[1]"])
async def test_import_names_a_received_at_that_is_no_time(catcher: Snowcatcher, http: aiohttp.ClientSession,
                                                          received_at: str) -> None:
    # 1e20 s has no calendar date: shown, exported as HAR or filled into meta.dt it failed later.
    line = ('{"protocol": "snowplow", "received_at": ' + received_at
            + ', "payload": {"e": "pv", "tv": "x", "p": "web"}}')
    async with http.post(catcher.url + API + "/import", data=line.encode()) as answer:
        error = (await answer.json())["error"]
        assert answer.status == 400
    assert "line 1: received_at" in error and ("is not a time" in error or "must be a number" in error)
    assert (await fetch(http, catcher.url + API + "/status"))[1]["store"]["total"] == 0
