"""How long a tracker's one-event GET waits while one big request or read runs (issue 13, section 2).

    python bench/stalls.py [--events 100000] [--seconds 8]

Starts the real server (`--headless --offline`, GitLab's schemas when ../shared/corpus/iglu is
there) on a store filled with `--events` events, then runs each row of the issue's table while a
thread sends one-event GETs back to back on a kept-alive connection, and prints the GETs' p50, p99
and worst answer time per row (target: p99 under 50 ms), and the longest step of the server's
event loop in CPU time (bench/loop_steps.py: on a shared machine the answer times also count the
moments the processes waited for a core; the loop step does not). Runs in a few minutes at most.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fill import fill  # noqa: E402
from bench.support import free_port, wait_listening  # noqa: E402
from snowcatcher.protocols.snowplow.samples import PAYLOAD_DATA  # noqa: E402

IGLU = ROOT.parent / "shared" / "corpus" / "iglu"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
PIXEL = "/i?e=pv&tv=js-4.6.1&p=web&aid=bench"
TARGET = 0.050


class Prober:
    """One-event GETs back to back from another process (so that the load's client does not
    slow it down), each answer's wait recorded, until stopped."""

    def __init__(self, port: int) -> None:
        self._stopping = multiprocessing.Event()
        self._results: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
        self._process = multiprocessing.Process(target=_probe, daemon=True,
                                                args=(port, self._stopping, self._results))
        self._process.start()

    def stop(self) -> list[float]:
        self._stopping.set()
        waits = self._results.get(timeout=120)
        self._process.join()
        return waits


def _probe(port: int, stopping: Any, results: Any) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    waits: list[float] = []
    while not stopping.is_set():
        started = time.perf_counter()
        try:
            connection.request("GET", PIXEL)
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        waits.append(time.perf_counter() - started)
        time.sleep(0.005)  # a tracker sends now and then, not in a tight loop
    results.put(waits)


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> int:
    """Send one request and read its whole answer; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    while answer.read(1 << 20):
        pass
    connection.close()
    return answer.status


def bomb(inflated: int) -> bytes:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    return b"".join(squeezer.compress(block) for _ in range(inflated >> 20)) + squeezer.flush()


def import_line(events: int) -> bytes:
    """An NDJSON capture holding one tp2 request of `events` events."""
    body = orjson.dumps({"schema": PAYLOAD_DATA, "data": [{"e": "pv", "tv": "js", "p": "web"}] * events})
    stored = {"request": {"method": "POST", "path": TP2, "query": "", "received_at": time.time(),
                          "headers": [["Content-Type", "application/json"]],
                          "body": {"text": body.decode(), "encoding": "utf-8"}, "remote": ""}}
    return orjson.dumps({"request_id": 1, "request": stored}) + b"\n"


def rows(port: int, seconds: float) -> list[tuple[str, Callable[[], object]]]:
    json = {"Content-Type": "application/json"}
    tp2 = orjson.dumps({"schema": PAYLOAD_DATA, "data": [{"e": "pv"}] * 80_000})
    objects = b"[" + b",".join([b"{}"] * 100_000) + b"]"
    numbers = b"[" + b",".join([b"1"] * 250_000) + b"]"
    capture = import_line(60_000)
    bombs = [bomb(1 << 30)] * 4

    def poll_micro_good() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            request(port, "GET", "/micro/good")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    def parallel(*jobs: Callable[[], object]) -> None:
        threads = [threading.Thread(target=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    gzip_json = {**json, "Content-Encoding": "gzip"}
    return [
        ("nothing else (baseline)", lambda: time.sleep(2)),
        ("GET /micro/good once", lambda: request(port, "GET", "/micro/good")),
        (f"GET /micro/good every second for {seconds:g} s", poll_micro_good),
        ("export.ndjson", lambda: request(port, "GET", "/snowcatcher/api/export.ndjson")),
        ("export.har", lambda: request(port, "GET", "/snowcatcher/api/export.har")),
        ("1 MB tp2 body of 80,000 {\"e\":\"pv\"}", lambda: request(port, "POST", TP2, tp2, json)),
        ("EventGate array of 100,000 {}", lambda: request(port, "POST", "/v1/events", objects, json)),
        ("EventGate array of 250,000 numbers", lambda: request(port, "POST", "/v1/events", numbers, json)),
        ("import of one 60,000-event request",
         lambda: request(port, "POST", "/snowcatcher/api/import", capture)),
        ("four 1 MB gzip bodies inflating to 1 GB each",
         lambda: parallel(*(partial(request, port, "POST", TP2, body, gzip_json) for body in bombs))),
        ("a small gzip body (sanity)", lambda: request(port, "POST", TP2, gzip.compress(tp2[:200]),
                                                       gzip_json)),
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def longest_step(log: Path, start: float, end: float) -> float:
    """The most CPU one event-loop step took between two monotonic times (0 if none was noted)."""
    longest = 0.0
    for line in log.read_text().splitlines() if log.exists() else []:
        at, took = map(float, line.split())
        if start <= at <= end:
            longest = max(longest, took)
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the store first")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long the poller polls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "stalls.sqlite"
        fill(db, args.events).close()
        port = free_port()
        steps = Path(folder) / "loop-steps.log"
        command = [sys.executable, str(ROOT / "bench" / "loop_steps.py"), str(steps), "--headless",
                   "--offline", "--port", str(port), "--db", str(db),
                   *(["--schemas", str(IGLU)] if IGLU.is_dir() else [])]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_listening(port)
            urllib.request.urlopen(f"http://127.0.0.1:{port}{PIXEL}").read()  # warm up
            print(f"{args.events:,} events stored; one-event GET answer times while each runs:")
            print(f"{'while':<48} {'took':>7} {'GETs':>5} {'p50':>8} {'p99':>8} {'worst':>8} "
                  f"{'loop step':>10}")
            for name, load in rows(port, args.seconds):
                prober = Prober(port)
                time.sleep(0.2)  # the prober's first GET is out
                started, began = time.perf_counter(), time.monotonic()
                load()
                took = time.perf_counter() - started
                waits = prober.stop() or [float("nan")]
                p99 = percentile(waits, 0.99)
                step = longest_step(steps, began, time.monotonic())
                print(f"{name:<48} {took:>6.1f}s {len(waits):>5} {statistics.median(waits) * 1000:>6.1f}ms "
                      f"{p99 * 1000:>6.1f}ms {max(waits) * 1000:>6.1f}ms {step * 1000:>8.1f}ms"
                      f"{'' if p99 < TARGET else '  (p99 over 50 ms)'}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
