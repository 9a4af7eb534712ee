"""Runs snowcatcher with every event-loop step's CPU time noted: `python bench/loop_steps.py LOG ARGS...`.

Each step (a callback or a task's run to its next await) that took over a millisecond of the
loop thread's CPU is appended to LOG as `monotonic-end cpu-seconds`. CPU time, not wall time: on
a shared machine a step's wall time also counts the moments the process waited for a core.
bench/stalls.py reads it for the longest step while each row ran.
"""

from __future__ import annotations

import asyncio.events
import runpy
import sys
import time
from typing import Any

NOTED = 0.001


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115  (open for the process's life)
    run = asyncio.events.Handle._run

    def timed(handle: Any) -> None:
        started = time.thread_time()
        run(handle)
        took = time.thread_time() - started
        if took > NOTED:
            log.write(f"{time.monotonic():.6f} {took:.6f}\n")

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    sys.argv = ["snowcatcher", *sys.argv[2:]]
    runpy.run_module("snowcatcher", run_name="__main__")


if __name__ == "__main__":
    main()
