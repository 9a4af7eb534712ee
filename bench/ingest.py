"""Ingest throughput of snowcatcher against a bare aiohttp handler, measured with wrk in one run.

    python bench/ingest.py [--seconds 5] [--rounds 3] [--connections 32]

Both servers run as separate processes pinned to one core, wrk to the other. snowcatcher runs as
users run it (`--headless`, output to /dev/null) with GitLab's schemas from ../shared/corpus/iglu,
so every event is fully validated, and stores into a SQLite file that is counted afterwards.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import free_port, pin, wait_listening  # noqa: E402
from snowcatcher.protocols.snowplow import samples  # noqa: E402

IGLU = ROOT.parent / "shared" / "corpus" / "iglu"
TP2 = "/com.snowplowanalytics.snowplow/tp2"


def lua_script(folder: Path, events_per_request: int, variants: int = 200) -> Path:
    """A wrk script cycling through bodies with distinct event ids, like a real tracker's."""
    bodies = []
    for index in range(variants):
        actions = [f"i_bench_action_{(index + n) % 7}" for n in range(events_per_request)]
        body = samples.body(*(samples.gitlab_struct_event(action) for action in actions))
        bodies.append("[==[" + body.decode() + "]==]")
    path = folder / f"post_{events_per_request}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json; charset=UTF-8"\n'
        f"local bodies = {{{', '.join(bodies)}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\n"
        "end\n")
    return path


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and the number of non-2xx answers."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
               f"http://127.0.0.1:{port}{TP2}"]
    output = subprocess.run(pin(0) + command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, int(errors.group(1)) if errors else 0


def measure(name: str, server: list[str], port: int, script: Path, args: argparse.Namespace) -> float:
    process = subprocess.Popen(pin(1) + server, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
        run_wrk(port, script, 2, args.connections)  # warm-up: caches, JIT-free but page faults
        rate, errors = run_wrk(port, script, args.seconds, args.connections)
    finally:
        process.terminate()
        process.wait(timeout=10)
    if errors:
        raise SystemExit(f"{name}: {errors} answers were not 2xx")
    return rate


def snowcatcher_rate(label: str, folder: Path, name: str, script: Path, per_request: int,
                     args: argparse.Namespace) -> float:
    """Requests/s of snowcatcher on a fresh file, after checking that every event was valid."""
    port = free_port()
    db = folder / f"{name}.sqlite"
    command = [sys.executable, "-m", "snowcatcher", "--headless", "--offline", "--port",
               str(port), "--schemas", str(IGLU), "--db", str(db)]
    rate = measure(label, command, port, script, args)
    with sqlite3.connect(db) as connection:
        invalid = connection.execute("SELECT count(*) FROM events WHERE valid = 0").fetchone()[0]
    if invalid:
        raise SystemExit(f"{label}: {invalid} events were invalid; the bench sends valid ones")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if not IGLU.is_dir():
        raise SystemExit(f"GitLab's schemas are read from {IGLU}; it is missing")
    single: list[float] = []
    batched: list[float] = []
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        one, ten = lua_script(folder, 1), lua_script(folder, 10)
        # A shared machine's speed drifts by a third within minutes: each round measures all
        # three back to back, and the ratios come from the same round.
        for round_number in range(1, args.rounds + 1):
            port = free_port()
            bare = measure("bare", [sys.executable, str(ROOT / "bench" / "bare_server.py"),
                                    str(port)], port, one, args)
            rate_one = snowcatcher_rate("1-event POST", folder, f"one-{round_number}", one, 1, args)
            rate_ten = snowcatcher_rate("10-event POST", folder, f"ten-{round_number}", ten, 10, args)
            single.append(rate_one / bare)
            batched.append(rate_ten * 10 / bare)
            print(f"round {round_number}: bare aiohttp handler {bare:,.0f} requests/s; snowcatcher "
                  f"1-event POSTs {rate_one:,.0f} requests/s = {single[-1]:.2f}x; 10-event POSTs "
                  f"{rate_ten * 10:,.0f} events/s = {batched[-1]:.2f}x bare requests/s", flush=True)
    one_ratio, ten_ratio = statistics.median(single), statistics.median(batched)
    print(f"median of {args.rounds} rounds: 1-event POSTs {one_ratio:.2f}x bare requests/s "
          f"(target 0.75x: {'met' if one_ratio >= 0.75 else 'not met'}); 10-event POSTs "
          f"{ten_ratio:.2f}x bare requests/s in events/s (target 2x: "
          f"{'met' if ten_ratio >= 2 else 'not met'})")


if __name__ == "__main__":
    main()
