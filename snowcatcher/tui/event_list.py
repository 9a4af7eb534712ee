"""The live event list: a Line-API ScrollView that asks the store only for the rows on screen."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from snowcatcher.headless import MARKS
from snowcatcher.model import CapturedEvent
from snowcatcher.query import Filter
from snowcatcher.store import Store
from snowcatcher.tui import gitlab
from snowcatcher.tui.fields import readable_time
from snowcatcher.tui.messages import EventHighlighted, ViewChanged
from snowcatcher.tui.resilience import guarded
from snowcatcher.tui.safe import clean, json_scalar

PROTOCOLS = {"snowplow": "sp", "eventgate": "eg", "eventlogging": "el"}
#: (title, width) of the fixed columns; the name and the last column share what is left.
DEFAULT_COLUMNS = (("time", 12), ("", 1), ("", 2), ("type", 10), ("name", 0), ("app_id", 12),
                   ("first violation", -1))
GITLAB_COLUMNS = (("time", 12), ("", 1), ("event name", 34), ("category", 22), ("user_id", 10),
                  ("namespace", 9), ("project", 9), ("plan", 8), ("label", 12), ("property", 12),
                  ("value", 6), ("extra", -1))


@dataclass(slots=True)
class _Counting:
    """A filter being counted in the background; the list meanwhile shows the matching events
    near `anchor_id` (positions 0 to total - 1 of the list are then that page's rows only), of
    which `earlier` come before the anchor. The page holds every match from `low_id` to
    `high_id`, and grows towards either end as the cursor nears it. Home and End replace it by
    the first or the newest matches: `placed` then says which end of the list it is."""

    where: Filter
    anchor_id: int
    last_id: int
    earlier: int
    low_id: int
    high_id: int
    placed: str = "anchor"  # or "start", "end"


class EventList(ScrollView, can_focus=True):
    """Every event matching the filter, oldest first; only the visible window is ever fetched."""

    #: Above this many stored events, a filter whose count is not yet known is counted in the
    #: background while the list shows the matching events near the selection at once.
    COUNT_IN_BACKGROUND_ABOVE = 100_000
    #: How many ids on either side of the selection that first page looks through, at most.
    NEAR_SPAN = 20_000

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end,G", "last", "Last (and follow)", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"event-list--header", "event-list--cursor", "event-list--valid",
                         "event-list--invalid", "event-list--unchecked", "event-list--dim",
                         "event-list--violation"}
    DEFAULT_CSS = """
    EventList { background: $surface; overflow-x: hidden; overflow-y: scroll; }
    EventList > .event-list--header { text-style: bold; color: $text-muted; background: $panel; }
    EventList > .event-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    EventList:blur > .event-list--cursor { background: $block-cursor-blurred-background; }
    EventList > .event-list--valid { color: $success; }
    EventList > .event-list--invalid { color: $error; text-style: bold; }
    EventList > .event-list--unchecked { color: $warning; text-style: bold; }
    EventList > .event-list--dim { color: $text-muted; }
    EventList > .event-list--violation { color: $warning; }
    """

    def __init__(self, store: Store, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.where = Filter()
        self.total = 0
        self.cursor = -1
        self.following = True
        self.paused = False
        self.gitlab_columns = False
        self._seen_id = 0
        #: The event the detail pane was last told about.
        self._highlighted_id: int | None = None
        self._cache_start = 0
        self._cache: list[CapturedEvent] = []
        self._take_timer: Timer | None = None
        self._counting: _Counting | None = None
        self._strips: LRUCache[tuple[int, bool, int, bool], Strip] = LRUCache(1000)

    # -- state -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.reload()

    @property
    def counting(self) -> bool:
        """Whether the filter's matches are still being counted (the list shows a first page)."""
        return self._counting is not None

    def reload(self, keep_id: int | None = None) -> None:
        """Re-count the matching events and redraw, keeping `keep_id` selected if it still matches."""
        self._counting = None
        self._seen_id = self.store.last_id()
        if (self.where and not self.store.known_count(self.where)
                and self.store.counts().total > self.COUNT_IN_BACKGROUND_ABOVE):
            self._show_near(keep_id)
            return
        self.total = self.store.count(self.where)
        self._cache = []
        self._strips.clear()
        self._set_rows()
        if self.following or keep_id is None:
            self._move_to(self.total - 1 if self.following else min(self.cursor, self.total - 1))
        else:
            self._move_to(min(self.store.position(keep_id, self.where), self.total - 1))
        self.refresh()
        self._post_view()

    def _show_near(self, keep_id: int | None) -> None:
        """Show the matching events near `keep_id` (or the newest) now; count them in a worker."""
        rows = max(self.size.height, 20)
        anchor = self._seen_id + 1 if self.following or keep_id is None else keep_id
        ahead = anchor <= self._seen_id  # not at the end: show what follows the selection too
        before, after = (rows, 2 * rows) if ahead else (3 * rows, 0)
        span = self.NEAR_SPAN
        earlier, later = self.store.near(self.where, anchor, self._seen_id, before, after, span)
        self._counting = _Counting(
            self.where, anchor, self._seen_id, len(earlier),
            low_id=earlier[0].id if earlier and len(earlier) == before else anchor - span,
            high_id=later[-1].id if later and len(later) == after else min(self._seen_id, anchor + span))
        self._load_page(earlier + later)
        self._move_to(self.total - 1 if self.following or not later else len(earlier))
        self.refresh()
        self._post_view()
        # Counting reads the disk and a core: start once this first page is on screen.
        self.call_after_refresh(self._start_count, self._counting)

    def _start_count(self, counting: _Counting) -> None:
        if counting is self._counting:
            self.run_worker(self._count(counting), group="count", exclusive=True)

    def _grow_page(self, position: int) -> int:
        """While counting, fetch the matches beyond the page shown when `position` comes within a
        screen of its edge; returns how many rows were added before the page (and moved it down)."""
        counting = self._counting
        if counting is None:
            return 0
        rows = max(self.size.height, 20)
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
        if len(self._cache) != self.total:
            top = int(self.scroll_y) + added
            self.total = len(self._cache)
            self._set_rows()
            self.scroll_to(y=top, animate=False, immediate=True)
            self._post_view()
        return added

    async def _count(self, counting: _Counting) -> None:
        try:
            counted = await self.store.count_around(counting.where, counting.last_id,
                                                    counting.anchor_id)
        except sqlite3.Error:
            return  # the store closed under the count
        if counting is not self._counting:
            return  # another filter, a reload or a reset came first
        if counted is None:
            self.reload(keep_id=self.selected_id)
            return
        total, before = counted
        # The page shown is the matches next to the anchor, or at one end: shift it to its place.
        shift = {"start": 0, "end": total - len(self._cache)}.get(counting.placed,
                                                                  before - counting.earlier)
        self._counting = None
        top = int(self.scroll_y)
        self.total = total
        self._cache_start += shift
        self._strips.clear()
        self._set_rows()
        if self.cursor >= 0:
            self.cursor += shift
        self.scroll_to(y=top + shift, animate=False, immediate=True)
        self._move_to(self.total - 1 if self.following else self.cursor)
        self.refresh()
        self._post_view()
        self.take_new(self.store.last_id())

    def redraw_changed(self, event_ids: Collection[int]) -> None:
        """Stored events got new violations: show them as they are now. A filter may now match
        more or fewer events, so its matches are counted again."""
        if self.where:
            self.reload(keep_id=self.selected_id)
            return
        if any(event.id in event_ids for event in self._cache):
            self._cache = []
        self._strips.clear()
        self.refresh()

    def set_filter(self, where: Filter) -> None:
        """Show only the events matching `where`, keeping the selected event where possible."""
        keep = self.selected_id
        self.where = where
        self.reload(keep_id=keep)

    def notice_new(self) -> None:
        """The store has new events: take them within 50 ms, so that at 2,000 events/s the list
        redraws 20 times a second and keys stay responsive."""
        if self._take_timer is None:
            self._take_timer = self.set_timer(0.05, self._take_latest)

    def _take_latest(self) -> None:
        self._take_timer = None
        self.take_new(self.store.last_id())

    def take_new(self, last_id: int) -> None:
        """Account for events stored up to `last_id` (or just count them while paused)."""
        if self._counting is not None:
            return  # taken once the count is known
        if self.paused or last_id <= self._seen_id:
            self._post_view()
            return
        added = (last_id - self._seen_id if not self.where
                 else self.store.count_after(self._seen_id, self.where))
        self._seen_id = last_id
        if not added:
            return
        if self._cache_start + len(self._cache) >= self.total:
            self._cache = []  # the cached window reached the old end: it grew
        self.total += added
        self._set_rows()
        if self.following:
            self._move_to(self.total - 1)
        self.refresh()
        self._post_view()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.take_new(self.store.last_id())
        self._post_view()

    def set_following(self, following: bool) -> None:
        self.following = following
        if following:
            self._move_to(self.total - 1)
        self._post_view()

    @property
    def pending(self) -> int:
        """Events stored (and matching) since the display was paused."""
        if not self.paused:
            return 0
        last = self.store.last_id()
        if not self.where:
            return last - self._seen_id
        return self.store.count_after(self._seen_id, self.where)

    @property
    def selected(self) -> CapturedEvent | None:
        return self._event_at(self.cursor) if 0 <= self.cursor < self.total else None

    @property
    def selected_id(self) -> int | None:
        event = self.selected
        return event.id if event else None

    def _post_view(self) -> None:
        self.post_message(ViewChanged(self.total, self.following, self.paused, self.pending))

    # -- moving ------------------------------------------------------------------------------

    def _move_to(self, position: int) -> None:
        before = self.cursor
        self.cursor = max(-1, min(position, self.total - 1)) if self.total else -1
        rows = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if self.cursor >= 0 and not top <= self.cursor < top + rows:
            target = self.cursor if self.cursor < top else self.cursor - rows + 1
            self.scroll_to(y=max(0, target), animate=False, immediate=True)
        if self.cursor != before:
            self.refresh()
        # The detail follows the event under the cursor, not its row number: after a filter or
        # `v` the same row can hold another event, or none.
        selected = self.selected_id
        if selected != self._highlighted_id:
            self._highlighted_id = selected
            self.post_message(EventHighlighted(selected))

    def action_cursor(self, delta: int) -> None:
        target = self.cursor + delta
        target += self._grow_page(target)
        self._move_to(max(0, target))
        self._leave_follow_unless_last()

    def action_page(self, direction: int) -> None:
        rows = max(1, self.scrollable_content_region.height - 2)
        target = self.cursor + direction * rows
        target += self._grow_page(target)
        self.scroll_to(y=max(0, int(self.scroll_y) + direction * rows), animate=False, immediate=True)
        self._move_to(max(0, target))
        self._leave_follow_unless_last()

    def action_first(self) -> None:
        if self._counting is not None:
            self._show_end(self._counting, newest=False)
        self._move_to(0)
        self._leave_follow_unless_last()

    def action_last(self) -> None:
        if self._counting is not None:
            self._show_end(self._counting, newest=True)
        self.set_following(True)

    def _show_end(self, counting: _Counting, *, newest: bool) -> None:
        """Home or End before the count is known: the first or the newest matches, at once."""
        rows = 3 * max(self.size.height, 20)
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
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def _load_page(self, page: list[CapturedEvent]) -> None:
        """While counting: the list is this page of matches alone, until the count places it."""
        self._cache_start, self._cache = 0, page
        self.total = len(page)
        self._strips.clear()
        self._set_rows()

    def _leave_follow_unless_last(self) -> None:
        if self.following and self.cursor < self.total - 1:
            self.following = False
            self._post_view()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self._move_to(int(self.scroll_y) + offset.y - 1)
            self._leave_follow_unless_last()

    def _set_rows(self) -> None:
        """Grow the scrollable height to the row count without a screen layout pass.

        The list's own size does not change (its scrollbar is always shown), so only the
        scrollbar needs telling; a full layout per batch cost ~30 ms at 2,000 events/s.
        """
        size = Size(0, self.total + 1)
        if size != self.virtual_size:
            self.set_reactive(EventList.virtual_size, size)
            self._scroll_update(size)
            self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._set_rows()
        self._move_to(self.total - 1 if self.following else self.cursor)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._grow_page(int(self.scroll_y))
        if self.following:
            self.following = False
            self._post_view()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._grow_page(int(self.scroll_y) + self.scrollable_content_region.height)

    # -- drawing -----------------------------------------------------------------------------

    def _event_at(self, position: int) -> CapturedEvent | None:
        index = position - self._cache_start
        if not 0 <= index < len(self._cache):
            rows = max(self.size.height, 20)
            self._cache_start = max(0, position - rows)
            self._cache = self.store.slice(self.where, self._cache_start, position + 2 * rows)
            index = position - self._cache_start
        return self._cache[index] if 0 <= index < len(self._cache) else None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._strip(self._header(width), "event-list--header", width)
        position = int(self.scroll_y) + y - 1
        if position >= self.total:
            return Strip.blank(width, self.rich_style)
        event = self._event_at(position)
        if event is None:
            return Strip.blank(width, self.rich_style)
        key = (event.id, position == self.cursor, width, self.gitlab_columns)
        strip = self._strips.get(key)
        if strip is None:
            cursor = "event-list--cursor" if key[1] else ""
            row = guarded(f"event #{event.id} in the list", lambda: self._row(event, width),
                          lambda message: self._line_with(event, message, width))
            strip = self._strips[key] = self._strip(row, cursor, width)
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _strip(self, text: Text, component: str, width: int) -> Strip:
        base = self.rich_style + (self.get_component_rich_style(component) if component else Style())
        segments = [Segment(seg.text, base + seg.style if seg.style else base)
                    for seg in text.render(self.app.console)]
        return Strip(segments).adjust_cell_length(width, base)

    def _columns(self, width: int) -> list[tuple[str, int]]:
        spec = GITLAB_COLUMNS if self.gitlab_columns else DEFAULT_COLUMNS
        fixed = sum(w + 1 for _, w in spec if w > 0) + 2
        flexible = max(20, width - fixed)
        name_width = max(16, min(44, flexible // 2))
        return [(title, name_width if w == 0 else max(8, flexible - name_width) if w < 0 else w)
                for title, w in spec]

    def _header(self, width: int) -> Text:
        return self._line([Text(title) for title, _ in self._columns(width)], width)

    def _line(self, cells: list[Text], width: int) -> Text:
        line = Text(" ", end="", no_wrap=True)
        for cell, (_, size) in zip(cells, self._columns(width), strict=True):
            cell.truncate(size, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        return line

    def _fg(self, component: str) -> Style:
        """A component's colour and weight only, so that the cursor's background shows through."""
        style = self.get_component_rich_style(component)
        return Style(color=style.color, bold=style.bold, italic=style.italic)

    def _row(self, event: CapturedEvent, width: int) -> Text:
        style = self._fg
        mark = Text(MARKS[event.verdict], style=style(f"event-list--{event.verdict}"))
        time = Text(readable_time(event.received_at, date=False), style=style("event-list--dim"))
        if self.gitlab_columns:
            return self._line([time, mark, *self._gitlab_cells(event)], width)
        problem = event.violations[0].short() if event.violations else ""
        return self._line([time, mark, Text(PROTOCOLS.get(event.protocol, event.protocol[:2])),
                           Text(clean(event.event_type)), Text(clean(event.name)),
                           Text(clean(event.app_id)),
                           Text(clean(problem), style=style("event-list--violation"))], width)

    def _line_with(self, event: CapturedEvent, message: Text, width: int) -> Text:
        """A row that could not be drawn: its id and why, in place of its cells."""
        line = Text(f" #{event.id} ", end="", no_wrap=True)
        line.append_text(message)
        line.truncate(width, overflow="ellipsis")
        return line

    def _gitlab_cells(self, event: CapturedEvent) -> list[Text]:
        values = dict(gitlab.summary(event))
        keys = ("event name", "category", "user_id", "namespace_id", "project_id", "plan", "label",
                "property", "value", "extra")
        return [Text(clean(_cell(values.get(key)))) for key in keys]


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json_scalar(value)
