"""One request never stalls the others, and connections and forwarding are bounded (real HTTP on 127.0.0.1).

The concurrency tests assert the order in which requests finish, never how long they took: a
one-event GET sent while a big request is being worked on is answered before the big one ends.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from snowcatcher.capture.collector import TP2_PATH
from snowcatcher.capture.intake_first import INTAKE_FIRST
from snowcatcher.model import BAD_REQUEST, CapturedEvent, RawRequest, Response
from snowcatcher.protocols.snowplow import samples
from snowcatcher.protocols.snowplow.decode import MAX_EVENTS
from snowcatcher.runtime import Snowcatcher
from tests.conftest import settings
from tests.data import PAYLOAD_DATA
from tests.loopback import serving

JSON = {"Content-Type": "application/json; charset=UTF-8"}
PIXEL_QUERY = "/i?e=pv&tv=js-4.6.1&p=web&aid=beside"


@pytest.fixture
async def running() -> AsyncIterator[Snowcatcher]:
    server = Snowcatcher(settings(idle_timeout=0.5, body_timeout=0.5))
    await server.start()
    yield server
    await server.stop()


async def _first_events_stored(catcher: Snowcatcher) -> asyncio.Event:
    stored = asyncio.Event()
    catcher.store.subscribe(lambda events: stored.set())
    return stored


async def _tracker_get(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(base + PIXEL_QUERY) as answer:
        await answer.read()
        return answer.status


async def test_a_get_is_answered_while_a_huge_tp2_body_is_stored(running: Snowcatcher,
                                                                  http: aiohttp.ClientSession) -> None:
    body = orjson.dumps({"schema": PAYLOAD_DATA, "data": [{"e": "pv"}] * 80_000})
    stored = await _first_events_stored(running)
    big = asyncio.create_task(http.post(running.url + TP2_PATH, data=body, headers=JSON))
    await stored.wait()  # the big request's first events are in the store: it is being stored
    assert await _tracker_get(http, running.url) == 200
    assert not big.done(), "the GET had to wait for the whole big request"
    answer = await big
    assert answer.status == 200
    answer.release()
    events = running.store.after(0, limit=2 * MAX_EVENTS)
    assert len(events) == MAX_EVENTS + 2  # the capped events, the bad request for the rest, the GET
    [excess] = [e for e in events if e.event_type == BAD_REQUEST]
    [violation] = excess.violations
    assert violation.keyword == "events"
    assert "80,000 events" in violation.message and "10,000" in violation.message
    assert "other 70,000 were not" in violation.message


async def test_an_eventgate_array_past_the_cap_is_recorded_and_refused(running: Snowcatcher,
                                                                       http: aiohttp.ClientSession
                                                                       ) -> None:
    stored = await _first_events_stored(running)
    big = asyncio.create_task(http.post(running.url + "/v1/events", data=b"[" + b",".join(
        [b"{}"] * 100_000) + b"]", headers=JSON))
    await stored.wait()
    assert await _tracker_get(http, running.url) == 200
    assert not big.done(), "the GET had to wait for the whole EventGate array"
    async with await big as answer:
        assert answer.status == 400 and "100,000 events" in await answer.text()
    assert running.store.count() == MAX_EVENTS + 2


async def _fill(catcher: Snowcatcher, count: int) -> None:
    """`count` valid page views, stored without going through HTTP (fast)."""
    [event] = await catcher.ingestor.snowplow_post(_raw(samples.body(samples.page_view())))
    assert event.valid, event.violations
    for start in range(0, count, 5000):
        events: list[CapturedEvent] = [event] * min(5000, count - start)
        catcher.store.append_now(_raw(b"{}"), Response(200, b"ok"), events)


def _raw(body: bytes) -> RawRequest:
    return RawRequest(method="POST", path=TP2_PATH, query="", headers=tuple(JSON.items()), body=body,
                      received_at=1742268163.0)


def _read_in_thread(port: int, path: str, first_bytes: threading.Event) -> tuple[threading.Thread,
                                                                                  list[bytes]]:
    """GET `path` with a plain socket in a thread that reads as fast as it can (a monitor that
    polls /micro/good is another process, not a task on snowcatcher's loop)."""
    received: list[bytes] = []

    def read() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            while chunk := sock.recv(1 << 20):
                received.append(chunk)
                first_bytes.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, received


async def test_a_get_is_answered_while_micro_good_reads_many_events(running: Snowcatcher,
                                                                    http: aiohttp.ClientSession) -> None:
    await _fill(running, 20_000)
    started = threading.Event()
    reader, received = _read_in_thread(running.port, "/micro/good", started)
    assert await asyncio.to_thread(started.wait, 60)
    assert await _tracker_get(http, running.url) == 200
    assert reader.is_alive(), "the GET had to wait for the whole /micro/good answer"
    await asyncio.to_thread(reader.join, 120)
    body = b"".join(received).split(b"\r\n\r\n", 1)[1]
    assert b"Transfer-Encoding: chunked" in b"".join(received)[:1000]
    assert body.endswith(b"0\r\n\r\n")


async def test_a_long_read_past_the_limit_is_answered_503_with_retry_after(
        running: Snowcatcher, http: aiohttp.ClientSession) -> None:
    gate = running.app[INTAKE_FIRST]
    gate.heavy_reads = 1
    filler = "x" * 2000
    for batch in range(8):  # megabytes to export: more than an unread socket's buffers hold
        body = orjson.dumps({"schema": PAYLOAD_DATA, "data": [
            {"e": "pv", "tv": "js-4.6.1", "p": "web", "url": f"https://x.test/{batch}/{n}", "page": filler}
            for n in range(250)]})
        async with http.post(running.url + TP2_PATH, data=body, headers=JSON) as answer:
            assert answer.status == 200
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.setblocking(False)
    await asyncio.get_running_loop().sock_connect(stuck, ("127.0.0.1", running.port))
    stuck.send(b"GET /snowcatcher/api/export.ndjson HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await _until(lambda: gate.running_reads == 1)  # the export waits for a reader that reads nothing
    async with http.get(running.url + "/micro/good") as answer:
        assert answer.status == 503 and answer.headers["Retry-After"] == "2"
        assert "at most 1 at once" in (await answer.json())["error"]
    assert await _tracker_get(http, running.url) == 200  # trackers are not long reads
    stuck.close()
    await _until(lambda: gate.running_reads == 0)
    async with http.get(running.url + "/micro/good") as answer:
        assert answer.status == 200 and len(await answer.json()) == 2001


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for a condition the server reaches by itself (no fixed sleep); fail after a minute."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), 60)


async def test_micro_good_pages_give_the_same_array(running: Snowcatcher,
                                                     http: aiohttp.ClientSession) -> None:
    await _fill(running, 250)  # several pages
    async with http.get(running.url + "/micro/good") as answer:
        events = await answer.json()
    async with http.post(running.url + "/micro/good", json={"limit": 120}) as answer:
        limited = await answer.json()
    assert len(events) == 250 and limited == events[:120]
    assert events[0]["event"]["event_id"] == events[-1]["event"]["event_id"]


async def test_a_zip_bomb_is_refused_after_max_body_and_recorded(http: aiohttp.ClientSession) -> None:
    catcher = Snowcatcher(settings(max_body=64 * 1024))
    await catcher.start()
    try:
        squeezer = zlib.compressobj(9, zlib.DEFLATED, 31)
        bomb = b"".join(squeezer.compress(b"\0" * (1 << 20)) for _ in range(64)) + squeezer.flush()
        async with http.post(catcher.url + TP2_PATH, data=bomb,
                             headers={**JSON, "Content-Encoding": "gzip"}) as answer:
            assert answer.status == 413 and "inflates to more than" in await answer.text()
        [event] = catcher.store.window()
        assert event.event_type == BAD_REQUEST and event.violations[0].keyword == "size"
        stored = catcher.store.request(event.request_id)
        assert stored is not None and len(stored.request.body) == 64 * 1024
        good = gzip.compress(samples.body(samples.page_view()))
        async with http.post(catcher.url + TP2_PATH, data=good,
                             headers={**JSON, "Content-Encoding": "gzip"}) as answer:
            assert answer.status == 200
        async with http.post(catcher.url + TP2_PATH, data=b"not gzip at all",
                             headers={**JSON, "Content-Encoding": "gzip"}) as answer:
            assert answer.status == 400 and "not valid gzip" in await answer.text()
        events = catcher.store.window()
        assert [e.event_type for e in events] == [BAD_REQUEST, "page_view", BAD_REQUEST]
    finally:
        await catcher.stop()


async def _closed_within(port: int, payload: bytes, timeout: float = 30) -> bytes:
    """Send `payload` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def test_idle_and_half_sent_connections_are_closed(running: Snowcatcher) -> None:
    assert await _closed_within(running.port, b"") == b""
    assert await _closed_within(running.port, b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\n") == b""


async def test_a_stalled_body_is_recorded_and_answered_408(running: Snowcatcher) -> None:
    start = (f"POST {TP2_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: 1000\r\n\r\n{\"schema\":").encode()
    answer = await _closed_within(running.port, start)
    assert answer.startswith(b"HTTP/1.1 408")
    [event] = running.store.window()
    assert event.violations[0].keyword == "timeout"
    assert "10 of 1000 bytes" in event.violations[0].message


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[dict[str, Any]], asyncio.Event]]:
    """An upstream collector that records the request target as it arrived; hangs while `hold`
    is clear."""
    seen: list[dict[str, Any]] = []
    release = asyncio.Event()
    release.set()

    async def record(request: web.Request) -> web.Response:
        await release.wait()
        seen.append({"target": request.raw_path, "body": await request.read()})
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serving(app) as url:
        yield url, seen, release


async def _send_raw(port: int, request_line: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{request_line}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    answer = await reader.read()
    writer.close()
    return answer


async def test_forward_relays_the_request_target_exactly(
        upstream: tuple[str, list[dict[str, Any]], asyncio.Event]) -> None:
    url, seen, _ = upstream
    catcher = Snowcatcher(settings(forward=url + "/base/collector"))
    await catcher.start()
    try:
        for target in ("/%2e%2e/%2e%2e/admin/delete", "/i%3Fadmin%3Dtrue%23?e=pv&tv=x&p=web"):
            await _send_raw(catcher.port, f"GET {target} HTTP/1.1")
        assert catcher.forwarder is not None
        await asyncio.wait_for(catcher.forwarder.join(), 10)
        assert [item["target"] for item in seen] == [
            "/base/collector/%2e%2e/%2e%2e/admin/delete",
            "/base/collector/i%3Fadmin%3Dtrue%23?e=pv&tv=x&p=web"]
    finally:
        await catcher.stop()


async def test_forward_drops_cut_bodies_and_bounds_its_queue_by_bytes(
        upstream: tuple[str, list[dict[str, Any]], asyncio.Event], http: aiohttp.ClientSession) -> None:
    url, seen, release = upstream
    catcher = Snowcatcher(settings(forward=url, max_body=4096))
    await catcher.start()
    assert catcher.forwarder is not None
    catcher.forwarder._queue_bytes = 8000  # a small bound, to be reached with small bodies
    try:
        async with http.post(catcher.url + TP2_PATH, data=b"x" * 5000, headers=JSON) as answer:
            assert answer.status == 413
        release.clear()  # the upstream hangs: bodies pile up in the queue
        body = samples.body(samples.page_view())
        for _ in range(10):
            async with http.post(catcher.url + TP2_PATH, data=body, headers=JSON) as answer:
                assert answer.status == 200
        stats = catcher.forward.to_json()
        assert stats["cut"] == 1 and stats["dropped"] > 0
        assert stats["pending_bytes"] <= 8000
        async with http.get(catcher.url + "/snowcatcher/api/status") as answer:
            status = await answer.json()
        assert status["forward"]["dropped"] == stats["dropped"] and status["forward"]["cut"] == 1
        release.set()
        await asyncio.wait_for(catcher.forwarder.join(), 10)
        assert all(len(item["body"]) == len(body) for item in seen)
        assert len(seen) == 10 - stats["dropped"]
    finally:
        await catcher.stop()
