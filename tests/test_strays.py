"""Requests no intake route takes, a body broken off, a refused `Expect: 100-continue` and a body
that does not inflate, sent over a raw socket: each is answered and recorded with its reason."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import AsyncIterator

import pytest

from snowcatcher.model import CapturedEvent
from snowcatcher.protocols.snowplow import samples
from snowcatcher.runtime import Snowcatcher
from tests.raw_http import started

TP2 = b"/com.snowplowanalytics.snowplow/tp2"
EVENTS = json.dumps({"schema": samples.PAYLOAD_DATA,
                     "data": [{"e": "pv", "p": "web", "tv": "js-4.6.1"}]}).encode()


@pytest.fixture
async def server() -> AsyncIterator[Snowcatcher]:
    async with started() as catcher:
        yield catcher


async def exchange(server: Snowcatcher, data: bytes) -> bytes:
    """Send `data` on a new connection, half-close it, and read the answer until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


def post(path: bytes, body: bytes, *, method: bytes = b"POST", host: bytes = b"127.0.0.1",
         extra: bytes = b"") -> bytes:
    return (method + b" " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n" % len(body) + extra + b"\r\n" + body)


def only_event(server: Snowcatcher) -> CapturedEvent:
    [event] = server.store.window()
    assert event.event_type == "bad_request" and not event.valid
    return event


def violation_of(event: CapturedEvent) -> str:
    [violation] = event.violations
    return f"{violation.keyword}: {violation.message}"


async def test_a_preflight_with_events_in_its_body_is_answered_and_recorded(server: Snowcatcher) -> None:
    answer = await exchange(server, post(TP2, EVENTS, method=b"OPTIONS"))
    assert answer.startswith(b"HTTP/1.1 200") and b"Access-Control-Max-Age" in answer
    event = only_event(server)
    assert re.search(r"endpoint: an OPTIONS request .* its body of \d+ bytes was not read as events",
                     violation_of(event))
    stored = server.store.request(event.request_id)
    assert stored is not None and stored.request.body == EVENTS and stored.request.method == "OPTIONS"


async def test_a_preflight_without_a_body_is_not_recorded(server: Snowcatcher) -> None:
    answer = await exchange(server, b"OPTIONS " + TP2 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200")
    assert server.store.counts().total == 0


async def test_events_sent_to_the_micro_read_api_are_recorded(server: Snowcatcher) -> None:
    answer = await exchange(server, post(b"/micro/all", EVENTS))
    assert answer.startswith(b"HTTP/1.1 200")  # Micro's own answer to the read
    event = only_event(server)
    assert re.search(r"endpoint: /micro/all is snowcatcher's Micro read API.*send them to POST "
                     r"/com\.snowplowanalytics\.snowplow/tp2", violation_of(event))
    stored = server.store.request(event.request_id)
    assert stored is not None and stored.request.body == EVENTS


async def test_a_micro_filter_is_not_recorded(server: Snowcatcher) -> None:
    answer = await exchange(server, post(b"/micro/all", b'{"event_type": "page_view"}'))
    assert answer.startswith(b"HTTP/1.1 200")
    assert server.store.counts().total == 0


async def test_connect_is_answered_404_and_recorded(server: Snowcatcher) -> None:
    answer = await exchange(server, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
                                    b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404") and b"not a proxy" in answer
    event = only_event(server)
    assert re.search(r"endpoint: snowcatcher has no endpoint for CONNECT example\.com:443",
                     violation_of(event))


async def test_a_client_that_hangs_up_mid_body_is_recorded_with_what_came(server: Snowcatcher) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n" + EVENTS[:40])
    await writer.drain()
    writer.transport.abort()  # gone without a word
    async with asyncio.timeout(30):
        while not server.store.counts().total:
            await asyncio.sleep(0.01)
    event = only_event(server)
    assert violation_of(event) == ("incomplete: the client hung up after 40 of 1000 bytes of the body; "
                                   "only they were kept")
    stored = server.store.request(event.request_id)
    assert stored is not None and stored.request.body == EVENTS[:40]


async def test_a_client_that_hangs_up_after_its_whole_body_gets_its_events_stored(
        server: Snowcatcher) -> None:
    # wrk and trackers closing at exit hang up right after sending: a body that came whole is the
    # request as sent, not an incomplete one. Many at once, so that some hang-ups are seen before
    # their handlers read the body (on the previous code those were recorded 'incomplete').
    count = 60

    async def send_and_hang_up() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(post(TP2, EVENTS))
        await writer.drain()
        writer.close()  # no wait for the answer

    await asyncio.gather(*(send_and_hang_up() for _ in range(count)))
    async with asyncio.timeout(30):
        while server.store.counts().total < count:
            await asyncio.sleep(0.01)
    events = server.store.window()
    assert [(event.event_type, event.valid) for event in events] == [("page_view", True)] * count, [
        violation_of(event) for event in events if not event.valid][:3]


async def test_expect_continue_over_the_limit_gets_413_without_100_continue(server: Snowcatcher) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 2000000000\r\nExpect: 100-continue\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413"), head  # not "100 Continue" first
    event = only_event(server)
    assert re.search(r"size: the body of 2000000000 bytes \(Content-Length\) is larger than the limit "
                     r"of 1048576 bytes .* refused before it was sent", violation_of(event))


async def test_expect_continue_within_the_limit_still_gets_100_continue(server: Snowcatcher) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % len(EVENTS))
    await writer.drain()
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(EVENTS)
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    [event] = server.store.window()
    assert event.event_type == "page_view"


@pytest.mark.parametrize("path", [TP2, b"/v1/events"], ids=["tp2", "eventgate"])
@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(EVENTS)[:-12]],
                         ids=["not-gzip", "cut-short"])
async def test_a_body_that_does_not_inflate_is_a_recorded_400(server: Snowcatcher, path: bytes,
                                                              body: bytes) -> None:
    answer = await exchange(server, post(path, body, extra=b"Content-Encoding: gzip\r\n"))
    assert re.match(rb"HTTP/1\.1 400 ", answer), answer[:200]
    assert re.search(r"content-encoding: the body('s gzip data ends before| is not valid gzip)",
                     violation_of(only_event(server)))
