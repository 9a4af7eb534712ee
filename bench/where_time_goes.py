"""Where snowcatcher's CPU per event goes, against what each target of bench/ingest.py leaves, one run.

    python bench/where_time_goes.py [--seconds 4] [--rounds 3] [--connections 32]

For each of bench/ingest.py's workloads, back to back in each round: bare aiohttp, snowcatcher with
a store that builds its rows but writes none to SQLite (bench/store_nothing.py), and snowcatcher as
it runs. The difference of the last two is what SQLite costs per event (inserts, indexes, commits,
checkpoints). A ratio target of R leaves bare's CPU per request / R per event, of which aiohttp
takes bare's CPU per request / the events in a request; the rest of the budget is what capturing,
decoding, validating, answering and printing may take, printed beside what they take.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    TARGETS,
    Workload,
    arguments,
    measure,
    snowcatcher_command,
    workloads,
)
from bench.support import free_port  # noqa: E402


def server(kind: str, port: int, db: Path) -> list[str]:
    """The command of one of the three servers, listening on `port`."""
    if kind == "bare":
        return [sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port)]
    if kind == "no SQLite":
        return snowcatcher_command(port, db, (str(ROOT / "bench" / "store_nothing.py"),))
    return snowcatcher_command(port, db)


def main() -> None:
    args = arguments(__doc__.splitlines()[0], seconds=4)
    kinds = ("bare", "no SQLite", "snowcatcher")
    spent: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        work_list = workloads(folder)
        files = 0
        for round_number in range(1, args.rounds + 1):
            for work in work_list:
                for kind in kinds:
                    port, files = free_port(), files + 1
                    # bare aiohttp reads the workload's own bodies: its CPU per request is per request
                    measured = Workload(work.name, work.path, 1 if kind == "bare" else work.per_request,
                                        work.script)
                    result = measure(server(kind, port, folder / f"{files}.sqlite"), port, measured, args)
                    spent.setdefault((work.name, kind), []).append(result.cpu_us_per_event)
            print(f"round {round_number} done", flush=True)
    print(f"medians of {args.rounds} rounds, server CPU in us per event:")
    for work in work_list:
        bare, nothing, real = (statistics.median(spent[work.name, kind]) for kind in kinds)
        sqlite = real - nothing
        aiohttp = bare / work.per_request
        ratio, cpu_limit = TARGETS[work.name]
        budget = cpu_limit if cpu_limit is not None else bare / ratio
        rest = real - sqlite - aiohttp
        left = budget - aiohttp - sqlite
        print(f"  {work.name}: {real:,.0f} in all (aiohttp {aiohttp:,.0f}, SQLite {sqlite:,.0f}, the rest "
              f"{rest:,.0f}); the target leaves {budget:,.0f}: after aiohttp and SQLite, "
              f"{left:,.0f} for what takes {rest:,.0f}")


if __name__ == "__main__":
    main()
