"""Ingest throughput of snowcatcher against a bare aiohttp handler, measured with wrk in one run.

    python bench/ingest.py [--seconds 10] [--connections 32]

Both servers run as separate processes pinned to one core, wrk to the other. snowcatcher runs as
users run it (`--headless`, output to /dev/null) with GitLab's schemas from ../shared/corpus/iglu,
so every event is fully validated, and stores into a SQLite file that is counted afterwards.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import free_port, pin, wait_listening  # noqa: E402
from snowcatcher import samples  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if not IGLU.is_dir():
        raise SystemExit(f"GitLab's schemas are read from {IGLU}; it is missing")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        one, ten = lua_script(folder, 1), lua_script(folder, 10)
        port = free_port()
        bare = measure("bare", [sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port)],
                       port, one, args)
        results = {}
        for label, script, per_request in (("1-event POST", one, 1), ("10-event POST", ten, 10)):
            port = free_port()
            db = folder / f"{per_request}.sqlite"
            command = [sys.executable, "-m", "snowcatcher", "--headless", "--offline", "--port",
                       str(port), "--schemas", str(IGLU), "--db", str(db)]
            rate = measure(label, command, port, script, args)
            with sqlite3.connect(db) as connection:
                invalid = connection.execute("SELECT count(*) FROM events WHERE valid = 0").fetchone()[0]
            if invalid:
                raise SystemExit(f"{label}: {invalid} events were invalid; the bench sends valid ones")
            results[label] = (rate, rate * per_request)
    print(f"bare aiohttp handler: {bare:,.0f} requests/s")
    for label, (rate, events) in results.items():
        print(f"snowcatcher {label}: {rate:,.0f} requests/s = {events:,.0f} events/s "
              f"-> {rate / bare:.2f}x bare requests/s, {events / bare:.2f}x bare in events/s")
    single, batched = results["1-event POST"], results["10-event POST"]
    print(f"targets: 1-event requests/s >= 0.75x bare: {single[0] / bare >= 0.75}; "
          f"10-event events/s >= 2x bare requests/s: {batched[1] / bare >= 2}")


if __name__ == "__main__":
    main()
