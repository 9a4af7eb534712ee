"""The SQLite store: the one place where the collector, the TUI, the API and the printers meet."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from snowcatcher.model import (
    CapturedEvent,
    RawRequest,
    Response,
    Violation,
    time_problem,
    verdict_of,
)
from snowcatcher.model import Counts as Counts  # part of the store's API; its home is the model
from snowcatcher.model import StoredRequest as StoredRequest
from snowcatcher.storable import mend_event, mend_request
from snowcatcher.store.file_guard import CaptureFileError, CaptureLock, LogWatch, check_foreign
from snowcatcher.store.query import Filter
from snowcatcher.store.sets import EntitySets, SetRow
from snowcatcher.store.signals import Signal
from snowcatcher.store.sql import (
    EVENT_COLUMNS,
    EVENTS,
    EVENTS_IN_ID_ORDER,
    INSERT_REQUEST,
    REQUEST_COLUMNS,
    RESPONSE_COLUMNS,
    SCHEMA,
    VERDICT_CODES,
    VIEW_INDEXES,
    dump,
    event_from_row,
    event_row,
    request_from_row,
    request_row,
)
from snowcatcher.store.threads import Checkpointer, Counter, Transaction, hint

log = logging.getLogger(__name__)

Subscriber = Callable[[Sequence[CapturedEvent]], None]

#: Seconds a write waits for others to join its transaction.
GROUP_COMMIT_DELAY = 0.001
#: Events of one request written per transaction: a request of thousands of events is stored in
#: parts of this size, each a few ms, so that other requests are stored (and answered) between them.
STORE_PART = 250

#: SQLite's page cache, in KiB: a small one while only the collector writes (the pages an insert
#: touches are few: each index's newest leaves), a big one once someone browses (Store.browse).
_WRITING_CACHE_KIB = 8 * 1024
_BROWSING_CACHE_KIB = 64 * 1024
#: How many filters' counts the store remembers (see Store.count).
_COUNT_MEMORY = 32
#: How many rows a read may walk in id order rather than through a filter's index: a few ms.
#: An index whose key does not end in the id (a LIKE range such as name:i_*) makes SQLite visit
#: every match of the filter instead, and sort them all for a page: 20-40 ms at 1M events.
_WALK = 4096
#: PRAGMA user_version once schema_sets holds the pairs of every event.
_SCHEMA_SETS_VERSION = 1
#: The column each completable filter key reads (Store.values_seen).
VALUE_COLUMNS = {"type": "event_type", "name": "name", "app": "app_id", "schema": "schema",
                 "protocol": "protocol"}


class _Part(NamedTuple):
    """Where the events of a later part of a big request go: its request and their first index."""

    request_id: int
    first_index: int


class StoreError(RuntimeError):
    """The database cannot be opened or written; the message says which file and why."""


class UnstorableError(ValueError):
    """A request or event holds a value no reader could show (a time in the year 10000, NaN);
    it is refused before it joins a transaction, so the requests sharing it are stored."""


class StoreSignals:
    """What the store tells its subscribers, each isolated from the others' failures."""

    def __init__(self) -> None:
        #: Newly stored events, oldest first, once they are committed.
        self.appended: Signal[Sequence[CapturedEvent]] = Signal("appended")
        #: The ids of events whose violations changed (re-validation).
        self.updated: Signal[Sequence[int]] = Signal("updated")
        #: Every event was forgotten.
        self.reset: Signal[None] = Signal("reset")


def unstorable(request: RawRequest, events: Iterable[CapturedEvent]) -> str | None:
    """Why this request or one of its events cannot be stored as it is, or None."""
    problem = time_problem("received_at", request.received_at)
    for event in events:
        if problem is not None:
            break
        problem = time_problem("received_at", event.received_at)
    return problem


