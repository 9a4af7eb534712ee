"""The metrics view (`m`): every GitLab metric an event of this capture touched, with this capture's
contribution, kept up to date as events arrive (monitor.rb's RELEVANT METRICS without Rails)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from snowcatcher.gitlab.definitions import DefinitionSource
from snowcatcher.gitlab.metrics import MetricTally
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.tui.gitlab_views import CONTRIBUTION_NOTE, contributions_table

#: The events that can feed a metric: struct events with a GitLab context.
GITLAB_STRUCT = Filter.parse("type:struct schema:gitlab_")
PAGE = 500


class MetricsScreen(Screen[None]):
    """The metrics table; the app calls `update_values` when events are stored."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,m,q", "app.pop_screen", "back", tooltip="Back to the event list"),
        Binding("i", "reset_initial", "reset", tooltip="Take the current values as the ones to compare with"),
    ]

    def __init__(self, store: Store, source: DefinitionSource, tally: MetricTally) -> None:
        super().__init__()
        self.store = store
        self.source = source
        self.tally = tally
        self.initial: dict[str, float | int | None] = {}
        self.changed: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static(Text("GitLab metrics touched by this capture's events", style="bold"),
                     id="metrics-title")
        yield Static(Text(CONTRIBUTION_NOTE, style="italic"), id="metrics-note")
        with VerticalScroll(id="metrics-scroll"):
            yield Static(id="metrics-table")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "GitLab metrics"
        self._catch_up()
        self.action_reset_initial()
        # Definition files are polled by the source itself (at most once a second); this timer
        # only shows a reload while no event arrives. It reads nothing from the store unless the
        # definitions changed.
        self.set_interval(1.0, self._definitions_changed)

    def update_values(self) -> None:
        self._catch_up()
        self._show()

    def action_reset_initial(self) -> None:
        self.initial = {row.metric.key_path: row.value for row in self.tally.rows()}
        self.changed = set()
        self._show()

    def _definitions_changed(self) -> None:
        if self.source.current().generation != self.tally.epoch[0]:
            self.update_values()

    def _catch_up(self) -> None:
        self.changed = self.tally.catch_up(
            self.source.current(), lambda after: self.store.after(after, GITLAB_STRUCT, PAGE),
            self.store.generation)

    def _show(self) -> None:
        rows = self.tally.rows()
        table = self.query_one("#metrics-table", Static)
        if not rows:
            table.update(Text("No captured GitLab internal event names a metric yet.", style="dim"))
            return
        table.update(contributions_table(rows, self.initial, self.changed))
