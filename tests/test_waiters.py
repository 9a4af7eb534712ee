"""Waits and live streams over real HTTP on 127.0.0.1: a waiter costs nothing per event its filter
does not match, a client that hangs up stops costing at once, and every answer is right."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from snowcatcher.api import events as events_api
from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import Snowcatcher
from snowcatcher.store.query import Filter
from tests.conftest import post_events, settings
from tests.data import TP2, body, struct

API = "/snowcatcher/api"


@pytest.fixture
async def running() -> AsyncIterator[Snowcatcher]:
    server = Snowcatcher(settings())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def many() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session with no cap on open connections (aiohttp's default is 100)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


async def _waiters(http: aiohttp.ClientSession, catcher: Snowcatcher) -> dict[str, int]:
    async with http.get(catcher.url + API + "/status") as answer:
        waiters: dict[str, int] = (await answer.json())["waiters"]
        return waiters


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for a condition the server reaches by itself (no fixed sleep); fail after a minute."""
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), 60)


async def _open(http: aiohttp.ClientSession, catcher: Snowcatcher, kind: str, count: int) -> None:
    async def opened() -> bool:
        return (await _waiters(http, catcher))[kind] == count
    await _until(opened)


def _count_reads(catcher: Snowcatcher) -> list[Filter | None]:
    """The filter of every read of events after an id (what a waiter does), from now on."""
    reads: list[Filter | None] = []
    read = catcher.store.after

    def counted(event_id: int, where: Filter | None = None, limit: int = 1000) -> list[CapturedEvent]:
        reads.append(where)
        return read(event_id, where, limit)

    catcher.store.after = counted  # type: ignore[method-assign]
    return reads


async def test_a_wait_whose_client_hangs_up_is_released_at_once(
        running: Snowcatcher, http: aiohttp.ClientSession) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(f"GET {API}/wait?filter=name:never&timeout=600 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    await _open(http, running, "wait", 1)
    writer.close()  # the client gives up long before the 600 s it asked for
    await _open(http, running, "wait", 0)


async def test_a_stream_whose_client_hangs_up_is_released_at_once(
        running: Snowcatcher, http: aiohttp.ClientSession) -> None:
    async with aiohttp.ClientSession() as other:
        stream = await other.get(running.url + API + "/stream")
        await _open(http, running, "stream", 1)
        stream.close()
    await _open(http, running, "stream", 0)


async def test_waiters_cost_no_query_for_events_their_filter_does_not_match(
        running: Snowcatcher, many: aiohttp.ClientSession) -> None:
    reads = _count_reads(running)
    url = running.url + API + "/wait"
    waits = [asyncio.ensure_future(many.get(url, params={"filter": "name:wanted", "timeout": "60"}))
             for _ in range(50)]
    await _open(many, running, "wait", 50)
    reads.clear()  # each waiter read what was stored before it came
    for number in range(10):
        assert await post_events(many, running.url, struct(f"other_{number}")) == 200
    assert reads == []  # today: 50 waiters x 10 batches = 500 queries
    assert await post_events(many, running.url, struct("other"), struct("wanted")) == 200
    answers = await asyncio.gather(*waits)
    for answer in answers:
        report = await answer.json()
        assert answer.status == 200 and [e["name"] for e in report["events"]] == ["wanted"]
    assert reads == []  # the matching event too was handed over, not read again


async def test_waiters_with_a_filter_only_the_database_decides_share_one_query_per_batch(
        running: Snowcatcher, many: aiohttp.ClientSession) -> None:
    reads = _count_reads(running)
    url = running.url + API + "/wait"
    waits = [asyncio.ensure_future(many.get(url, params={"filter": "wanted", "timeout": "60"}))
             for _ in range(20)]
    await _open(many, running, "wait", 20)
    reads.clear()
    for number in range(5):
        assert await post_events(many, running.url, struct(f"other_{number}")) == 200
    assert len(reads) == 5  # one per batch, not one per waiter and batch (100)
    assert await post_events(many, running.url, struct("wanted")) == 200
    for answer in await asyncio.gather(*waits):
        assert answer.status == 200 and (await answer.json())["found"] == 1


async def test_a_free_text_wait_matches_an_event_whose_only_match_is_in_an_entity(
        running: Snowcatcher, many: aiohttp.ClientSession) -> None:
    """A batch's free-text test looks up each event's own entity set (not every stored set): a
    word found only inside a base64 context still wakes the wait, a word in no set does not."""
    def with_context(action: str, word: str) -> dict[str, str]:
        contexts = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
                    "data": [{"schema": "iglu:com.acme/page/jsonschema/1-0-0", "data": {"tag": word}}]}
        return struct(action, cx=base64.urlsafe_b64encode(json.dumps(contexts).encode()).decode())

    for number in range(30):  # other sets stored before: a set of its own for each event
        assert await post_events(many, running.url, with_context(f"before_{number}", f"tulip{number}")) == 200
    url = running.url + API + "/wait"
    found = asyncio.ensure_future(many.get(url, params={"filter": "sunflower", "timeout": "60"}))
    missed = asyncio.ensure_future(many.get(url, params={"filter": "tulip5", "timeout": "60",
                                                         "after": str(running.store.last_id())}))
    await _open(many, running, "wait", 2)
    assert await post_events(many, running.url, with_context("plain", "daisy")) == 200
    assert await post_events(many, running.url, with_context("hidden", "sunflower")) == 200
    answer = await found
    assert answer.status == 200 and [e["name"] for e in (await answer.json())["events"]] == ["hidden"]
    # tulip5's event was stored before the wait's id: nothing since matches, the wait goes on.
    assert (await _waiters(many, running))["wait"] == 1
    missed.cancel()


