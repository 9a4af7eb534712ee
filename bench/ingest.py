"""Ingest throughput and server CPU per event of snowcatcher against a bare aiohttp handler, one run.

    python bench/ingest.py [--seconds 5] [--rounds 3] [--connections 32]

Both servers run as separate processes pinned to one core, wrk to the other. snowcatcher runs as
users run it (`--headless`, output to /dev/null) with GitLab's schemas from ../shared/corpus/iglu
and Wikimedia's secondary schemas (homepagevisit 1.2.1), so every event is fully validated, and
stores into a SQLite file that is counted afterwards. Workloads: Snowplow tp2 POSTs of 1 and 10
GitLab events with contexts, and EventGate `POST /v1/events` of 1 event and an array of 10.
The server's CPU time (user + system, from /proc) over the timed run, per event, is printed
beside each ratio, and snowcatcher's start-up: from starting the process until its port
answers. Targets (issue 16): Wikimedia array of 10 at most 60 us CPU per event, Wikimedia 1 event
at least 0.5x bare requests/s, tp2 1 event at least 0.5x and 10 events at least 1.5x bare
requests/s in events/s, start-up under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import free_port, pin, wait_listening  # noqa: E402
from snowcatcher.protocols.snowplow import samples  # noqa: E402

IGLU = ROOT.parent / "shared" / "corpus" / "iglu"
WIKIMEDIA = ROOT.parent / "shared" / "corpus" / "wikimedia" / "schemas-event-secondary"
HOMEPAGEVISIT = WIKIMEDIA / "jsonschema" / "analytics" / "legacy" / "homepagevisit" / "1.2.1.json"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
EVENTGATE = "/v1/events"


def tp2_bodies(events_per_request: int, variants: int = 200) -> list[str]:
    """tp2 POST bodies of GitLab structured events with their contexts, distinct event ids."""
    bodies = []
    for index in range(variants):
        actions = [f"i_bench_action_{(index + n) % 7}" for n in range(events_per_request)]
        bodies.append(samples.body(*(samples.gitlab_struct_event(action) for action in actions)).decode())
    return bodies


def eventgate_bodies(events_per_request: int, variants: int = 200) -> list[str]:
    """EventGate bodies of homepagevisit 1.2.1 events (its schema's own example), distinct ids;
    one event alone as an object, as EventLogging's client sends it, else an array."""
    example = json.loads(HOMEPAGEVISIT.read_text())["examples"][0]
    bodies = []
    for index in range(variants):
        events = []
        for n in range(events_per_request):
            event = json.loads(json.dumps(example))
            event["meta"]["id"] = f"b0caf18d-6c7f-4403-947d-{index * 100 + n:012d}"
            event["event"]["user_editcount"] = index + n
            events.append(event)
        bodies.append(json.dumps(events[0] if events_per_request == 1 else events))
    return bodies


def lua_script(folder: Path, name: str, bodies: list[str]) -> Path:
    """A wrk script cycling through bodies with distinct event ids, like a real tracker's."""
    quoted = ["[==[" + body + "]==]" for body in bodies]
    path = folder / f"{name}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json; charset=UTF-8"\n'
        f"local bodies = {{{', '.join(quoted)}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\n"
        "end\n")
    return path


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    per_request: int
    script: Path


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    cpu_us_per_event: float
    #: Seconds from starting the process until its port answered.
    startup: float


def run_wrk(port: int, path: str, script: Path, seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and the number of non-2xx answers."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
               f"http://127.0.0.1:{port}{path}"]
    output = subprocess.run(pin(0) + command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, int(errors.group(1)) if errors else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (taskset execs the server: same pid)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: list[str], port: int, work: Workload, args: argparse.Namespace) -> Result:
    started = time.perf_counter()
    process = subprocess.Popen(pin(1) + server, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port, poll=0.002)
        startup = time.perf_counter() - started
        run_wrk(port, work.path, work.script, 2, args.connections)  # warm-up: caches, page faults
        before = cpu_seconds(process.pid)
        rate, errors = run_wrk(port, work.path, work.script, args.seconds, args.connections)
        spent = cpu_seconds(process.pid) - before
    finally:
        process.terminate()
        process.wait(timeout=10)
    if errors:
        raise SystemExit(f"{work.name}: {errors} answers were not 2xx")
    return Result(rate, spent / (rate * args.seconds * work.per_request) * 1e6, startup)


def snowcatcher_command(port: int, db: Path, launcher: tuple[str, ...] = ("-m", "snowcatcher")
                        ) -> list[str]:
    """snowcatcher as the benches run it: headless, offline, with the corpus's schemas, on `port`;
    `launcher` may name a script that runs it otherwise (bench/store_nothing.py)."""
    return [sys.executable, *launcher, "--headless", "--offline", "--port", str(port), "--schemas",
            str(IGLU), "--schemas", str(WIKIMEDIA), "--db", str(db)]


