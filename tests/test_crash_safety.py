"""kill -9 in the middle of load, restart on the same --db: every event that was answered 2xx is there."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp

from bench.load import check, drive, free_port, start_server, stored_by_marker, wait_listening


async def test_every_answered_event_survives_kill_9(tmp_path: Path) -> None:
    db, port = tmp_path / "crash.sqlite", free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, db, tmp_path)
    try:
        await asyncio.to_thread(wait_listening, port)
        started = time.monotonic()

        def killed() -> bool:  # the workers stop once the server is gone
            return server.poll() is not None

        async def kill_soon() -> None:
            await asyncio.sleep(2.0)
            os.kill(server.pid, signal.SIGKILL)  # no shutdown, no final commit, no checkpoint

        _, tally = await asyncio.gather(kill_soon(), drive(url, 8.0, 16, stop=killed))
        server.wait(timeout=10)
        assert time.monotonic() - started < 8, "the kill landed in the middle of the load"
        assert tally.events_2xx > 1000, "there was load when it was killed"

        server = start_server(port, db, tmp_path)
        await asyncio.to_thread(wait_listening, port)
        stored = stored_by_marker(db)
        assert check(tally, stored) == []
        assert sum(events for status, events in stored.values() if 200 <= status < 300) >= tally.events_2xx
        # The reopened capture takes new events.
        async with aiohttp.ClientSession() as http, http.get(
                url + "/i", params={"e": "pv", "p": "web", "tv": "js", "m": "after"}) as answer:
            assert answer.status == 200
        assert stored_by_marker(db)["after"] == (200, 1)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
