"""Sustained mixed load against a real snowcatcher process, then an exact count of what was kept.

    python bench/load.py [--seconds 60] [--connections 24] [--events N]

The mix, per round of eight requests: two tp2 POSTs of 20 GitLab events, a POST of 10 with two
bad ones, a good and a bad GET /i, a valid and an invalid EventGate batch of 5, and a body that is
not JSON. snowcatcher runs as users run it (`--headless`, output to /dev/null) with `--db`.
Afterwards: events answered 2xx == events stored for 2xx answers, every request accounted for,
/micro/all's total == the Snowplow events stored (Micro counts no others),
p50/p99 answer latency, the server's peak RSS and its RSS after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import free_port, pin, wait_listening  # noqa: E402
from snowcatcher.protocols.snowplow import samples  # noqa: E402

TP2 = "/com.snowplowanalytics.snowplow/tp2"
JSON = {"Content-Type": "application/json"}
IGLU = ROOT.parent / "shared" / "corpus" / "iglu"
EG_SCHEMA = "/bench/load/1.0.0"


@dataclass(frozen=True, slots=True)
class Shot:
    """One request of the mix and how many events the collector must store for it."""

    method: str
    path: str
    body: bytes
    params: dict[str, str]
    events: int


@dataclass
class Tally:
    """What the client saw: per request marker, the status and the events it carried."""

    answered: dict[str, tuple[int, int]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failed: int = 0

    @property
    def events_2xx(self) -> int:
        return sum(events for status, events in self.answered.values() if 200 <= status < 300)


def wikimedia_repo(folder: Path) -> Path:
    """A one-schema Wikimedia repository, so that EventGate events validate offline."""
    target = folder / "wikimedia" / "jsonschema" / "bench" / "load" / "1.0.0.json"
    target.parent.mkdir(parents=True)
    target.write_text(orjson.dumps({"$schema": "http://json-schema.org/draft-07/schema#",
                                    "type": "object", "required": ["n"],
                                    "properties": {"n": {"type": "integer"}}}).decode())
    return folder / "wikimedia"


def mix(variants: int = 50) -> list[Shot]:
    """The rounds of the mix, with distinct event ids like real trackers send."""
    shots: list[Shot] = []
    for index in range(variants):
        good = [samples.gitlab_struct_event(f"i_load_{(index + n) % 9}") for n in range(20)]
        bad = [{**samples.page_view(), **({"e": "zz"} if n < 2 else {})} for n in range(10)]
        eg_good = [{"$schema": EG_SCHEMA, "meta": {"stream": "bench"}, "n": n, "wiki": "w"} for n in range(5)]
        eg_bad = [{**event, "n": "not a number"} for event in eg_good]
        shots += [
            Shot("POST", TP2, samples.body(*good), {}, 20),
            Shot("POST", TP2, samples.body(*good[::-1]), {}, 20),
            Shot("POST", TP2, samples.body(*bad), {}, 10),
            Shot("GET", "/i", b"", samples.page_view(), 1),
            Shot("GET", "/i", b"", {**samples.page_view(), "cx": "!!!"}, 1),
            Shot("POST", "/v1/events", orjson.dumps(eg_good), {}, 5),
            Shot("POST", "/v1/events", orjson.dumps(eg_bad), {}, 5),
            Shot("POST", TP2, b'{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data', {}, 1),
        ]
    return shots


async def drive(url: str, seconds: float, connections: int, *, max_events: int | None = None,
                stop: Callable[[], bool] = lambda: False) -> Tally:
    """Send the mix from `connections` workers until time, the event budget or `stop()` ends it."""
    tally = Tally()
    shots = itertools.cycle(mix())
    deadline = time.monotonic() + seconds
    sent = itertools.count()
    budget = {"events": 0}
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)

    async def worker(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline and not stop():
            if max_events is not None and budget["events"] >= max_events:
                return
            shot = next(shots)
            budget["events"] += shot.events
            await one(http, url, shot, f"r{next(sent)}", tally)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(connections)))
    return tally


async def one(http: aiohttp.ClientSession, url: str, shot: Shot, marker: str, tally: Tally) -> None:
    # Every request carries its marker in the query string, which the store keeps verbatim.
    params = {**shot.params, "m": marker}
    started = time.perf_counter()
    try:
        async with http.request(shot.method, url + shot.path, params=params,
                                data=shot.body or None, headers=JSON if shot.body else None) as answer:
            await answer.read()
            status = answer.status
    except (TimeoutError, aiohttp.ClientError, OSError):
        tally.failed += 1  # never answered: it may or may not be stored, and need not be
        return
    tally.latencies.append(time.perf_counter() - started)
    tally.answered[marker] = (status, shot.events)


# -- the server and the store ------------------------------------------------------------------




def start_server(port: int, db: Path, folder: Path) -> subprocess.Popen[bytes]:
    schemas = ["--schemas", str(wikimedia_repo(folder))] if not (folder / "wikimedia").exists() else [
        "--schemas", str(folder / "wikimedia")]
    if IGLU.is_dir():
        schemas += ["--schemas", str(IGLU)]
    command = [sys.executable, "-m", "snowcatcher", "--headless", "--offline", "--port", str(port),
               "--db", str(db), *schemas]
    return subprocess.Popen(pin(1) + command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)






def stored_by_marker(db: Path) -> dict[str, tuple[int, int]]:
    """Per request marker: the status snowcatcher answered and the events it stored."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT requests.query, requests.status, count(events.id) FROM requests "
            "LEFT JOIN events ON events.request_id = requests.id GROUP BY requests.id").fetchall()
    found = {}
    for query, status, events in rows:
        marker = next((part[2:] for part in query.split("&") if part.startswith("m=")), None)
        if marker:
            found[marker] = (status, events)
    return found