class Store:
    """Events and the requests they came from, in SQLite (WAL), written with a group commit.

    All methods run on the event loop's thread: the store is never shared across threads.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, shared: bool = False) -> None:
        """Open (or create) the capture at `path`, a temporary one without it. `shared`: another
        snowcatcher owns this file and holds its lock (a --web tab reading the collector's capture)."""
        self._temporary = path is None
        if path is None:
            handle, name = tempfile.mkstemp(prefix="snowcatcher-", suffix=".sqlite")
            os.close(handle)
            path = name
        self.path = Path(path)
        self._lock: CaptureLock | None = None
        self._cache_kib = _WRITING_CACHE_KIB
        try:
            if not self._temporary:
                check_foreign(self.path)  # before SQLite converts it to WAL and adds tables
                self._lock = None if shared else CaptureLock(self.path)
        except CaptureFileError as error:
            raise StoreError(str(error)) from None
        try:
            self._db = self._connect()
            self._db.executescript(SCHEMA)
            self._db.executescript(VIEW_INDEXES)
            self._fill_schema_sets()
            self._add_set_params()
            self._add_response_columns()
            # Prove now that we can write: a read-only file otherwise opens fine and only the
            # first event fails, with every request answered 500.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("COMMIT")
            # Reading every id and count also finds most damaged pages now, not at the first event.
            self._next_request_id, self._next_event_id, next_set_id = self._next_ids()
            self._schema_sets: set[tuple[str, str]] = set(
                self._db.execute("SELECT schema, contexts FROM schema_sets").fetchall())
            self._counts = self._count_rows()
        except sqlite3.Error as error:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self._db.close()
            if self._lock is not None:
                self._lock.release()
            raise StoreError(f"cannot open the database {self.path}: {error}{hint(error)}") from None
        self._pending: list[tuple[RawRequest, Response, list[CapturedEvent], _Part | None,
                                  asyncio.Future[list[CapturedEvent]]]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self.signals = StoreSignals()
        self._entity_sets = EntitySets(next_set_id)
        # (where, params) -> (matching events, the last id then): see count().
        self._matching: dict[tuple[str, tuple[str, ...]], tuple[int, int]] = {}
        self._generation = 0  # bumped when events change other than by being appended
        self._checkpointer = Checkpointer(self.path)
        self._counter: Counter | None = None
        self._log_watch = LogWatch(self.path)
        #: What went wrong with the capture file while running, for the status API and the TUI.
        self.warnings: list[str] = []

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every committed transaction across a process crash (kill -9); only a
        # power cut can lose the last few, which is fine for a debugging collector.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA cache_size=-{self._cache_kib}")
        # Checkpoints fsync the database file; a background thread does them so that the
        # event loop never waits on the disk (see _Checkpointer).
        db.execute("PRAGMA wal_autocheckpoint=0")
        return db

    def browse(self) -> None:
        """Someone pages through this capture (the TUI): a 64 MiB page cache keeps the indexes it
        pages through in memory at 1M rows. A collector nobody browses keeps 8 MiB, which holds
        what inserts touch (each index's newest leaves) without growing with the capture."""
        self._cache_kib = _BROWSING_CACHE_KIB
        self._db.execute(f"PRAGMA cache_size=-{self._cache_kib}")

    # -- the capture file --------------------------------------------------------------------

    def check_files(self) -> list[str]:
        """The warnings about the capture file, after rescuing a write-ahead log deleted meanwhile."""
        missing = self._log_watch.missing()
        if missing:
            self._rescue_log(missing)
        return self.warnings

    def _rescue_log(self, missing: list[str]) -> None:
        """Copy a deleted log's transactions into the database file, then start a new log.

        SQLite still holds the deleted -wal open: a checkpoint through this connection saves what
        it holds; closing every connection and opening again creates new -wal and -shm files.
        """
        names = " and ".join(missing)
        try:
            self._checkpointer.stop()
            if self._counter is not None:
                self._counter.stop()
                self._counter = None
            busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy or copied < frames:
                raise sqlite3.OperationalError("another process is reading the database")
            self._db.close()
            self._db = self._connect()
            message = (f"{names} deleted while snowcatcher was running: the events stored before "
                       f"were copied into {self.path.name} and a new log was started")
        except sqlite3.Error as error:
            message = (f"{names} deleted while snowcatcher was running and could not be rebuilt "
                       f"({error}): events stored from now on can be lost when snowcatcher "
                       "stops; restart it")
        self._checkpointer = Checkpointer(self.path)
        self._log_watch.reset()
        log.warning("%s", message)
        self.warnings.append(message)

    # -- writing -----------------------------------------------------------------------------

    async def append(self, request: RawRequest, response: Response,
                     events: Sequence[CapturedEvent]) -> list[CapturedEvent]:
        """Store a request, the answer it gets and its events; return once they are committed.

        Requests that arrive within GROUP_COMMIT_DELAY of each other share one transaction: a
        commit costs far more than an insert, so under load this multiplies throughput, for a
        millisecond of latency. A request of more than STORE_PART events is written in parts,
        each its own transaction, so that it never holds the event loop for long; it returns
        once every part is committed.
        """
        _refuse_unstorable(request, events)
        events = list(events)
        stored = await self._enqueue(request, response, events[:STORE_PART], None)
        for start in range(STORE_PART, len(events), STORE_PART):
            part = _Part(stored[0].request_id, start)
            stored += await self._enqueue(request, response, events[start:start + STORE_PART], part)
        return stored

    def _enqueue(self, request: RawRequest, response: Response, events: list[CapturedEvent],
                 part: _Part | None) -> asyncio.Future[list[CapturedEvent]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[CapturedEvent]] = loop.create_future()
        self._pending.append((request, response, events, part, future))
        if self._flush_handle is None:
            self._flush_handle = loop.call_later(GROUP_COMMIT_DELAY, self._flush)
        return future

    def append_now(self, request: RawRequest, response: Response,
                   events: Sequence[CapturedEvent]) -> list[CapturedEvent]:
        """Store at once, outside the event loop's batching (imports, tests, tools)."""
        _refuse_unstorable(request, events)
        stored = self._write_alone(request, response, list(events), None)
        if isinstance(stored, Exception):
            raise stored
        self._notify(stored)
        return stored

    def _flush(self) -> None:
        self._flush_handle = None
        self.check_files()  # before acknowledging anything into a log that no longer exists
        batch, self._pending = self._pending, []
        try:
            stored: list[list[CapturedEvent] | Exception] = list(self._write(
                [(request, response, events, part) for request, response, events, part, _ in batch]))
        except Exception:
            # One hostile request (an unstorable value) must not fail the others that happened
            # to share its transaction: write them one by one, mending what cannot be stored.
            self._entity_sets.forget()  # the sets of the rolled-back transaction do not exist
            stored = [self._write_alone(request, response, events, part)
                      for request, response, events, part, _ in batch]
        for (*_, future), events in zip(batch, stored, strict=True):
            if future.done():
                continue
            if isinstance(events, Exception):
                future.set_exception(events)
            else:
                future.set_result(events)
        self._notify([event for events in stored if not isinstance(events, Exception)
                      for event in events])

    def _write_alone(self, request: RawRequest, response: Response, events: list[CapturedEvent],
                     part: _Part | None) -> list[CapturedEvent] | Exception:
        """One request in its own transaction; mended if it holds values SQLite or orjson refuse.

        Returns the exception (a full disk, a read-only file) for the request's waiter.
        """
        try:
            return self._write([(request, response, events, part)])[0]
        except (TypeError, ValueError, OverflowError, orjson.JSONEncodeError):
            self._entity_sets.forget()
        except Exception as error:
            self._entity_sets.forget()
            return error
        try:
            return self._write([(mend_request(request), response,
                                 [mend_event(event) for event in events], part)])[0]
        except Exception as error:
            self._entity_sets.forget()
            return error

    def _write(self, batch: Iterable[tuple[RawRequest, Response, list[CapturedEvent], _Part | None]]
               ) -> list[list[CapturedEvent]]:
        request_rows: list[tuple[Any, ...]] = []
        event_rows: list[tuple[Any, ...]] = []
        new_sets: list[SetRow] = []
        new_schema_sets: set[tuple[str, str]] = set()
        stored: list[list[CapturedEvent]] = []
        for request, response, events, part in batch:
            if part is None:
                request_id, first_index = self._next_request_id, 0
                self._next_request_id += 1
                request_rows.append(request_row(request_id, request, response))
            else:  # more events of a request stored in an earlier transaction
                request_id, first_index = part
            numbered = []
            for index, event in enumerate(events, first_index):
                event = event.stored(self._next_event_id, request_id, index)
                self._next_event_id += 1
                row = event_row(event, *self._entity_sets.place(event, new_sets))
                event_rows.append(row)
                if (row[7], row[10]) not in self._schema_sets:
                    new_schema_sets.add((row[7], row[10]))
                numbered.append(event)
            stored.append(numbered)
        with self._transaction():
            self._db.executemany(INSERT_REQUEST,
                                 request_rows)
            self._db.executemany("INSERT INTO entity_sets VALUES (?,?,?)", new_sets)
            self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                 event_rows)
            if new_schema_sets:
                self._db.executemany("INSERT OR IGNORE INTO schema_sets VALUES (?,?)",
                                     new_schema_sets)
        self._schema_sets |= new_schema_sets
        valid = sum(row[9] == VERDICT_CODES["valid"] for row in event_rows)
        unchecked = sum(row[9] == VERDICT_CODES["unchecked"] for row in event_rows)
        self._counts = Counts(self._counts.total + len(event_rows), self._counts.valid + valid,
                              self._counts.unchecked + unchecked)
        return stored

    def _transaction(self) -> Transaction:
        return Transaction(self._db)

    def update_violations(self, changes: Iterable[tuple[int, Sequence[Violation]]]) -> int:
        """Replace the violations of events (after re-validation); returns how many changed."""
        rows = [(dump([v.to_json() for v in violations]), VERDICT_CODES[verdict_of(tuple(violations))],
                 event_id) for event_id, violations in changes]
        before = self._verdict_codes([event_id for *_, event_id in rows])
        with self._transaction():
            self._db.executemany("UPDATE events SET violations = ?, valid = ? WHERE id = ?", rows)
        # Counted from the rows changed: counting every event after each chunk of a re-validation
        # cost ~30 ms a chunk at 300,000 events.
        valid, unchecked = self._counts.valid, self._counts.unchecked
        for _, code, event_id in rows:
            old = before.get(event_id)
            if old is None:
                continue
            valid += (code == VERDICT_CODES["valid"]) - (old == VERDICT_CODES["valid"])
            unchecked += (code == VERDICT_CODES["unchecked"]) - (old == VERDICT_CODES["unchecked"])
        self._counts = Counts(self._counts.total, valid, unchecked)
        self._matching.clear()
        self._generation += 1
        self.signals.updated.send(tuple(event_id for *_, event_id in rows))
        return len(rows)

    def _verdict_codes(self, event_ids: list[int]) -> dict[int, int]:
        """The `valid` column of these events, by id."""
        codes: dict[int, int] = {}
        for start in range(0, len(event_ids), 500):  # SQLite's limit on bound parameters
            part = event_ids[start:start + 500]
            codes.update(self._db.execute(
                f"SELECT id, valid FROM events WHERE id IN ({','.join('?' * len(part))})", part).fetchall())
        return codes

    def reset(self) -> None:
        """Forget every event and request."""
        with self._transaction():
            self._db.execute("DELETE FROM events")
            self._db.execute("DELETE FROM requests")
            self._db.execute("DELETE FROM entity_sets")
            self._db.execute("DELETE FROM schema_sets")
        self._entity_sets.forget()
        self._schema_sets.clear()
        self._matching.clear()
        self._generation += 1
        self._counts = Counts(0, 0)
        self.signals.reset.send(None)

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every batch of newly stored events; returns an unsubscribe.
        (signals.updated and signals.reset tell of the other changes.)"""
        return self.signals.appended.connect(subscriber)

    def _notify(self, events: Sequence[CapturedEvent]) -> None:
        if events:
            self.signals.appended.send(events)

    # -- reading -----------------------------------------------------------------------------

    def counts(self) -> Counts:
        """Total and valid events, kept up to date without a query."""
        return self._counts

    def count(self, where: Filter | None = None) -> int:
        """How many events match a filter.

        A count is remembered with the last id it saw: events are only ever appended (updates
        and resets forget every count), so the next call counts just the events stored since,
        which an id range makes cheap whatever the filter. The TUI asks for the count of the
        same filter several times while it applies it, and again for each batch of new events.
        """
        if not where:
            return self._counts.total
        key = (where.where, where.params)
        last = self.last_id()
        known = self._matching.pop(key, None)
        if known is None:
            clause, params = where.sql()
            count = int(self._db.execute(f"SELECT count(*) FROM events{clause}", params).fetchone()[0])
        else:
            count, seen = known
            count += self.count_after(seen, where) if seen < last else 0
        if len(self._matching) >= _COUNT_MEMORY:
            del self._matching[next(iter(self._matching))]  # the least recently used
        self._matching[key] = (count, last)
        return count

    def known_count(self, where: Filter | None = None) -> bool:
        """Whether count(where) is remembered, so costs at most a look at the newest events."""
        return not where or (where.where, where.params) in self._matching

    async def count_around(self, where: Filter, last_id: int, anchor_id: int) -> tuple[int, int] | None:
        """Matching events up to `last_id`, and how many of them come before `anchor_id`.

        Counted in threads on their own connections, each taking a share of the ids, so that a
        filter that must read every event (free text) leaves the event loop free; the count is
        then remembered as count() would remember it. None if the events changed other than by
        growing meanwhile.
        """
        if self._counter is None:
            self._counter = Counter(self.path, threads=min(2, os.cpu_count() or 1))
        generation = self._generation
        clause, params = where.sql()
        joiner = " AND " if clause else " WHERE "
        low = (self._db.execute("SELECT min(id) FROM events").fetchone()[0] or 1) - 1
        parts = self._counter.threads
        bounds = [low + (last_id - low) * n // parts for n in range(parts + 1)]
        counts = await asyncio.gather(*(asyncio.wrap_future(self._counter.submit(
            f"SELECT count(*), coalesce(sum(id < ?), 0) FROM events{clause}{joiner}"
            "id > ? AND id <= ?", (anchor_id, *params, start, stop)))
            for start, stop in itertools.pairwise(bounds)))
        total, before = (sum(column) for column in zip(*counts, strict=True))
        if generation != self._generation:
            return None
        key = (where.where, where.params)
        if key not in self._matching:
            if len(self._matching) >= _COUNT_MEMORY:
                del self._matching[next(iter(self._matching))]
            self._matching[key] = (total, last_id)
        return total, before

    def near(self, where: Filter, anchor_id: int, last_id: int, before: int, after: int,
             span: int) -> tuple[list[CapturedEvent], list[CapturedEvent]]:
        """Up to `before` matching events just before `anchor_id` and `after` from it on, oldest
        first, looking no further than `span` ids either way (and not past `last_id`): a page to
        show at once while count_around() finds where it is in the whole list."""
        clause, params = where.sql()
        joiner = " AND " if clause else " WHERE "
        earlier = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM {EVENTS_IN_ID_ORDER}{clause}{joiner}"
            "events.id < ? AND events.id >= ? ORDER BY events.id DESC LIMIT ?",
            (*params, anchor_id, anchor_id - span, before)).fetchall() if before else []
        later = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM {EVENTS_IN_ID_ORDER}{clause}{joiner}"
            "events.id >= ? AND events.id <= ? ORDER BY events.id LIMIT ?",
            (*params, anchor_id, min(last_id, anchor_id + span), after)).fetchall() if after else []
        return ([event_from_row(row) for row in reversed(earlier)],
                [event_from_row(row) for row in later])

    def values_seen(self, key: str, prefix: str, limit: int = 20) -> list[str]:
        """Distinct stored values of filter key `key` (type, name, app, schema, protocol) that
        start with `prefix`, case-insensitively: what a filter bar completes."""
        column = VALUE_COLUMNS.get(key)
        if column is None:
            return []
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            f"SELECT DISTINCT {column} FROM events WHERE {column} LIKE ? ESCAPE '\\' "
            f"AND {column} != '' ORDER BY {column} COLLATE NOCASE LIMIT ?",
            (f"{escaped}%", limit)).fetchall()
        return [str(row[0]) for row in rows]

    def get(self, event_id: int) -> CapturedEvent | None:
        row = self._db.execute(f"SELECT {EVENT_COLUMNS} FROM {EVENTS} WHERE events.id = ?",
                               (event_id,)).fetchone()
        return event_from_row(row) if row else None

    def window(self, where: Filter | None = None, offset: int = 0, limit: int = 100,
               *, newest_first: bool = False) -> list[CapturedEvent]:
        """Matching events in arrival order (or newest first), `limit` of them from `offset`."""
        clause, params = where.sql() if where else ("", ())
        order = "DESC" if newest_first else "ASC"
        rows = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM {EVENTS}{clause} ORDER BY events.id {order} "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset)).fetchall()
        return [event_from_row(row) for row in rows]

    def after(self, event_id: int, where: Filter | None = None,
              limit: int = 1000) -> list[CapturedEvent]:
        """Matching events stored after `event_id`, oldest first."""
        clause, params = where.sql() if where else ("", ())
        joiner = " AND " if clause else " WHERE "
        rows = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM {EVENTS}{clause}{joiner}events.id > ? "
            "ORDER BY events.id LIMIT ?",
            (*params, event_id, limit)).fetchall()
        return [event_from_row(row) for row in rows]

    async def iter_after(self, event_id: int = 0, where: Filter | None = None,
                         page: int = 1000) -> AsyncIterator[list[CapturedEvent]]:
        """Matching events stored after `event_id`, oldest first, a page at a time, yielding to the
        event loop between pages (the one paging loop of exports and re-validation)."""
        while events := self.after(event_id, where, page):
            yield events
            event_id = events[-1].id
            await asyncio.sleep(0)

    def before(self, event_id: int, where: Filter | None = None,
               limit: int = 1000) -> list[CapturedEvent]:
        """Matching events stored before `event_id`, newest first: a page of a newest-first read
        that costs the same at any depth (an OFFSET walks every row it skips)."""
        clause, params = where.sql() if where else ("", ())
        joiner = " AND " if clause else " WHERE "
        rows = self._db.execute(
            f"SELECT {EVENT_COLUMNS} FROM {EVENTS}{clause}{joiner}events.id < ? "
            "ORDER BY events.id DESC LIMIT ?",
            (*params, event_id, limit)).fetchall()
        return [event_from_row(row) for row in rows]

    def slice(self, where: Filter | None, start: int, stop: int) -> list[CapturedEvent]:
        """Matching events at positions `start` to `stop` in arrival order, fast at any position.

        Without a filter the ids are contiguous (only `reset` deletes, and it deletes everything),
        so a position is an id range; with one, the nearer end of the list is counted from.
        """
        total = self.count(where)
        stop = min(stop, total)
        if start >= stop:
            return []
        first = self._gapless_first_id() if not where else None
        if first is not None:
            rows = self._db.execute(f"SELECT {EVENT_COLUMNS} FROM {EVENTS} WHERE events.id >= ?"
                                    " AND events.id < ? ORDER BY events.id",
                                    (first + start, first + stop)).fetchall()
            return [event_from_row(row) for row in rows]
        # A page the first or last few thousand ids are likely to hold is found walking them.
        if start > total - stop:  # nearer the end: count back from the newest
            return self._ids_then_rows(where, "DESC", total - stop, stop - start,
                                       walk=(total - start) * self._counts.total <= _WALK * total)[::-1]
        return self._ids_then_rows(where, "ASC", start, stop - start,
                                   walk=stop * self._counts.total <= _WALK * total)

    def _ids_then_rows(self, where: Filter | None, order: str, offset: int, limit: int, *,
                       walk: bool) -> list[CapturedEvent]:
        """Find the ids first (an index is enough for that), then read only those rows.

        With `walk`, the ids are first looked for among the _WALK ids at that end in id order,
        which costs a few ms whatever the filter; the filter's index is asked if they are too few.
        """
        clause, params = where.sql() if where else ("", ())

        def select(source: str) -> str:
            return (f"SELECT {EVENT_COLUMNS} FROM {EVENTS} WHERE events.id IN (SELECT id FROM {source}"
                    f" ORDER BY id {order} LIMIT ? OFFSET ?) ORDER BY events.id {order}")

        if walk:
            joiner = " AND " if clause else " WHERE "
            edge = ("id < ?", self.first_id() + _WALK) if order == "ASC" else (
                "id > ?", self.last_id() - _WALK)
            rows = self._db.execute(select(f"events NOT INDEXED{clause}{joiner}{edge[0]}"),
                                    (*params, edge[1], limit, offset)).fetchall()
            if len(rows) == limit:
                return [event_from_row(row) for row in rows]
        rows = self._db.execute(select(f"events{clause}"), (*params, limit, offset)).fetchall()
        return [event_from_row(row) for row in rows]

    def position(self, event_id: int, where: Filter | None = None) -> int:
        """How many matching events were stored before `event_id`: its row in a filtered list."""
        first = self._gapless_first_id() if not where else None
        if first is not None:
            return max(0, event_id - first)
        clause, params = where.sql() if where else ("", ())
        low = self.first_id()
        if where and self.known_count(where) and event_id - low > self.last_id() - event_id:
            # Nearer the end: a filter without an index scans every id it counts over.
            return self.count(where) - self.count_after(event_id - 1, where)
        source = "events NOT INDEXED" if event_id - low <= _WALK else "events"
        row = self._db.execute(f"SELECT count(*) FROM {source}{clause or ' WHERE 1'} AND id < ?",
                               (*params, event_id)).fetchone()
        return int(row[0])

    def count_after(self, event_id: int, where: Filter | None = None) -> int:
        """How many matching events were stored after `event_id`."""
        clause, params = where.sql() if where else ("", ())
        joiner = " AND " if clause else " WHERE "
        source = "events NOT INDEXED" if self.last_id() - event_id <= _WALK else "events"
        row = self._db.execute(f"SELECT count(*) FROM {source}{clause}{joiner}id > ?",
                               (*params, event_id)).fetchone()
        return int(row[0])

    def schema_pairs(self) -> list[tuple[str, str]]:
        """Every distinct (schema, contexts) pair of the stored events: a handful, kept in memory;
        `contexts` holds the context URIs separated by spaces."""
        return sorted(self._schema_sets)

    def counts_between(self, spans: Sequence[tuple[float, float]],
                       where: Filter | None = None) -> list[tuple[int, int]]:
        """(matching, valid) events received in each [start, end) span of epoch seconds: a range
        of the events_by_time index each, which also holds the protocol, type and verdict."""
        clause, params = where.sql() if where else ("", ())
        joiner = " AND " if clause else " WHERE "
        sql = (f"SELECT count(*), total(valid) FROM events INDEXED BY events_by_time{clause}{joiner}"
               "received_at >= ? AND received_at < ?")
        found = []
        for start, end in spans:
            total, valid = self._db.execute(sql, (*params, start, end)).fetchone()
            found.append((int(total), int(valid)))
        return found

    def first_id(self) -> int:
        """The smallest stored id, 0 when there is none."""
        return int(self._db.execute("SELECT min(id) FROM events").fetchone()[0] or 0)

    @property
    def generation(self) -> int:
        """Bumped whenever events change other than by being appended (reset, re-validation)."""
        return self._generation

    def last_id(self) -> int:
        """The id of the newest stored event, 0 when there is none."""
        return self._next_event_id - 1

    def _gapless_first_id(self) -> int | None:
        """The smallest id when the ids have no gaps (so that position = id - first), else None."""
        first = self.first_id()
        last = self._db.execute("SELECT max(id) FROM events").fetchone()[0] or 0
        return first if last - first + 1 == self._counts.total else None

    def request(self, request_id: int) -> StoredRequest | None:
        """The stored request and our answer to it."""
        row = self._db.execute(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?",
                               (request_id,)).fetchone()
        return request_from_row(row) if row else None

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()
        if self._counter is not None:
            self._counter.stop()
        self._checkpointer.stop()
        self._db.close()
        if self._lock is not None:
            self._lock.release()
        if self._temporary:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _next_ids(self) -> tuple[int, int, int]:
        return tuple(  # type: ignore[return-value]
            (self._db.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0) + 1
            for table in ("requests", "events", "entity_sets"))

    def _add_set_params(self) -> None:
        """Give entity_sets its params column in a file written before it existed (instant)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(entity_sets)")}
        if "params" not in columns:
            self._db.execute("ALTER TABLE entity_sets ADD COLUMN params TEXT NOT NULL DEFAULT '{}'")

    def _add_response_columns(self) -> None:
        """Give requests the answer's reason and headers in a file written before they were
        recorded (instant: the old rows hold NULL, shown as "headers not recorded")."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
        for name, kind in RESPONSE_COLUMNS:
            if name not in columns:
                self._db.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")

    def _fill_schema_sets(self) -> None:
        """Collect the (schema, contexts) pairs of a file written before schema_sets existed."""
        if self._db.execute("PRAGMA user_version").fetchone()[0] >= _SCHEMA_SETS_VERSION:
            return
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO schema_sets SELECT DISTINCT schema, contexts"
                             " FROM events")
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_SETS_VERSION}")

    def _count_rows(self) -> Counts:
        total, valid, unchecked = self._db.execute(
            "SELECT count(*), total(valid = 1), total(valid = -1) FROM events").fetchone()
        return Counts(int(total), int(valid), int(unchecked))


def _refuse_unstorable(request: RawRequest, events: Iterable[CapturedEvent]) -> None:
    problem = unstorable(request, events)
    if problem is not None:
        raise UnstorableError(problem)
