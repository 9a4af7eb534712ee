"""The header line warns about trouble capture keeps going through: a capture file's deleted log."""

from __future__ import annotations

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
