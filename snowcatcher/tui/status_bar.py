"""The header line: where snowcatcher listens, the verdict counts, the filter and the follow state."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from snowcatcher.model import Counts
from snowcatcher.tui.inert_text import clean


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
             paused: bool, pending: int, where: str, alerts: Sequence[str] = (), busy: str = "") -> None:
        line = Text(" snowcatcher ", style="bold", no_wrap=True, overflow="ellipsis")
        # The theme's colours for text, not ANSI ones: ANSI yellow on a light theme is unreadable.
        theme = self.app.theme_variables
        good, bad, warn = (f"bold {theme.get(f'text-{name}', fallback)}" for name, fallback in
                           (("success", "green"), ("error", "red"), ("warning", "yellow")))
        if 0 < self.size.width < 120:  # compact: the counts and the filter matter more
            address = address.removeprefix("listening on ")
        line.append(f" {clean(address)}  " if address else "  ")
        line.append(f" ✓ {counts.valid:,} ", style=good)
        line.append(f" ✗ {counts.invalid:,} ", style=bad)
        if counts.unchecked:
            line.append(f" ? {counts.unchecked:,} not checked yet ", style=warn)
        if busy:  # a long task's progress (re-validation)
            line.append(f"  ⟳ {clean(busy)} ", style="bold cyan")
        for alert in alerts:  # early in the line, so that a narrow terminal still shows them
            line.append(f"  ⚠ {clean(alert)} ", style=warn)
        if where:  # before the rate: at 80 columns the filter must still show
            shown_text = f"{shown:,} of {counts.total:,}" if shown >= 0 else "counting…"
            line.append(f"  filter: {clean(where)} ({shown_text}) ", style="bold italic")
        if paused:
            line.append(f" ❚❚ paused ({pending:,} new) ", style=warn)
        else:
            line.append(" ● following " if following else " ○ not following ",
                        style="bold cyan" if following else "dim")
        line.append(f"  {rate:,.1f} ev/s")
        if line != self._line:
            self._line = line
            self.refresh()
