"""The header line warns about trouble capture keeps going through: a capture file's deleted log,
requests that were not valid HTTP."""

from __future__ import annotations

import asyncio
import os

import aiohttp

from snowcatcher.tui.app import SnowcatcherApp
from tests.tui.pilot import SIZE, status, until


async def test_a_deleted_log_is_named_in_the_header(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        url = f"{live.server.url}/i?e=pv&p=web&tv=x"
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            assert answer.status == 200
        os.unlink(f"{live.store.path}-wal")
        await until(pilot, lambda: "⚠ capture file:" in status(live))
        assert f"{live.store.path.name}-wal deleted while snowcatcher was running" in status(live)


async def test_unparseable_requests_are_counted_in_the_header(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", live.server.port)
        writer.write(b"FROB / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 30)).startswith(b"HTTP/1.0 400")
        writer.close()
        await until(pilot, lambda: "⚠ 1 unparseable request (bad_request)" in status(live))
