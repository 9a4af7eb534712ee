"""Requests aiohttp's HTTP parser refuses (over a raw socket) are answered 400 and recorded as bad
requests naming the reason and keeping what was readable of them."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from snowcatcher.capture import unparseable
from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import Settings, Snowcatcher
from tests.raw_http import started

TP2 = b"/com.snowplowanalytics.snowplow/tp2"
HEADERS_2000 = b"".join(b"X-%d: a\r\n" % n for n in range(2000))

#: (name, the bytes sent, the method and path the record shows, the reason it names)
REFUSED = [
    ("bad-chunk-size", b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nabc\r\n0\r\n\r\n", "POST", TP2.decode(), "Invalid character in chunk size"),
    ("content-length-and-chunked", b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST", TP2.decode(),
     "Transfer-Encoding can't be present with Content-Length"),
    ("two-content-lengths", b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello", "POST", TP2.decode(), "Duplicate Content-Length"),
    ("negative-content-length", b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
     b"hello", "POST", TP2.decode(), "Invalid character in Content-Length"),
    ("nul-in-header", b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", "GET", "/i",
     "Invalid header value char"),
    ("bare-cr-in-header", b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", "GET", "/i",
     "Missing expected LF after header value"),
    ("obs-fold", b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n", "GET", "/i",
     "Unexpected whitespace after header value"),
    ("space-before-colon", b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", "GET", "/i",
     "Invalid header token"),
    ("header-200-kb", b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 200_000 + b"\r\n\r\n", "GET", "/i",
     "longer than snowcatcher reads"),
    ("2000-headers", b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\n" + HEADERS_2000 + b"\r\n", "GET", "/i",
     "Too many headers received"),
    ("query-3-mb", b"GET /i?e=pv&x=" + b"a" * 3_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/i",
     "longer than snowcatcher reads"),
    ("raw-non-utf8", b"GET /i?e=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/i",
     "Invalid char in url query"),
    ("lowercase-method", b"get /i?e=pv HTTP/1.1\r\nHost: x\r\n\r\n", "get", "/i", "Invalid method"),
    ("unknown-method", b"FROB /i?e=pv HTTP/1.1\r\nHost: x\r\n\r\n", "FROB", "/i", "Invalid method"),
    ("bare-lf", b"GET /i?e=pv HTTP/1.1\nHost: x\n\n", "GET", "/i", "Expected CRLF after version"),
    ("http11-without-host", b"GET /i?e=pv HTTP/1.1\r\n\r\n", "GET", "/i", "Missing 'Host' header"),
]


@pytest.fixture
async def server() -> AsyncIterator[Snowcatcher]:
    async with started() as catcher:
        yield catcher


async def exchange(server: Snowcatcher, data: bytes) -> bytes:
    """Send `data` on a new connection; the answer, read until the server closes. A server that
    closes while megabytes are still coming resets the connection, which may drop its answer:
    then what arrived before the reset (maybe nothing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    parts: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while part := await reader.read(65536):
                parts.append(part)
    except ConnectionResetError:
        assert len(data) > 65536, "only a request still being sent can be reset"
    finally:
        writer.close()
    return b"".join(parts)


async def only_record(server: Snowcatcher) -> CapturedEvent:
    await server.unparseable.drain()  # the answer goes out first, the record right after
    [event] = server.store.window()
    return event


@pytest.mark.parametrize(("data", "method", "path", "reason"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
async def test_a_request_the_parser_refuses_is_recorded_with_its_reason(
        server: Snowcatcher, data: bytes, method: str, path: str, reason: str) -> None:
    answer = await exchange(server, data)
    if answer or len(data) <= 65536:
        assert re.match(rb"HTTP/1\.[01] 400 ", answer), answer[:200]
        assert reason.encode() in answer and b"not valid HTTP/1.1" in answer, answer[-400:]
    event = await only_record(server)
    assert event.event_type == "bad_request" and not event.valid
    [violation] = event.violations
    assert violation.keyword == "http" and reason in violation.message
    request = server.store.request(event.request_id)
    assert request is not None
    assert (request.request.method, request.request.path) == (method, path)
    assert request.request.body == data[:4096]  # what was readable: its first bytes
    assert "\\" not in violation.message.split("starting", 1)[0]  # no Python bytes reprs
    async with aiohttp.ClientSession() as http, \
            http.get(server.url + "/i", params={"e": "pv", "p": "web", "tv": "x"}) as after:
        assert after.status == 200  # the collector goes on


async def test_the_record_starts_at_the_refused_request_on_a_kept_alive_connection(
        server: Snowcatcher) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    good = b"GET /i?e=pv&p=web&tv=x HTTP/1.1\r\nHost: x\r\n\r\n"
    writer.write(good)
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    await reader.readexactly(43)  # the pixel
    writer.write(b"get /second HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400")
    await server.unparseable.drain()
    newest = server.store.window(newest_first=True, limit=1)[0]
    request = server.store.request(newest.request_id)
    assert request is not None and request.request.body.startswith(b"get /second ")
    assert (request.request.method, request.request.path) == ("get", "/second")


async def test_the_status_counts_the_unparseable_requests(server: Snowcatcher) -> None:
    await exchange(server, b"get / HTTP/1.1\r\nHost: x\r\n\r\n")
    await exchange(server, b"GET / HTTP/1.1\r\n\r\n")
    await server.unparseable.drain()
    async with aiohttp.ClientSession() as http, http.get(server.url + "/snowcatcher/api/status") as answer:
        assert (await answer.json())["unparseable"] == {"refused": 2, "unrecorded": 0}
    assert server.unparseable.alert() == "2 unparseable requests (bad_request)"


async def test_refusals_log_a_counted_line_not_a_traceback_each(
        server: Snowcatcher, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unparseable, "REPORT_EVERY", 1e6)  # the next line would come a long time later
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        await exchange(server, b"get / HTTP/1.1\r\nHost: x\r\n\r\n")
    await server.unparseable.drain()
    assert not [record for record in caplog.records if record.exc_info or record.name.startswith("aiohttp")]
    lines = [record.getMessage() for record in caplog.records
             if record.name == "snowcatcher.capture.unparseable"]
    assert lines == ["refused 1 request(s) that are not valid HTTP (latest: Invalid method encountered); "
                     "each is recorded as a bad request"]


async def test_a_bad_chunk_size_mid_body_is_recorded_at_once_with_the_bytes_before_it(
        caplog: pytest.LogCaptureFixture) -> None:
    # A body timeout of an hour: waiting for the rest of the body would fail the test.
    server = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, body_timeout=3600))
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        # "100 Continue" says the headers were parsed and the request is being handled; the bad
        # chunk size comes after (sent with them, the whole request is refused as unparseable).
        writer.write(b"POST " + TP2 + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"5\r\nhello\r\nzz\r\nabc\r\n0\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 60)  # answered, and the connection closed
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        [event] = server.store.window()
        [violation] = event.violations
        assert (violation.keyword, violation.message) == (
            "incomplete", "the body is not valid HTTP (Invalid character in chunk size) after 5 of an "
            "unknown number of bytes of the body; only they were kept")
        await server.unparseable.drain()
        assert server.store.counts().total == 1  # not recorded a second time as unparseable
        assert not [record for record in caplog.records if record.exc_info]
    finally:
        await server.stop()
