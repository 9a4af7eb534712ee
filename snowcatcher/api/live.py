"""Waits and live streams: one store subscriber hands each new batch to the waiters it matches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from snowcatcher.model import UNCHECKED_VERDICT, CapturedEvent, JsonDict, iso_time
from snowcatcher.qa.checks import EventCheck
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store

PAGE = 500
#: Events a watch holds for its reader; past this it reads the store again instead (a stream
#: whose client does not read must not hold every event stored meanwhile).
QUEUE_LIMIT = PAGE
#: Server-Sent Events frames kept, so that streams with the same events serialize them once.
_FRAMES_KEPT = 4 * PAGE
_MISSES_KEPT = 10
_RECENT_SHOWN = 5


class Waiters:
    """The one store subscriber behind every wait and live stream.

    Per stored batch each distinct filter is tested once (in Python when the filter can be,
    otherwise with one query over the batch's ids) and the matching events are handed to the
    watches with that filter; the others are not even woken. A waiter costs nothing per event
    its filter does not match.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._watches: dict[tuple[str, tuple[str, ...]], list[Watch]] = {}
        self._frames: dict[int, tuple[CapturedEvent, bytes]] = {}
        self._unsubscribe = store.subscribe(self._on_events)
        self._unsubscribe_updates = store.signals.updated.connect(self._on_updates)

    @contextlib.contextmanager
    def watch(self, where: Filter, after: int, kind: str) -> Iterator[Watch]:
        """Matching events stored after id `after`, for as long as the block runs; `kind`
        ("wait", "stream") is what the status counts it as."""
        watch = Watch(self.store, where, after, kind)
        key = (where.where, where.params)
        self._watches.setdefault(key, []).append(watch)
        try:
            yield watch
        finally:
            watches = self._watches[key]
            watches.remove(watch)
            if not watches:
                del self._watches[key]

    def counts(self) -> dict[str, int]:
        """How many waits and streams are open."""
        counted = {"wait": 0, "stream": 0}
        for watches in self._watches.values():
            for watch in watches:
                counted[watch.kind] = counted.get(watch.kind, 0) + 1
        return counted

    def frame(self, event: CapturedEvent) -> bytes:
        """The event as a Server-Sent Event, serialized once for all the streams it goes to."""
        kept = self._frames.get(event.id)
        if kept is not None and kept[0] is event:
            return kept[1]
        frame = b"id: %d\nevent: event\ndata: %s\n\n" % (event.id, orjson.dumps(event.to_json()))
        self._frames[event.id] = (event, frame)
        if len(self._frames) > _FRAMES_KEPT:
            del self._frames[next(iter(self._frames))]
        return frame

    def close(self) -> None:
        self._unsubscribe()
        self._unsubscribe_updates()

    def _on_updates(self, event_ids: Sequence[int]) -> None:
        # A re-check decided held ("unchecked") events: let the waits look at them again.
        # Updates are rare background work, so every wait is woken.
        for watches in self._watches.values():
            for watch in watches:
                if watch.kind == "wait":
                    watch.wake()

    def _on_events(self, events: Sequence[CapturedEvent]) -> None:
        for watches in self._watches.values():
            matched = self._matching(watches[0].where, events)
            if matched:
                # Serialized once for every stream of this filter; the streams share the bytes.
                frames = (b"".join(map(self.frame, matched))
                          if any(watch.kind == "stream" for watch in watches) else b"")
                for watch in watches:
                    watch.push(matched, frames)

    def _matching(self, where: Filter, events: Sequence[CapturedEvent]) -> Sequence[CapturedEvent]:
        if not where:
            return events
        if where.match is not None:
            return [event for event in events if where.match(event)]
        # The batch is the newest in the store: its matches are those after the id before it.
        return self.store.after(events[0].id - 1, where.for_few_rows(), len(events))


class Watch:
    """One waiter's view: the matching events after its cursor, from the store at first (and
    when it fell behind), then as the store's batches hand them over."""

    def __init__(self, store: Store, where: Filter, after: int, kind: str) -> None:
        self.where = where
        self.kind = kind
        #: The id of the last event taken.
        self.cursor = after
        self._store = store
        self._queue: list[CapturedEvent] = []
        #: The queued events' Server-Sent Events frames, a shared bytes object per batch (streams).
        self._frames: list[bytes] = []
        #: Read the store rather than the queue: at first, after a full page, or after overflowing.
        self._reread = True
        self._ready = asyncio.Event()
        self._ready.set()

    @property
    def behind(self) -> bool:
        """More matching events are stored already: take them before waiting."""
        return self._reread

    def push(self, events: Sequence[CapturedEvent], frames: bytes = b"") -> None:
        """Hand over a batch's matching events (and, to a stream, their frames)."""
        if not self._reread:
            if len(self._queue) + len(events) > QUEUE_LIMIT:
                self._reread = True
                self._queue.clear()
                self._frames.clear()
            else:
                self._queue.extend(events)
                if frames:
                    self._frames.append(frames)
        self._ready.set()

    def wake(self) -> None:
        """Make the next wait() return at once, with or without new events."""
        self._ready.set()

    def take(self) -> list[CapturedEvent]:
        """The next matching events after the cursor, oldest first (at most PAGE); moves the cursor."""
        if self._reread:
            taken = self._store.after(self.cursor, self.where, PAGE)
            self._reread = len(taken) == PAGE
        else:
            taken = [event for event in self._queue if event.id > self.cursor]
        self._queue.clear()  # what it held is stored, so a read of the store found it too
        self._frames.clear()
        if taken:
            self.cursor = taken[-1].id
        if not self._reread:
            self._ready.clear()
        return taken

    def take_frames(self, frame: Callable[[CapturedEvent], bytes]) -> bytes:
        """take() as Server-Sent Events: the batches' shared frames when they hold just the events
        after the cursor (the usual case), else each event's `frame`."""
        shared = not self._reread and bool(self._queue) and self._queue[0].id > self.cursor
        frames = b"".join(self._frames) if shared else b""
        taken = self.take()
        return frames if shared else b"".join(map(frame, taken))

    async def wait(self, timeout: float) -> bool:
        """True when there are events to take, False after `timeout` seconds."""
        if self._ready.is_set():
            return True  # no task for wait_for to make
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True


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
    #: Ids of events whose check was not finished when the wait ended: no verdict to count yet.
    unchecked: set[int] = field(default_factory=set)
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
            "near_misses": [{**summary(e), "problems": problems} for e, problems in self.misses],
            "unchecked": sorted(self.unchecked)[:100]}
        if not self.ok:
            report["matching_filter"] = store.count(where)
            report["recent"] = [summary(e) for e in store.window(None, 0, _RECENT_SHOWN, newest_first=True)]
            report["store_total"] = store.count()
        return report


