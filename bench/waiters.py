"""Ingest rate with many waits and live streams open (issue 13, section 4).

    python bench/waiters.py [--seconds 10] [--clients 300]

Starts the real server (`--headless --offline`, a fresh `--db`), then for each row opens the
waiters from one process (raw sockets: a `wait` that never matches, or a live stream that reads
and discards what it gets) and sends one-event tp2 POSTs from eight connections of another
process for `--seconds`, and prints the events stored per second, the ratio to the row with no
waiters (target: at least 0.8) and the server's CPU time per stored event (from /proc: what the
waiters cost the server itself, apart from the clients competing for the same cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import cpu_seconds  # noqa: E402
from bench.support import free_port, wait_listening  # noqa: E402
from snowcatcher.protocols.snowplow import samples  # noqa: E402

TP2 = "/com.snowplowanalytics.snowplow/tp2"
API = "/snowcatcher/api"
SENDERS = 8
TARGET = 0.8


def _hold(port: int, path: str, clients: int, opened: Any, stopping: Any) -> None:
    """Open `clients` connections asking for `path` and read whatever comes until stopped."""

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        try:
            while await reader.read(1 << 16):
                pass
        finally:
            writer.close()

    async def run() -> None:
        tasks = [asyncio.ensure_future(one()) for _ in range(clients)]
        while waiting(port) < clients:
            await asyncio.sleep(0.1)
        opened.set()
        while not stopping.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()

    asyncio.run(run())


def waiting(port: int) -> int:
    """The waits and streams the server has open."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{API}/status") as answer:
        return sum(json.loads(answer.read())["waiters"].values())


def _send(port: int, seconds: float, results: Any) -> None:
    """One-event tp2 POSTs back to back from SENDERS connections; puts the events stored."""
    body = samples.body(samples.page_view())

    async def sender(http: aiohttp.ClientSession, deadline: float) -> int:
        stored = 0
        while time.monotonic() < deadline:
            async with http.post(f"http://127.0.0.1:{port}{TP2}", data=body,
                                 headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
                stored += answer.status == 200
        return stored

    async def run() -> int:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + seconds
            return sum(await asyncio.gather(*(sender(http, deadline) for _ in range(SENDERS))))

    results.put(asyncio.run(run()))


def ingest_rate(port: int, pid: int, seconds: float, path: str | None, clients: int) -> tuple[float, float]:
    """Events stored per second with `clients` of `path` open, and the server's CPU us per event."""
    opened, stopping = multiprocessing.Event(), multiprocessing.Event()
    holder = None
    if path is not None:
        holder = multiprocessing.Process(target=_hold, args=(port, path, clients, opened, stopping))
        holder.start()
        if not opened.wait(120):
            raise SystemExit(f"{clients} clients of {path} did not open in 120 s")
    results: multiprocessing.Queue[int] = multiprocessing.Queue()
    sender = multiprocessing.Process(target=_send, args=(port, seconds, results))
    started, cpu = time.monotonic(), cpu_seconds(pid)
    sender.start()
    stored = results.get(timeout=seconds + 120)
    took, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu
    sender.join()
    if holder is not None:
        stopping.set()
        holder.join()
        while waiting(port):  # the clients hung up: the server lets their waiters go
            time.sleep(0.1)
    return stored / took, cpu * 1e6 / max(stored, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each row sends")
    parser.add_argument("--clients", type=int, default=300, help="waits or streams per row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        command = [sys.executable, "-m", "snowcatcher", "--headless", "--offline", "--port", str(port),
                   "--db", str(Path(folder) / "waiters.sqlite")]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_listening(port)
            n = args.clients
            rows = [("no waiters", None),
                    (f"{n} waits (filter name:never)", f"{API}/wait?filter=name:never&timeout=600"),
                    (f"{n} waits (free text: one query per batch)", f"{API}/wait?filter=never&timeout=600"),
                    (f"{n} streams (filter name:never)", f"{API}/stream?filter=name:never"),
                    (f"{n} streams of every event", f"{API}/stream")]
            print(f"one-event tp2 POSTs from {SENDERS} connections, {args.seconds:g} s per row:")
            print(f"{'with':<44} {'events/s':>9} {'ratio':>6} {'server CPU/event':>17}")
            baseline = 0.0
            for name, path in rows:
                rate, cpu = ingest_rate(port, server.pid, args.seconds, path, n)
                baseline = baseline or rate
                ratio = rate / baseline
                print(f"{name:<44} {rate:>9.0f} {ratio:>6.2f} {cpu:>14,.0f} us"
                      f"{'' if ratio >= TARGET else f'  (under {TARGET:g})'}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
