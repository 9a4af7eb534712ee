"""Waiting for events and streaming them as they are stored, woken by the store (no polling)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from snowcatcher.checks import EventCheck
from snowcatcher.enriched import iso_time
from snowcatcher.model import CapturedEvent, JsonDict
from snowcatcher.query import Filter
from snowcatcher.store import Store

PAGE = 500
_MISSES_KEPT = 10
_RECENT_SHOWN = 5


class StoreWatch:
    """A flag the store raises whenever it has stored new events; use as a context manager."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._changed = asyncio.Event()
        self._unsubscribe = store.subscribe(self._on_events)

    def _on_events(self, events: Sequence[CapturedEvent]) -> None:
        self._changed.set()

    def clear(self) -> None:
        """Call before reading the store, so that events stored after the read wake the next wait."""
        self._changed.clear()

    async def wait(self, timeout: float) -> bool:
        """True when new events arrived, False after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def __enter__(self) -> StoreWatch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._unsubscribe()


def summary(event: CapturedEvent) -> JsonDict:
    """A short form for reports: enough to recognise the event and see what is wrong with it."""
    return {"id": event.id, "received_at": iso_time(event.received_at), "event_type": event.event_type,
            "name": event.name, "app_id": event.app_id, "valid": event.valid,
            "violations": [violation.short() for violation in event.violations]}


@dataclass
class WaitResult:
    """What a wait found: the matches, and when they were too few, what came close."""

    wanted: int
    exact: bool
    matched: list[CapturedEvent] = field(default_factory=list)
    #: Events that matched the filter but failed the check, with the reasons (the latest few).
    misses: list[tuple[CapturedEvent, list[str]]] = field(default_factory=list)
    waited: float = 0.0

    @property
    def ok(self) -> bool:
        found = len(self.matched)
        return found == self.wanted if self.exact else found >= self.wanted

    def to_json(self, store: Store, where: Filter, check: EventCheck) -> JsonDict:
        report: JsonDict = {
            "ok": self.ok, "wanted": self.wanted, "exact": self.exact, "found": len(self.matched),
            "filter": where.text, "check": check.describe(), "waited": round(self.waited, 3),
            "events": [event.to_json() for event in self.matched[:100]],
            "near_misses": [{**summary(e), "problems": problems} for e, problems in self.misses]}
        if not self.ok:
            report["matching_filter"] = store.count(where)
            report["recent"] = [summary(e) for e in store.window(None, 0, _RECENT_SHOWN, newest_first=True)]
            report["store_total"] = store.count()
        return report


async def wait_for(store: Store, where: Filter, check: EventCheck, count: int, timeout: float, *,
                   after: int = 0, exact: bool = False) -> WaitResult:
    """Wait until `count` events after id `after` match the filter and the check, or `timeout` passes.

    With `exact`, answers as soon as `count` are there and reports whether there are more."""
    result = WaitResult(count, exact)
    started = time.monotonic()
    deadline = started + timeout
    cursor = after
    with StoreWatch(store) as watch:
        while True:
            watch.clear()
            page = store.after(cursor, where, PAGE)
            for event in page:
                cursor = event.id
                problems = check.problems(event) if check else []
                if problems:
                    result.misses = [*result.misses, (event, problems)][-_MISSES_KEPT:]
                else:
                    result.matched.append(event)
            if len(page) == PAGE:
                continue  # more are stored already: read them before deciding
            remaining = deadline - time.monotonic()
            if len(result.matched) >= count or remaining <= 0 or not await watch.wait(remaining):
                break
    result.waited = time.monotonic() - started
    return result


def latest_id(store: Store) -> int:
    newest = store.window(None, 0, 1, newest_first=True)
    return newest[0].id if newest else 0