async def test_300_waiters_are_all_answered_right_after_one_batch(
        running: Snowcatcher, many: aiohttp.ClientSession) -> None:
    await post_events(many, running.url, struct("wanted_before"))  # stored before: not after=1
    filters = ["name:wanted_*", "type:struct -name:other", "wanted", "app:shop name:wanted_2"]
    url = running.url + API + "/wait"
    waits = [asyncio.ensure_future(many.get(url, params={
        "filter": filters[number % 4], "after": "1", "count": "1" if number % 4 == 3 else "2",
        "timeout": "60"})) for number in range(300)]
    await _open(many, running, "wait", 300)
    assert await post_events(many, running.url, struct("wanted_1"), struct("other"),
                             struct("wanted_2")) == 200
    for number, answer in enumerate(await asyncio.gather(*waits)):
        report = await answer.json()
        wanted = ["wanted_2"] if number % 4 == 3 else ["wanted_1", "wanted_2"]
        assert answer.status == 200 and [e["name"] for e in report["events"]] == wanted, number
    await _open(many, running, "wait", 0)


async def _read_stream(response: aiohttp.ClientResponse, count: int) -> list[int]:
    ids: list[int] = []
    while len(ids) < count:
        line = (await response.content.readline()).decode()
        if line.startswith("data: "):
            ids.append(json.loads(line[6:])["id"])
    return ids


async def test_streams_get_every_event_in_order(running: Snowcatcher, many: aiohttp.ClientSession) -> None:
    everything = [await many.get(running.url + API + "/stream") for _ in range(3)]
    filtered = await many.get(running.url + API + "/stream", params={"filter": "name:keep_*"})
    await _open(many, running, "stream", 4)
    sent = [asyncio.ensure_future(post_events(many, running.url, *(
        struct(f"keep_{batch}_{n}" if n % 3 else f"drop_{batch}_{n}") for n in range(40))))
        for batch in range(20)]
    # A big request too: stored in parts, more than a stream holds before it reads the store again.
    big = body(*(struct(f"keep_big_{n}") for n in range(1200)))
    async with many.post(running.url + TP2, json=big) as answer:
        assert answer.status == 200
    assert set(await asyncio.gather(*sent)) == {200}
    stored = running.store.after(0, None, 10_000)
    kept = [event.id for event in stored if event.name.startswith("keep_")]
    for stream in everything:
        assert await asyncio.wait_for(_read_stream(stream, len(stored)), 60) == [e.id for e in stored]
    assert await asyncio.wait_for(_read_stream(filtered, len(kept)), 60) == kept
    for stream in [*everything, filtered]:
        stream.close()
    await _open(many, running, "stream", 0)


async def test_a_stream_whose_client_stops_reading_is_dropped_and_the_others_go_on(
        running: Snowcatcher, many: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "STALLED_STREAM", 0.5)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few frames
    stalled.setblocking(False)
    await asyncio.get_running_loop().sock_connect(stalled, ("127.0.0.1", running.port))
    stalled.send(f"GET {API}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    reading = await many.get(running.url + API + "/stream")
    await _open(many, running, "stream", 2)
    filler = "x" * 2000
    for batch in range(8):  # megabytes of frames: more than the unread socket's buffers hold
        assert await post_events(many, running.url, *(struct(f"big_{batch}_{n}", se_la=filler)
                                                      for n in range(250))) == 200
    await _open(many, running, "stream", 1)  # the client that stopped reading was dropped
    stored = running.store.after(0, None, 10_000)
    assert await asyncio.wait_for(_read_stream(reading, len(stored)), 60) == [e.id for e in stored]
    reading.close()
    stalled.close()


async def test_a_tracker_that_hangs_up_mid_request_still_gets_it_stored(running: Snowcatcher) -> None:
    """Handlers are cancelled when their client hangs up (that is what releases waiters), but not
    the tracker routes: a request stored in several parts is stored whole."""
    payload = json.dumps(body(*(struct(f"part_{n}") for n in range(1000)))).encode()
    _, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    await writer.drain()
    stored = asyncio.Event()
    running.store.subscribe(lambda events: stored.set())
    await stored.wait()  # its first part is in the store
    writer.close()  # the tracker hangs up without waiting for the answer

    async def whole() -> bool:
        return running.store.count() == 1000
    await _until(whole)
    assert [event.index for event in running.store.after(0, None, 2000)] == list(range(1000))


async def test_status_shows_no_waiters_when_none_wait(running: Snowcatcher,
                                                       http: aiohttp.ClientSession) -> None:
    assert await _waiters(http, running) == {"wait": 0, "stream": 0}
