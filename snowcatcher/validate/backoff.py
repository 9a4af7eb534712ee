"""Remote schema fetches: exponential backoff after failures, and a short wait for the first try."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

#: The first retry after a failed fetch, doubled per failure up to BACKOFF_MAX.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
#: Fetch attempts (each asks every remote that may serve the schema) per schema URI between two
#: resets; with the backoff doubling to 60 s, the last is about ten minutes after the first.
ATTEMPTS_PER_URI = 14
#: Distinct schema URIs fetched between two resets: events naming thousands of made-up schemas
#: must not turn into thousands of registry requests.
DISTINCT_URIS = 300
#: Fetch attempts in all between two resets.
ATTEMPTS_IN_ALL = 2_000
#: Given-up URIs named in the status, as examples.
EXAMPLES = 5

#: How long a request waits for a schema fetch that started with it: a registry on the
#: network answers in that time, a slow or dead one does not hold up capture.
FETCH_GRACE = 0.3


class Backoff:
    """Failures per key: when the next try is allowed and what went wrong last."""

    def __init__(self) -> None:
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        self._reason: dict[str, str] = {}

    def failed(self, key: str, reason: str) -> None:
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        self._retry_at[key] = time.monotonic() + min(BACKOFF_FIRST * 2 ** (count - 1), BACKOFF_MAX)
        self._reason[key] = reason

    def succeeded(self, key: str) -> None:
        for table in (self._failures, self._retry_at, self._reason):
            table.pop(key, None)

    def ready(self, key: str) -> bool:
        """True when `key` never failed or its backoff is over."""
        return time.monotonic() >= self._retry_at.get(key, 0.0)

    def retry_in(self, key: str) -> float:
        return max(0.0, self._retry_at.get(key, 0.0) - time.monotonic())

    def reason(self, key: str, default: str = "") -> str:
        return self._reason.get(key, default)

    def clear(self) -> None:
        # New dicts: a cleared dict keeps the table it grew to for thousands of URIs.
        self._failures, self._retry_at, self._reason = {}, {}, {}


class FetchBudget:
    """Caps on remote fetches between two resets: attempts per URI, distinct URIs, attempts in all.

    What is refused stays "schema unresolved" (a fetch could still find it): only the network
    work is given up, and counted for the status.
    """

    def __init__(self) -> None:
        self._attempts: dict[str, int] = {}
        self._total = 0
        self._refused = 0
        self._examples: list[str] = []

    def allows(self, key: str) -> bool:
        """True when a fetch of `key` is still within every cap."""
        attempts = self._attempts.get(key)
        if attempts is None and len(self._attempts) >= DISTINCT_URIS:
            return False
        return (attempts or 0) < ATTEMPTS_PER_URI and self._total < ATTEMPTS_IN_ALL

    def attempts(self, key: str) -> int:
        return self._attempts.get(key, 0)

    def take(self, key: str) -> bool:
        """Count one attempt for `key` when the caps allow it; else count the refusal."""
        if not self.allows(key):
            if not self._refused:
                log.warning("schema fetches capped (%d per schema, %d schemas, %d in all until a "
                            "reset): %s and later ones stay unresolved; see /snowcatcher/api/status",
                            ATTEMPTS_PER_URI, DISTINCT_URIS, ATTEMPTS_IN_ALL, key)
            self._refused += 1
            if len(self._examples) < EXAMPLES and key not in self._examples:
                self._examples.append(key)
            return False
        self._attempts[key] = self._attempts.get(key, 0) + 1
        self._total += 1
        return True

    def to_json(self) -> dict[str, object]:
        return {"attempts": self._total, "schemas_tried": len(self._attempts),
                "fetches_given_up": self._refused, "given_up_examples": list(self._examples),
                "limits": {"attempts_per_schema": ATTEMPTS_PER_URI, "schemas": DISTINCT_URIS,
                           "attempts": ATTEMPTS_IN_ALL}}

    def clear(self) -> None:
        self._attempts = {}  # a new dict: a cleared one keeps its grown table
        self._total = self._refused = 0
        self._examples = []


class Fetches:
    """One download task per key at a time, shared by every caller, with its start time."""

    def __init__(self, fetch_one: Callable[[str], Awaitable[None]]) -> None:
        self._fetch_one = fetch_one
        self._tasks: dict[str, tuple[asyncio.Task[None], float]] = {}

    def start(self, keys: Iterable[str]) -> list[tuple[asyncio.Task[None], float]]:
        """The running task for each key, started when none runs."""
        started = []
        for key in keys:
            known = self._tasks.get(key)
            if known is None:
                task = asyncio.ensure_future(self._fetch_one(key))
                known = self._tasks[key] = (task, time.monotonic())
                task.add_done_callback(lambda done, key=key: self._forget(key, done))  # type: ignore[misc]
            started.append(known)
        return started

    def running(self, key: str) -> bool:
        return key in self._tasks

    def _forget(self, key: str, done: asyncio.Task[None]) -> None:
        known = self._tasks.get(key)
        if known is not None and known[0] is done:
            del self._tasks[key]


async def wait(started: list[tuple[asyncio.Task[None], float]], grace: float | None) -> bool:
    """Wait for the tasks, or only until `grace` seconds after each started; True when there were
    tasks and all have ended."""
    if not started:
        return False
    tasks = [task for task, _ in started]
    if grace is None:
        await asyncio.gather(*tasks, return_exceptions=True)
        return True
    left = min(at for _, at in started) + grace - time.monotonic()
    if left > 0:
        await asyncio.wait(tasks, timeout=left)
    return all(task.done() for task in tasks)
