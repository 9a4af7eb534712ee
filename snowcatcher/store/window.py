"""EventWindow: the filtered, paged, counted list of stored events a front end draws, without any UI."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

from snowcatcher.model import CapturedEvent
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store


@dataclass(slots=True)
class Counting:
    """A filter being counted in the background; the window meanwhile holds the matching events
    near `anchor_id` (positions 0 to total - 1 are then that page's rows only), of which
    `earlier` come before the anchor. The page holds every match from `low_id` to `high_id`, and
    grows towards either end as the cursor nears it. Home and End replace it by the first or the
    newest matches: `placed` then says which end of the list it is."""

    where: Filter
    anchor_id: int
    last_id: int
    earlier: int
    low_id: int
    high_id: int
    placed: str = "anchor"  # or "start", "end"


class EventWindow:
    """Every stored event matching `where`, oldest first, with a cursor; only the rows asked for
    are ever fetched. `rows` arguments are how many rows the front end shows at once."""

    #: Above this many stored events, a filter whose count is not yet known is counted in the
    #: background while the window holds the matching events near the selection at once.
    COUNT_IN_BACKGROUND_ABOVE = 100_000
    #: How many ids on either side of the selection that first page looks through, at most.
    NEAR_SPAN = 20_000

    def __init__(self, store: Store) -> None:
        self.store = store
        self.where = Filter()
        self.total = 0
        self.cursor = -1
        self.following = True
        self.paused = False
        #: The newest stored id this window has accounted for.
        self.seen_id = 0
        #: How many events were shown when following stopped ("↓ 41 new" counts from there).
        self._total_when_left = 0
        self._cache_start = 0
        self._cache: list[CapturedEvent] = []
        #: The background count under way, if any (the window then holds a first page).
        self.counting: Counting | None = None

    # -- what is selected --------------------------------------------------------------------

    @property
    def selected(self) -> CapturedEvent | None:
        return self.event_at(self.cursor) if 0 <= self.cursor < self.total else None

    @property
    def selected_id(self) -> int | None:
        event = self.selected
        return event.id if event else None

    @property
    def pending(self) -> int:
        """Events stored (and matching) since the display was paused."""
        if not self.paused:
            return 0
        last = self.store.last_id()
        if not self.where:
            return last - self.seen_id
        return self.store.count_after(self.seen_id, self.where)

    def event_at(self, position: int, rows: int = 20) -> CapturedEvent | None:
        """The event at `position` (0 = oldest match), fetching a few screens around it if needed."""
        index = position - self._cache_start
        if not 0 <= index < len(self._cache):
            rows = max(rows, 20)
            self._cache_start = max(0, position - rows)
            self._cache = self.store.slice(self.where, self._cache_start, position + 2 * rows)
            index = position - self._cache_start
        return self._cache[index] if 0 <= index < len(self._cache) else None

    def move_to(self, position: int) -> None:
        """Put the cursor on `position`, kept within the list (-1 when it is empty)."""
        self.cursor = max(-1, min(position, self.total - 1)) if self.total else -1

    def leave_follow_unless_last(self) -> bool:
        """Stop following when the cursor is not on the newest event; True if that changed."""
        if self.following and self.cursor < self.total - 1:
            self.set_following(False)
            return True
        return False

    def set_following(self, following: bool) -> None:
        self.following = following
        self._total_when_left = self.total
        if following:
            self.move_to(self.total - 1)

    @property
    def new_below(self) -> int:
        """How many matching events arrived since the window stopped following (0 when following)."""
        return 0 if self.following else max(0, self.total - self._total_when_left)

    def position_of_next(self, extra: Filter, direction: int) -> int | None:
        """The position of the next (direction 1) or previous (-1) shown event that also matches
        `extra`, from the cursor; None when there is none or the filter is still being counted."""
        if self.counting is not None or self.total == 0:
            return None
        here = self.selected_id or (0 if direction > 0 else self.seen_id + 1)
        where = self.where & extra
        found = (self.store.after(here, where, limit=1) if direction > 0
                 else self.store.before(here, where, limit=1))
        if not found or found[0].id > self.seen_id:
            return None
        return self.store.position(found[0].id, self.where)

    # -- reloading and counting --------------------------------------------------------------

    def reload(self, keep_id: int | None = None, rows: int = 20) -> bool:
        """Re-count the matching events, keeping `keep_id` selected if it still matches. Returns
        True when the count was left to `count()` (the window then holds the matches near the
        selection, or the newest)."""
        self.counting = None
        self.seen_id = self.store.last_id()
        if (self.where and not self.store.known_count(self.where)
                and self.store.counts().total > self.COUNT_IN_BACKGROUND_ABOVE):
            self._show_near(keep_id, rows)
            return True
        self.total = self.store.count(self.where)
        self._cache = []
        self._total_when_left = self.total
        if self.following or keep_id is None:
            self.move_to(self.total - 1 if self.following else min(self.cursor, self.total - 1))
        else:
            self.move_to(min(self.store.position(keep_id, self.where), self.total - 1))
        return False

    def set_filter(self, where: Filter, rows: int = 20) -> bool:
        """Hold only the events matching `where`, keeping the selected event where possible;
        returns what `reload` returns."""
        keep = self.selected_id
        self.where = where
        return self.reload(keep, rows)

    def _show_near(self, keep_id: int | None, rows: int) -> None:
        rows = max(rows, 20)
        anchor = self.seen_id + 1 if self.following or keep_id is None else keep_id
        ahead = anchor <= self.seen_id  # not at the end: hold what follows the selection too
        before, after = (rows, 2 * rows) if ahead else (3 * rows, 0)
        span = self.NEAR_SPAN
        earlier, later = self.store.near(self.where, anchor, self.seen_id, before, after, span)
        self.counting = Counting(
            self.where, anchor, self.seen_id, len(earlier),
            low_id=earlier[0].id if earlier and len(earlier) == before else anchor - span,
            high_id=later[-1].id if later and len(later) == after else min(self.seen_id, anchor + span))
        self._load_page(earlier + later)
        self.move_to(self.total - 1 if self.following or not later else len(earlier))

    def grow(self, position: int, rows: int) -> int:
        """While counting, fetch the matches beyond the page held when `position` comes within a
        screen of its edge; returns how many rows were added before the page (moving it down)."""
        counting = self.counting
        if counting is None:
            return 0
        rows = max(rows, 20)
        added = 0
        if position < rows and counting.low_id > 1:
            earlier, _ = self.store.near(counting.where, counting.low_id, counting.last_id,
                                         2 * rows, 0, self.NEAR_SPAN)
            counting.low_id = (earlier[0].id if len(earlier) == 2 * rows
                               else counting.low_id - self.NEAR_SPAN)
            added = len(earlier)
            counting.earlier += added
            self._cache[:0] = earlier
            self.cursor += added
        if position >= self.total - rows and counting.high_id < counting.last_id:
            _, later = self.store.near(counting.where, counting.high_id + 1, counting.last_id,
                                       0, 2 * rows, self.NEAR_SPAN)
            counting.high_id = (later[-1].id if len(later) == 2 * rows
                                else min(counting.last_id, counting.high_id + 1 + self.NEAR_SPAN))
            self._cache.extend(later)
        self.total = len(self._cache)
        return added

    async def count(self, counting: Counting, rows: int = 20) -> int | None:
        """Finish `counting`: the page held moves to its place in the whole list. Returns how many
        positions it moved, or None when nothing changed (another filter, a reload or a reset came
        first, or the store closed). When the count could not be taken near the anchor, the
        window reloads instead (and may count again: see `counting`)."""
        try:
            counted = await self.store.count_around(counting.where, counting.last_id,
                                                    counting.anchor_id)
        except sqlite3.Error:
            return None  # the store closed under the count
        if counting is not self.counting:
            return None
        if counted is None:
            self.reload(self.selected_id, rows)
            return 0
        total, before = counted
        # The page held is the matches next to the anchor, or at one end: shift it to its place.
        shift = {"start": 0, "end": total - len(self._cache)}.get(counting.placed,
                                                                  before - counting.earlier)
        self.counting = None
        self.total = total
        self._cache_start += shift
        if self.cursor >= 0:
            self.cursor += shift
        self.move_to(self.total - 1 if self.following else self.cursor)
        return shift

    def show_end(self, *, newest: bool, rows: int) -> None:
        """Home or End before the count is known: the first or the newest matches, at once."""
        counting = self.counting
        if counting is None:
            return
        rows = 3 * max(rows, 20)
        span = self.NEAR_SPAN
        if newest:
            page, _ = self.store.near(counting.where, counting.last_id + 1, counting.last_id,
                                      rows, 0, span)
            counting.low_id = page[0].id if len(page) == rows else counting.last_id + 1 - span
            counting.high_id = counting.last_id
        else:
            first = self.store.first_id()
            _, page = self.store.near(counting.where, first, counting.last_id, 0, rows, span)
            counting.low_id = 1  # nothing comes before
            counting.high_id = page[-1].id if len(page) == rows else min(counting.last_id,
                                                                           first + span)
        counting.placed = "end" if newest else "start"
        self._load_page(page)

    def _load_page(self, page: list[CapturedEvent]) -> None:
        """While counting: the list is this page of matches alone, until the count places it."""
        self._cache_start, self._cache = 0, page
        self.total = len(page)

    # -- new and changed events --------------------------------------------------------------

    def take_new(self, last_id: int) -> int:
        """Account for events stored up to `last_id`; returns how many matching ones were added
        (none while paused or counting: they are taken afterwards)."""
        if self.counting is not None or self.paused or last_id <= self.seen_id:
            return 0
        added = (last_id - self.seen_id if not self.where
                 else self.store.count_after(self.seen_id, self.where))
        self.seen_id = last_id
        if not added:
            return 0
        if self._cache_start + len(self._cache) >= self.total:
            self._cache = []  # the cached rows reached the old end: it grew
        self.total += added
        if self.following:
            self.move_to(self.total - 1)
        return added

    def changed(self, event_ids: Collection[int]) -> bool:
        """Stored events got new violations. Returns True when the filter may now match more or
        fewer events, so that the window must be reloaded; otherwise forgets their old rows."""
        if self.where:
            return True
        if any(event.id in event_ids for event in self._cache):
            self._cache = []
        return False
