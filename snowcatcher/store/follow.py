"""A read-only view of a store file another process writes: picks up new events, resets and clears."""

from __future__ import annotations

import os
import urllib.request
from enum import Enum

from snowcatcher.model import Counts
from snowcatcher.store.store import Store


class Change(Enum):
    """What refresh() found in the file since the last look."""

    NONE = "none"
    GREW = "grew"
    #: Events were deleted (a reset), so every count and position is to be taken anew.
    REPLACED = "replaced"


class FollowedStore(Store):
    """The capture of a collector in another process (`snowcatcher --web`'s browser sessions).

    SQLite's WAL lets this process read while the collector writes. The collector keeps its own
    bookkeeping in memory, so this view writes nothing: clearing asks the collector over HTTP.
    """

    def __init__(self, path: str | os.PathLike[str], *, reset_url: str = "", token: str = "") -> None:
        super().__init__(path, shared=True)
        self._reset_url = reset_url
        self._token = token
        self._first_seen = self.first_id()

    def refresh(self) -> Change:
        """Take in what the collector stored (or deleted) since the last call; subscribers hear of
        new events as they would in the collector's process."""
        first, last = self._db.execute("SELECT min(id), max(id) FROM events").fetchone()
        first, last = first or 0, last or 0
        known = self.last_id()
        if (first != self._first_seen and self._first_seen) or last < known:
            self._take_all(first, last)
            return Change.REPLACED
        if last == known:
            return Change.NONE
        added, valid, unchecked = self._db.execute(
            "SELECT count(*), total(valid = 1), total(valid = -1) FROM events WHERE id > ?",
            (known,)).fetchone()
        self._counts = Counts(self._counts.total + int(added), self._counts.valid + int(valid),
                              self._counts.unchecked + int(unchecked))
        self._schema_sets = set(self._db.execute("SELECT schema, contexts FROM schema_sets").fetchall())
        self._next_event_id = last + 1
        self._first_seen = first
        newest = self.get(last)
        if newest is not None:
            self._notify([newest])
        return Change.GREW

    def _take_all(self, first: int, last: int) -> None:
        self._counts = self._count_rows()
        self._schema_sets = set(self._db.execute("SELECT schema, contexts FROM schema_sets").fetchall())
        self._matching.clear()
        self._generation += 1
        self._next_event_id = max(last, self.last_id()) + 1
        self._first_seen = first

    def reset(self) -> None:
        """Ask the collector to forget every event (it owns the file); refresh() then sees it."""
        if not self._reset_url:
            raise PermissionError("this view of the capture is read-only")
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        request = urllib.request.Request(self._reset_url, method="DELETE", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
        self.refresh()
