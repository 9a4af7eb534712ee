"""The header line, the footer, the filter bar and the clear confirmation: the widgets around the list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label

from snowcatcher.model import Counts
from snowcatcher.store.completion import completions
from snowcatcher.store.query import Filter, FilterError
from snowcatcher.store.store import Store
from snowcatcher.tui.safe import clean


class KeyFooter(Footer):
    """Textual's footer, without keeping every key it ever showed alive.

    It recomposes its keys whenever focus moves (the filter bar opens and closes at each filter),
    and each new key watches Footer.compact; the footer forgets the closed keys only when that
    reactive is set. Left alone, each filter kept ~3,000 objects, and every full garbage
    collection walked them all: 100 ms and more after a few dozen filters.
    """

    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)  # drops the watchers of the keys just removed


class StatusBar(Widget):
    """` snowcatcher  listening on …  ✓ 1,204  ✗ 17  12.4 ev/s  ● following  filter: …`.

    It redraws without a layout pass (its size never changes), which matters at 2,000 events/s.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._line = Text(" snowcatcher", style="bold")

    def render(self) -> Text:
        return self._line

    def show(self, *, address: str, counts: Counts, rate: float, shown: int, following: bool,
             paused: bool, pending: int, where: str, alerts: Sequence[str] = ()) -> None:
        line = Text(" snowcatcher ", style="bold", no_wrap=True, overflow="ellipsis")
        if 0 < self.size.width < 120:  # compact: the counts and the filter matter more
            address = address.removeprefix("listening on ")
        line.append(f" {clean(address)}  " if address else "  ")
        line.append(f" ✓ {counts.valid:,} ", style="bold green")
        line.append(f" ✗ {counts.invalid:,} ", style="bold red")
        if counts.unchecked:
            line.append(f" ? {counts.unchecked:,} not checked yet ", style="bold yellow")
        for alert in alerts:  # early in the line, so that a narrow terminal still shows them
            line.append(f"  ⚠ {clean(alert)} ", style="bold yellow")
        if where:  # before the rate: at 80 columns the filter must still show
            shown_text = f"{shown:,} of {counts.total:,}" if shown >= 0 else "counting…"
            line.append(f"  filter: {clean(where)} ({shown_text}) ", style="bold italic")
        if paused:
            line.append(f" ❚❚ paused ({pending:,} new) ", style="bold yellow")
        else:
            line.append(" ● following " if following else " ○ not following ",
                        style="bold cyan" if following else "dim")
        line.append(f"  {rate:,.1f} ev/s")
        if line != self._line:
            self._line = line
            self.refresh()


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
            return Filter.parse(self.query_one(Input).value)
        except FilterError as error:
            self._say(Text(f"✗ {clean(str(error))}", style="bold red"))
            return None


class Confirm(ModalScreen[bool]):
    """Asks before something that cannot be undone; Cancel has the focus, so a reflex Enter
    changes nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str, yes: str) -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(Text(self.question), id="confirm-question")
            yield Button(f"{self.yes} (y)", variant="error", id="yes")
            yield Button("Cancel (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ConfirmClear(Confirm):
    """Asks before forgetting every captured event."""

    def __init__(self, count: int) -> None:
        super().__init__(f"Forget all {count:,} captured events? This cannot be undone.", "Clear")
        self.count = count


class ConfirmQuit(Confirm):
    """Asks before quitting a temporary capture that holds events: they go with it."""

    def __init__(self, count: int) -> None:
        super().__init__(f"This capture is temporary: its {count:,} events are deleted when "
                         "snowcatcher quits (start with --db FILE to keep a capture). Quit?", "Quit")
