"""Requests the collector refused (over a size limit) keep their verdict when events are checked again."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from snowcatcher.capture.collector import MAX_HEADER_COUNT
from snowcatcher.runtime import Settings, Snowcatcher


async def test_refused_requests_keep_their_size_violation(tmp_path: Path) -> None:
    server = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, max_body=1024))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/i?e=pv&tv=js-3&p=web&url=" + "x" * 2000) as answer:
                assert answer.status == 414
            headers = {f"X-Extra-{n}": "1" for n in range(MAX_HEADER_COUNT + 1)}
            async with http.get(server.url + "/i?e=pv&tv=js-3&p=web", headers=headers) as answer:
                assert answer.status == 431
        ids = [server.store.last_id() - 1, server.store.last_id()]
        # both ways events are checked again: `r` (every event) and a schema that arrived late
        await server.revalidate()
        await server.unresolved.revalidate(ids)
        for event_id in ids:
            event = server.store.get(event_id)
            assert event is not None and [v.keyword for v in event.violations] == ["size"]
    finally:
        await server.stop()
