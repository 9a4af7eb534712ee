"""The filter bar: typed filters with history, completion and a live match count."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Label

from snowcatcher.runtime import PROTOCOLS
from snowcatcher.store.completion import completions
from snowcatcher.store.query import Filter, FilterError
from snowcatcher.store.store import Store
from snowcatcher.tui.inert_text import clean


class FilterBar(Vertical):
    """A one-line filter input above the footer: Enter applies, Escape closes, ↑/↓ walk the
    history, Tab completes; below it, how many events match as you type, or what is wrong."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close", show=False),
        Binding("up", "history(-1)", "earlier filter", show=False),
        Binding("down", "history(1)", "later filter", show=False),
        Binding("tab", "complete", "complete", show=False),
    ]
    #: Above this many stored events the bar does not count matches as you type (Enter does).
    COUNT_AS_YOU_TYPE_UP_TO = 100_000

    def __init__(self, store: Store, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        #: Filters applied before, oldest first (↑ walks back through them).
        self.history: list[str] = []
        self._history_at = 0
        self._completions: list[str] = []
        self._completed = ""
        self._hint_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: text  type:struct  name:i_code_*  schema:gitlab_standard  "
                                "app:gitlab  stream:…  protocol:eg  invalid  -term   (Tab completes)",
                    id="filter-input")
        yield Label("", id="filter-error")

    def open(self, current: str) -> None:
        self.display = True
        self._history_at = len(self.history)
        entry = self.query_one(Input)
        entry.value = current
        entry.cursor_position = len(current)
        # At once, not after a refresh as focus() does: keys typed right after `/` (a paste, a
        # fast typist, tmux send-keys) would otherwise reach the list and run its commands.
        self.screen.set_focus(entry)
        self._show_hint()

    def action_close(self) -> None:
        self.display = False
        self.query_one("#filter-error", Label).update("")
        self.screen.focus_next()

    def remember(self, text: str) -> None:
        """Keep an applied filter for ↑ (once, as the newest)."""
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._history_at = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._history_at = max(0, min(len(self.history), self._history_at + step))
        entry = self.query_one(Input)
        entry.value = self.history[self._history_at] if self._history_at < len(self.history) else ""
        entry.cursor_position = len(entry.value)

    def action_complete(self) -> None:
        """Complete the last term; pressing Tab again goes on to the next completion."""
        entry = self.query_one(Input)
        if entry.value != self._completed or not self._completions:
            self._completions = completions(entry.value, self.store.values_seen)
        if not self._completions:
            self._say(Text("nothing to complete here", style="dim"))
            return
        choice = self._completions.pop(0)
        self._completions.append(choice)
        self._completed = entry.value = choice
        entry.cursor_position = len(choice)

    @on(Input.Changed, "#filter-input")
    def _typed(self, message: Input.Changed) -> None:
        if self._hint_timer is not None:
            self._hint_timer.stop()
        self._hint_timer = self.set_timer(0.15, self._show_hint)

    def _show_hint(self) -> None:
        """How many events the typed filter matches, or why it cannot be read."""
        where = self.parse()
        if where is None:
            return
        total = self.store.counts().total
        if not where:
            self._say(Text(f"no filter: every event ({total:,}); Enter applies, Esc closes",
                           style="dim"))
        elif self.store.known_count(where) or total <= self.COUNT_AS_YOU_TYPE_UP_TO:
            self._say(Text(f"{self.store.count(where):,} of {total:,} events match; Enter applies",
                           style="dim"))
        else:
            self._say(Text(f"Enter applies (counting {total:,} events takes a moment)", style="dim"))

    def _say(self, line: Text) -> None:
        self.query_one("#filter-error", Label).update(line)

    def parse(self) -> Filter | None:
        """The typed filter, or None (with the reason shown) when it cannot be read."""
        try:
            return Filter.parse(self.query_one(Input).value, PROTOCOLS)
        except FilterError as error:
            self._say(Text(f"✗ {clean(str(error))}", style="bold red"))
            return None