def stored_total(db: Path, protocol: str | None = None) -> int:
    """Events in the store, of one protocol or all."""
    where, args = (" WHERE protocol = ?", (protocol,)) if protocol else ("", ())
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return int(connection.execute(f"SELECT count(*) FROM events{where}", args).fetchone()[0])


def micro_total(url: str) -> int:
    """`/micro/all`'s total: Micro counts Snowplow events only, so it is compared with those."""
    with urllib.request.urlopen(url + "/micro/all", timeout=30) as answer:
        return int(orjson.loads(answer.read())["total"])


def memory(pid: int) -> tuple[int, int]:
    """The process's peak and current resident set, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
              if line.startswith(("VmHWM", "VmRSS"))}
    return values["VmHWM"] // 1024, values["VmRSS"] // 1024


def check(tally: Tally, stored: dict[str, tuple[int, int]]) -> list[str]:
    """Every way the store disagrees with what the client was told."""
    problems = []
    for marker, (status, events) in tally.answered.items():
        kept = stored.get(marker)
        if 200 <= status < 300 and (kept is None or kept[1] != events):
            problems.append(f"{marker}: answered {status} for {events} events, stored {kept}")
    return problems


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--events", type=int, default=None, help="stop after sending this many events")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the client on one core, the server (pinned) on the other
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db, port = folder / "load.sqlite", free_port()
        server = start_server(port, db, folder)
        try:
            wait_listening(port)
            url = f"http://127.0.0.1:{port}"
            started = time.monotonic()
            tally = asyncio.run(drive(url, args.seconds, args.connections, max_events=args.events))
            took = time.monotonic() - started
            peak, _ = memory(server.pid)
            time.sleep(2)  # idle: what the process keeps once the load is over
            _, after = memory(server.pid)
            stored = stored_by_marker(db)
            problems = check(tally, stored)
            stored_2xx = sum(events for status, events in stored.values() if 200 <= status < 300)
            total, snowplow, micro = stored_total(db), stored_total(db, "snowplow"), micro_total(url)
        finally:
            server.terminate()
            server.wait(timeout=30)
    sent = sum(events for _, events in tally.answered.values())
    print(f"{took:.1f} s, {len(tally.answered):,} requests answered ({tally.failed} unanswered), "
          f"{sent:,} events = {sent / took:,.0f} events/s ({len(tally.answered) / took:,.0f} requests/s)")
    print(f"events answered 2xx: {tally.events_2xx:,}; stored for 2xx answers: {stored_2xx:,}; "
          f"events stored in all: {total:,} (answered in all: {sent:,})")
    print(f"/micro/all total: {micro:,}; Snowplow events in the store: {snowplow:,}")
    print(f"answer latency p50 {percentile(tally.latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(tally.latencies, 0.99) * 1000:.1f} ms")
    print(f"server RSS: peak {peak} MiB, after the run {after} MiB with {total:,} events stored")
    exact = tally.events_2xx == stored_2xx and not problems and total == sent and micro == snowplow
    print("exact: " + ("yes" if exact else "NO\n" + "\n".join(problems[:20])))
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
