"""The live event list: a Line-API ScrollView that asks the store only for the rows on screen."""

from __future__ import annotations

import re
from collections.abc import Collection
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
from snowcatcher.runtime import PROTOCOLS
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.store.window import Counting, EventWindow
from snowcatcher.tui import gitlab
from snowcatcher.tui.fields import readable_time
from snowcatcher.tui.inert_text import clean, json_scalar
from snowcatcher.tui.messages import ClearFilter, EventHighlighted, ViewChanged
from snowcatcher.tui.resilience import guarded
from snowcatcher.tui.violation_brief import brief

SIDEWAYS = Binding.Group("columns")
_WHOLE_SECONDS = re.compile(r"^(\d\d:\d\d:\d\d)\.\d{3}$")
#: (title, width) of the fixed columns; the name and the last column share what is left.
DEFAULT_COLUMNS = (("time", 12), ("✓", 1), ("pr", 2), ("type", 10), ("name", 0), ("app_id", 12),
                   ("first violation", -1))
#: The GitLab columns keep the violation beside the name; what does not fit scrolls sideways.
GITLAB_COLUMNS = (("time", 12), ("✓", 1), ("event name", 34), ("first violation", 24),
                  ("category", 22), ("user_id", 10), ("namespace", 9), ("project", 9), ("plan", 8),
                  ("label", 12), ("property", 12), ("value", 6), ("extra", -1))
#: Below this width the columns narrow: time without milliseconds, shorter type and app id.
NARROW = 110
NARROW_WIDTHS = {"time": 8, "type": 9, "app_id": 7, "event name": 26, "first violation": 20}
#: Columns left of this stay in place when the list scrolls sideways (they say which event it is).
FROZEN = 3
#: The last column is never drawn narrower than this: past it, the columns scroll sideways.
LAST_COLUMN_MIN = 12


