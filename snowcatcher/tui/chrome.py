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
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label

from snowcatcher.model import Counts
from snowcatcher.store.query import Filter, FilterError
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
        line.append(f" {clean(address)}  " if address else "  ")
        line.append(f" ✓ {counts.valid:,} ", style="bold green")
        line.append(f" ✗ {counts.invalid:,} ", style="bold red")
        if counts.unchecked:
            line.append(f" ? {counts.unchecked:,} not checked yet ", style="bold yellow")
        for alert in alerts:  # early in the line, so that a narrow terminal still shows them
            line.append(f"  ⚠ {clean(alert)} ", style="bold yellow")
        line.append(f"  {rate:,.1f} ev/s  ")
        if paused:
            line.append(f" ❚❚ paused ({pending:,} new) ", style="bold yellow")
        else:
            line.append(" ● following " if following else " ○ not following ",
                        style="bold cyan" if following else "dim")
        if where:
            shown_text = f"{shown:,} shown" if shown >= 0 else "counting…"
            line.append(f"  filter: {clean(where)}  ({shown_text})", style="italic")
        if line != self._line:
            self._line = line
            self.refresh()


class FilterBar(Vertical):
    """A one-line filter input; Enter applies, Escape closes, errors show below it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close filter", show=False)]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: text  type:struct  name:i_code_*  schema:gitlab_standard  "
                                "app:gitlab  stream:…  invalid  -term", id="filter-input")
        yield Label("", id="filter-error")

    def open(self, current: str) -> None:
        self.display = True
        entry = self.query_one(Input)
        entry.value = current
        entry.focus()

    def action_close(self) -> None:
        self.display = False
        self.query_one("#filter-error", Label).update("")
        self.screen.focus_next()

    def parse(self) -> Filter | None:
        """The typed filter, or None (with the reason shown) when it cannot be read."""
        try:
            return Filter.parse(self.query_one(Input).value)
        except FilterError as error:
            self.query_one("#filter-error", Label).update(Text(clean(str(error)), style="bold red"))
            return None


class ConfirmClear(ModalScreen[bool]):
    """Asks before forgetting every captured event."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Clear")]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(Text(f"Forget all {self.count:,} captured events? This cannot be undone."),
                        id="confirm-question")
            yield Button("Clear (y)", variant="error", id="yes")
            yield Button("Cancel (n)", variant="primary", id="no")

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
