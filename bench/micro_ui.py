"""How long Micro's UI API (/micro/events, columns, columnStats, timeline) takes on a big store.

    python bench/micro_ui.py [--events 1000000] [--db /tmp/snowcatcher-bench-1m.sqlite] [--rounds 5]

Fills (or reuses) a store with `--events` realistic events (bench/fill.py), serves it with the real
server on loopback, and prints the median and worst answer time of each request Micro's UI makes
as it polls: the first page, a deep page, filtered pages, the column list and stats, the timeline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fill import fill
from snowcatcher.runtime import Settings, Snowcatcher

EVENTS = "/micro/events"


def requests(newest_ms: float) -> list[tuple[str, str, Any]]:
    page = {"filters": [], "page": 1, "pageSize": 50}
    hour = [{"start": newest_ms - 3_600_000 + n * 60_000, "end": newest_ms - 3_540_000 + n * 60_000}
            for n in range(60)]
    return [
        ("first page", EVENTS, page),
        ("page 1000", EVENTS, {**page, "page": 1000}),
        ("failed only", EVENTS, {**page, "validEvents": False}),
        ("app_id filter", EVENTS, {**page, "filters": [{"column": "app_id", "values": ["gitlab"]}]}),
        ("event filter", EVENTS, {**page, "filters": [{"column": "event", "values": ["page_view"]}]}),
        ("event_name filter", EVENTS, {**page, "filters": [{"column": "event_name",
                                                             "values": ["link_click"]}]}),
        ("last 10 minutes", EVENTS, {**page, "timeRange": {"start": newest_ms - 600_000}}),
        ("columns", "/micro/columns", None),
        ("columnStats", "/micro/columnStats", {"columns": ["app_id", "event", "event_name", "platform"]}),
        ("timeline, 60 buckets", "/micro/timeline", {"buckets": hour}),
    ]


async def measure(base: str, rounds: int, newest_ms: float) -> None:
    async with aiohttp.ClientSession() as http:
        for label, path, body in requests(newest_ms):
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                async with http.request("GET" if body is None else "POST", base + path, json=body) as answer:
                    await answer.read()
                    assert answer.status == 200, (label, answer.status)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{label:24} median {statistics.median(times):7.1f} ms   worst {max(times):7.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/snowcatcher-bench-1m.sqlite"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = fill(args.db, args.events)
    newest = store.window(None, 0, 1, newest_first=True)[0].received_at
    store.close()
    server = Snowcatcher(Settings(port=0, offline=True, db=args.db, cache_dir=None))
    await server.start()
    try:
        print(f"{args.events:,} events in {args.db}")
        await measure(server.url, args.rounds, newest * 1000)
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