async def wait_for(waiters: Waiters, where: Filter, check: EventCheck, count: int, timeout: float, *,
                   after: int = 0, exact: bool = False) -> WaitResult:
    """Wait until `count` events after id `after` match the filter and the check, or `timeout` passes.

    Only final verdicts count: an event whose check is not finished ("unchecked") is held until
    its re-check decides it, then counted if it matches. With `exact`, answers as soon as
    `count` are there and reports whether there are more."""
    result = WaitResult(count, exact)
    started = time.monotonic()
    deadline = started + timeout
    # Unchecked events may match the filter once decided (`invalid`): watch them whatever it says.
    reading = _or_unchecked(where)
    with waiters.watch(reading, after, "wait") as watch:
        while True:
            decided = _decided(waiters.store, where, result.unchecked)
            for event in watch.take():
                if event.verdict == UNCHECKED_VERDICT:
                    result.unchecked.add(event.id)
                else:
                    decided.append(event)
            for event in decided:
                problems = check.problems(event) if check else []
                if problems:
                    result.misses = [*result.misses, (event, problems)][-_MISSES_KEPT:]
                else:
                    result.matched.append(event)
            if watch.behind:
                continue  # more are stored already: read them before deciding
            remaining = deadline - time.monotonic()
            if len(result.matched) >= count or remaining <= 0 or not await watch.wait(remaining):
                break
    result.waited = time.monotonic() - started
    return result


def _or_unchecked(where: Filter) -> Filter:
    """`where`, or an event still waiting for its verdict; matched in Python when `where` is."""
    if not where:
        return where
    match = where.match
    return Filter(where.text, f"(({where.where}) OR valid = -1)", where.params,
                  None if match is None else lambda event: match(event) or event.verdict == UNCHECKED_VERDICT)


def _decided(store: Store, where: Filter, unchecked: set[int]) -> list[CapturedEvent]:
    """The held events that have a verdict now and match the filter (forgotten from `unchecked`)."""
    found = []
    for event_id in sorted(unchecked):
        event = store.get(event_id)
        if event is not None and event.verdict == UNCHECKED_VERDICT:
            continue
        unchecked.discard(event_id)
        only = (where & _only(event_id)).for_few_rows()
        if event is not None and (not where or store.after(event_id - 1, only, 1)):
            found.append(event)
    return found


def _only(event_id: int) -> Filter:
    return Filter("", "events.id = ?", (str(event_id),))


def latest_id(store: Store) -> int:
    newest = store.window(None, 0, 1, newest_first=True)
    return newest[0].id if newest else 0
