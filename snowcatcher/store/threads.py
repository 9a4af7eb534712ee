"""Store helpers beside the event loop: WAL checkpoints and slow counts in threads, transactions."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any


def hint(error: sqlite3.Error) -> str:
    """What a person can do about a database that cannot be opened or written."""
    text = str(error).lower()
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return (" (the file or its folder is read-only or missing: snowcatcher needs to write the "
                "file and its -wal and -shm files beside it; choose another --db)")
    if "malformed" in text or "not a database" in text:
        return (" (the file is damaged or not a database: `sqlite3 FILE .recover` can save what is "
                "left of a capture; choose another --db)")
    if "full" in text or "i/o" in text:
        return " (the disk is full or the file cannot grow: free some space or choose another --db)"
    return ""


class Checkpointer:
    """Copies the write-ahead log into the database file from a thread, once a second.

    sqlite3 releases the GIL while it writes and syncs, so this costs the event loop nothing;
    committed transactions are already durable in the WAL, checkpointing only bounds its size.
    """

    INTERVAL = 1.0

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snowcatcher-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.wait(self.INTERVAL):
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


class Counter:
    """Threads with their own read-only connections, for counts too slow for the event loop.

    A count of every event is bound by reading rows and testing them: on `threads` cores the
    store splits it into as many id ranges, counted at once.
    """

    def __init__(self, path: Path, threads: int = 2) -> None:
        self._path = path
        self.threads = threads
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="snowcatcher-count")

    def submit(self, sql: str, params: Sequence[Any]) -> Future[tuple[Any, ...]]:
        return self._pool.submit(self._run, sql, params)

    def _run(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=ro",
                                                  uri=True, isolation_level=None,
                                                  check_same_thread=False)
            db.execute("PRAGMA cache_size=-32768")
            with self._lock:
                self._connections.append(db)
            _yield_to_others()
        return tuple(db.execute(sql, params).fetchone())

    def stop(self) -> None:
        with self._lock:
            for db in self._connections:
                db.interrupt()  # a count still running ends now, with an error nobody awaits
        self._pool.shutdown(wait=True, cancel_futures=True)
        for db in self._connections:
            db.close()


def _yield_to_others() -> None:
    """Run the calling thread at the lowest CPU priority, so that a count of every event never
    slows the event loop's thread (Linux gives each thread its own nice value)."""
    if sys.platform == "linux":  # elsewhere a thread's id is not a pid setpriority accepts
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Transaction:
    """BEGIN ... COMMIT, rolled back on error (the connection runs in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