class EventList(ScrollView, can_focus=True):
    """Every event matching the filter, oldest first; only the visible window is ever fetched."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end,G", "last", "Last (and follow)", show=False),
        Binding("n", "next_invalid(1)", "next invalid", show=False),
        Binding("N", "next_invalid(-1)", "previous invalid", show=False),
        Binding("escape", "clear_filter", "clear filter"),
        Binding("left,h", "columns(-1)", "columns", key_display="←", group=SIDEWAYS,
                tooltip="Scroll the GitLab columns left (when they do not all fit)"),
        Binding("right,l", "columns(1)", "columns", key_display="→", group=SIDEWAYS,
                tooltip="Scroll the GitLab columns right (when they do not all fit)"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"event-list--header", "event-list--cursor", "event-list--valid",
                         "event-list--invalid", "event-list--unchecked", "event-list--dim",
                         "event-list--violation"}
    DEFAULT_CSS = """
    EventList { background: $surface; overflow-x: hidden; overflow-y: scroll; }
    EventList > .event-list--header { text-style: bold; color: $text-muted; background: $panel; }
    EventList > .event-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    EventList:blur > .event-list--cursor { background: $block-cursor-blurred-background; }
    EventList > .event-list--valid { color: $text-success; }
    EventList > .event-list--invalid { color: $text-error; text-style: bold; }
    EventList > .event-list--unchecked { color: $text-warning; text-style: bold; }
    EventList > .event-list--dim { color: $text-muted; }
    EventList > .event-list--violation { color: $text-warning; }
    """
    # The $text-* colours are the theme's own for text on its background: $warning is a bright
    # orange that a light theme's near-white background all but hides.

    def __init__(self, store: Store, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        #: What the list shows: the filtered, paged, counted events and the cursor.
        self.window = EventWindow(store)
        #: How many columns right of the frozen ones are scrolled out of sight (←/→).
        self.column_offset = 0
        self._gitlab_columns = False
        #: The event the detail pane was last told about.
        self._highlighted_id: int | None = None
        self._take_timer: Timer | None = None
        self._strips: LRUCache[tuple[int, bool, int, bool, int], Strip] = LRUCache(1000)

    # -- state -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.reload()

    @property
    def gitlab_columns(self) -> bool:
        return self._gitlab_columns

    @gitlab_columns.setter
    def gitlab_columns(self, value: bool) -> None:
        self._gitlab_columns = value
        self.column_offset = 0
        self.refresh()
        self.refresh_bindings()
        self._post_view()

    @property
    def where(self) -> Filter:
        return self.window.where

    @property
    def total(self) -> int:
        return self.window.total

    @property
    def cursor(self) -> int:
        return self.window.cursor

    @property
    def following(self) -> bool:
        return self.window.following

    @property
    def paused(self) -> bool:
        return self.window.paused

    @property
    def pending(self) -> int:
        """Events stored (and matching) since the display was paused."""
        return self.window.pending

    @property
    def counting(self) -> bool:
        """Whether the filter's matches are still being counted (the list shows a first page)."""
        return self.window.counting is not None

    @property
    def selected(self) -> CapturedEvent | None:
        return self.window.selected

    @property
    def selected_id(self) -> int | None:
        return self.window.selected_id

    @property
    def _rows(self) -> int:
        return self.size.height

    def reload(self, keep_id: int | None = None) -> None:
        """Re-count the matching events and redraw, keeping `keep_id` selected if it still matches."""
        self._shown(self.window.reload(keep_id, self._rows))

    def set_filter(self, where: Filter) -> None:
        """Show only the events matching `where`, keeping the selected event where possible."""
        self._shown(self.window.set_filter(where, self._rows))

    def _shown(self, counting: bool) -> None:
        """Draw what the window holds after a reload; a count left to the background starts once
        this first page is on screen (counting reads the disk and a core)."""
        self._strips.clear()
        self._set_rows()
        self._move_to(self.cursor)
        self.refresh()
        self._post_view()
        if counting and self.window.counting is not None:
            self.call_after_refresh(self._start_count, self.window.counting)

    def _start_count(self, counting: Counting) -> None:
        if counting is self.window.counting:
            self.run_worker(self._count(counting), group="count", exclusive=True)

    async def _count(self, counting: Counting) -> None:
        shift = await self.window.count(counting, self._rows)
        if shift is None:
            return
        top = int(self.scroll_y)
        self._strips.clear()
        self._set_rows()
        self.scroll_to(y=top + shift, animate=False, immediate=True)
        self._shown(self.window.counting is not None)
        self.take_new(self.store.last_id())

    def _grow_page(self, position: int) -> int:
        """While counting, fetch the matches beyond the page shown near its edge; returns how many
        rows were added before the page (and moved it down)."""
        before = self.total
        added = self.window.grow(position, self._rows)
        if self.total != before:
            top = int(self.scroll_y) + added
            self._set_rows()
            self.scroll_to(y=top, animate=False, immediate=True)
            self._post_view()
        return added

    def redraw_changed(self, event_ids: Collection[int]) -> None:
        """Stored events got new violations: show them as they are now. A filter may now match
        more or fewer events, so its matches are counted again."""
        if self.window.changed(event_ids):
            self.reload(keep_id=self.selected_id)
            return
        self._strips.clear()
        self.refresh()

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
        if self.window.take_new(last_id):
            self._set_rows()
            self._move_to(self.cursor)
            self.refresh()
        self._post_view()

    def set_paused(self, paused: bool) -> None:
        self.window.paused = paused
        if not paused:
            self.take_new(self.store.last_id())
        self._post_view()

    def set_following(self, following: bool) -> None:
        self.window.set_following(following)
        if following:
            self._move_to(self.total - 1)
        self._post_view()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc clears the filter only when there is one (the footer then says so).
        if action == "clear_filter":
            return bool(self.where)
        if action == "columns":
            # Shown while the columns are wider than the list, dimmed at either end.
            if not self.sideways:
                return False
            can = self.column_offset > 0 if parameters[0] == -1 else self.more_columns_right(
                self.scrollable_content_region.width)
            return can or None
        return True

    @property
    def sideways(self) -> bool:
        """Whether some columns are out of sight, to the left or the right (←/→ show them)."""
        return self.column_offset > 0 or self.more_columns_right(self.scrollable_content_region.width)

    def action_columns(self, step: int) -> None:
        """Scroll the columns right of the name sideways by one column."""
        width = self.scrollable_content_region.width
        if step < 0 and self.column_offset > 0:
            self.column_offset -= 1
        elif step > 0 and self.more_columns_right(width):
            self.column_offset += 1
        else:
            return
        self.refresh()
        self.refresh_bindings()
        self._post_view()

    def more_columns_right(self, width: int) -> bool:
        """Whether columns are cut off at the right edge of a list `width` cells wide."""
        if not self.gitlab_columns:
            return False  # the default columns always fit: the name and violation shrink instead
        spec = self._spec(width)
        hidden = spec[FROZEN:FROZEN + self.column_offset]
        shown = [column for column in spec if column not in hidden]
        fixed = sum(w + 1 for _, w in shown if w > 0) + 2
        return width - fixed < LAST_COLUMN_MIN and len(shown) > FROZEN + 1

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())

    def action_next_invalid(self, direction: int) -> None:
        """Jump to the next (or previous) invalid event without filtering the list."""
        position = self.window.position_of_next(Filter.parse("invalid"), direction)
        if position is None:
            self.notify("The filter's matches are still being counted: try again in a moment."
                        if self.counting else
                        "No later invalid event." if direction > 0 else "No earlier invalid event.")
            return
        self._move_to(position)
        self._leave_follow_unless_last()

    def _post_view(self) -> None:
        self.post_message(ViewChanged(self.total, self.following, self.paused, self.pending))

    # -- moving ------------------------------------------------------------------------------

    def select(self, position: int) -> None:
        """Put the cursor on `position` (0 = oldest shown) and show it."""
        self._move_to(position)
        self._leave_follow_unless_last()

    def event_at(self, position: int) -> CapturedEvent | None:
        """The event shown at `position`, if any."""
        return self.window.event_at(position, self._rows)

    def _move_to(self, position: int) -> None:
        before = self.cursor
        self.window.move_to(position)
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
        if self.window.counting is not None:
            self._show_end(newest=False)
        self._move_to(0)
        self._leave_follow_unless_last()

    def action_last(self) -> None:
        if self.window.counting is not None:
            self._show_end(newest=True)
        self.set_following(True)

    def _show_end(self, *, newest: bool) -> None:
        """Home or End before the count is known: the first or the newest matches, at once."""
        self.window.show_end(newest=newest, rows=self._rows)
        self._strips.clear()
        self._set_rows()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def _leave_follow_unless_last(self) -> None:
        if self.window.leave_follow_unless_last():
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
        self.refresh_bindings()  # columns may now fit, or no longer
        self._post_view()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._grow_page(int(self.scroll_y))
        if self.window.following:
            self.window.set_following(False)
            self._post_view()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._grow_page(int(self.scroll_y) + self.scrollable_content_region.height)

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._strip(self._header(width), "event-list--header", width)
        position = int(self.scroll_y) + y - 1
        if position >= self.total:
            return Strip.blank(width, self.rich_style)
        event = self.event_at(position)
        if event is None:
            return Strip.blank(width, self.rich_style)
        key = (event.id, position == self.cursor, width, self.gitlab_columns, self.column_offset)
        strip = self._strips.get(key)
        if strip is None:
            cursor = "event-list--cursor" if key[1] else ""
            row = guarded(f"event #{event.id} in the list", lambda: self.row(event, width, cursor=key[1]),
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

    def _spec(self, width: int) -> tuple[tuple[str, int], ...]:
        spec: tuple[tuple[str, int], ...] = GITLAB_COLUMNS if self.gitlab_columns else DEFAULT_COLUMNS
        if width < NARROW:  # narrow: the name says which event it is; time and app id give way
            spec = tuple((title, NARROW_WIDTHS.get(title, w) if w > 0 else w) for title, w in spec)
        return spec

    def _columns(self, width: int) -> list[tuple[str, int]]:
        """(title, width) of the columns drawn, in order; a column scrolled out of sight is 0 wide."""
        spec = self._spec(width)
        hidden = range(FROZEN, FROZEN + self.column_offset) if self.gitlab_columns else range(0)
        fixed = sum(w + 1 for n, (_, w) in enumerate(spec) if w > 0 and n not in hidden) + 2
        flexible = max(20, width - fixed)
        if width >= NARROW:
            name_width = max(16, min(44, flexible // 2))
        else:  # the violation keeps room for its short form (`realm: not in enum`)
            name_width = max(16, flexible - max(NARROW_WIDTHS["first violation"], flexible * 2 // 5))
        last_width = LAST_COLUMN_MIN if self.gitlab_columns else max(8, flexible - name_width)
        return [(title, 0 if n in hidden else name_width if w == 0
                 else max(last_width, width - fixed) if w < 0 and self.gitlab_columns
                 else last_width if w < 0 else w)
                for n, (title, w) in enumerate(spec)]

    def _header(self, width: int) -> Text:
        header = self._line([Text(title) for title, _ in self._columns(width)], width)
        # Say that columns are scrolled out of sight, at the edge where they are.
        if self.gitlab_columns and self.column_offset:
            columns = self._columns(width)
            at = sum(size + 1 for _, size in columns[:FROZEN])  # the space before the first shown
            header = header[:at] + Text("◂") + header[at + 1:]
        if self.more_columns_right(width):
            header = header[:width - 1] + Text("▸")
        return header

    def _line(self, cells: list[Text], width: int) -> Text:
        line = Text(" ", end="", no_wrap=True)
        for cell, (_, size) in zip(cells, self._columns(width), strict=True):
            if size == 0:
                continue
            cell.truncate(size, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        return line

    def _fg(self, component: str) -> Style:
        """A component's colour and weight only, so that the cursor's background shows through."""
        style = self.get_component_rich_style(component)
        return Style(color=style.color, bold=style.bold, italic=style.italic)

    def _weight(self, component: str) -> Style:
        style = self.get_component_rich_style(component)
        return Style(bold=style.bold, italic=style.italic)

    def row(self, event: CapturedEvent, width: int, *, cursor: bool = False) -> Text:
        """The list row `event` is drawn as, `width` cells wide (on the cursor's colours if `cursor`)."""
        # The cells' colours are for the list's background; on the cursor's (a dark blue in the
        # light theme too) muted grey, red and orange all but vanished: the cursor row keeps
        # only their weight.
        style = self._weight if cursor else self._fg
        mark = Text(MARKS[event.verdict], style=style(f"event-list--{event.verdict}"))
        shown_time = readable_time(event.received_at, date=False)
        if width < NARROW:  # seconds are enough to tell rows apart at a glance; the detail has the rest
            shown_time = _WHOLE_SECONDS.sub(r"\1", shown_time)
        time = Text(shown_time, style=style("event-list--dim"))
        problem = Text(clean(brief(event.violations[0])) if event.violations else "",
                       style=style("event-list--violation"))
        if self.gitlab_columns:
            name, *rest = self._gitlab_cells(event)
            return self._line([time, mark, name, problem, *rest], width)
        return self._line([time, mark, Text(clean(PROTOCOLS.short_name(event.protocol))),
                           Text(clean(event.event_type)), Text(clean(event.name)),
                           Text(clean(event.app_id)), problem], width)

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