def snowcatcher_run(folder: Path, work: Workload, round_number: int, args: argparse.Namespace) -> Result:
    """snowcatcher on a fresh file, after checking that every event was stored valid."""
    port = free_port()
    db = folder / f"{work.name.replace(' ', '-')}-{round_number}.sqlite"
    result = measure(snowcatcher_command(port, db), port, work, args)
    with sqlite3.connect(db) as connection:
        invalid = connection.execute("SELECT count(*) FROM events WHERE valid != 1").fetchone()[0]
        example = connection.execute("SELECT violations FROM events WHERE valid != 1 LIMIT 1").fetchone()
    if invalid:
        raise SystemExit(f"{work.name}: {invalid} events were not valid; the bench sends valid ones "
                         f"(the first one's violations: {example[0]})")
    return result


#: (workload, the ratio to bare requests/s it must reach (in events/s), the CPU us/event it may use).
TARGETS = {"tp2 1 event": (0.5, None), "tp2 10 events": (1.5, None),
           "wikimedia 1 event": (0.5, None), "wikimedia 10 events": (None, 60.0)}


def arguments(description: str, seconds: int) -> argparse.Namespace:
    """The options the ingest benches share, once wrk and the corpus's schemas are found."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=int, default=seconds)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if not IGLU.is_dir() or not HOMEPAGEVISIT.is_file():
        raise SystemExit(f"the schemas are read from {IGLU} and {WIKIMEDIA}; they are missing")
    return args


def workloads(folder: Path) -> list[Workload]:
    """The four workloads of TARGETS, their wrk scripts written into `folder`."""
    return [Workload("tp2 1 event", TP2, 1, lua_script(folder, "tp2-1", tp2_bodies(1))),
            Workload("tp2 10 events", TP2, 10, lua_script(folder, "tp2-10", tp2_bodies(10))),
            Workload("wikimedia 1 event", EVENTGATE, 1,
                     lua_script(folder, "eventgate-1", eventgate_bodies(1))),
            Workload("wikimedia 10 events", EVENTGATE, 10,
                     lua_script(folder, "eventgate-10", eventgate_bodies(10)))]


def main() -> None:
    args = arguments(__doc__.splitlines()[0], seconds=5)
    ratios: dict[str, list[float]] = {name: [] for name in TARGETS}
    cpu: dict[str, list[float]] = {name: [] for name in [*TARGETS, "bare"]}
    startups: list[float] = []
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        work_list = workloads(folder)
        # A shared machine's speed drifts by a third within minutes: each round measures all
        # of them back to back, and the ratios come from the same round.
        for round_number in range(1, args.rounds + 1):
            port = free_port()
            bare = measure([sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port)], port,
                           Workload("bare", TP2, 1, work_list[0].script), args)
            cpu["bare"].append(bare.cpu_us_per_event)
            shown = [f"bare aiohttp {bare.requests_per_second:,.0f} requests/s "
                     f"({bare.cpu_us_per_event:,.0f} us CPU/request)"]
            for work in work_list:
                result = snowcatcher_run(folder, work, round_number, args)
                events = result.requests_per_second * work.per_request
                ratios[work.name].append(events / bare.requests_per_second)
                cpu[work.name].append(result.cpu_us_per_event)
                startups.append(result.startup)
                shown.append(f"{work.name} {events:,.0f} events/s = {ratios[work.name][-1]:.2f}x, "
                             f"{result.cpu_us_per_event:,.0f} us CPU/event")
            print(f"round {round_number}: " + "; ".join(shown), flush=True)
    print(f"medians of {args.rounds} rounds (bare aiohttp {statistics.median(cpu['bare']):,.0f} us "
          "CPU/request):")
    for name, (ratio_target, cpu_target) in TARGETS.items():
        ratio, spent = statistics.median(ratios[name]), statistics.median(cpu[name])
        verdicts = []
        if ratio_target is not None:
            verdicts.append(f"target >= {ratio_target}x: {'met' if ratio >= ratio_target else 'NOT met'}")
        if cpu_target is not None:
            verdicts.append(f"target <= {cpu_target:.0f} us: {'met' if spent <= cpu_target else 'NOT met'}")
        print(f"  {name}: {ratio:.2f}x bare requests/s in events/s, {spent:,.0f} us server CPU per "
              f"event ({'; '.join(verdicts)})")
    startup = statistics.median(startups)
    print(f"  start-up until the port answers: {startup:.3f} s (median of {len(startups)}; "
          f"target < 0.5 s: {'met' if startup < 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
