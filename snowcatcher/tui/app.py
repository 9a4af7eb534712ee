"""SnowcatcherApp: wires the store, the in-process collector and the widgets; bindings and commands."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shlex
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from snowcatcher.gitlab.definitions import DefinitionSource
from snowcatcher.gitlab.metrics import MetricTally
from snowcatcher.headless import HeadlessPrinter
from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import (
    PROTOCOLS,
    Settings,
    Snowcatcher,
    StaleStreamConfig,
    StartupError,
    serve_until_stopped,
)
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.tui import actions, preferences
from snowcatcher.tui.confirm import ConfirmClear, ConfirmQuit
from snowcatcher.tui.event_detail import TABS, EventDetail
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.filter_bar import FilterBar
from snowcatcher.tui.help import HelpScreen
from snowcatcher.tui.key_footer import KeyFooter
from snowcatcher.tui.messages import (
    ClearFilter,
    CopyRequested,
    EventHighlighted,
    EventsStored,
    EventsUpdated,
    SchemaRequested,
    StoreReset,
    ViewChanged,
)
from snowcatcher.tui.metrics_view import MetricsScreen
from snowcatcher.tui.resilience import HoldLogs
from snowcatcher.tui.schema_view import SchemaScreen
from snowcatcher.tui.status_bar import StatusBar


def _binding(key: str, action: str, description: str, tooltip: str, **kw: object) -> Binding:
    return Binding(key, action, description, tooltip=tooltip, id=action.split("(")[0], **kw)  # type: ignore[arg-type]


class SnowcatcherApp(App[int]):
    """Watch events arrive live, read their decoded trees, see every violation."""

    TITLE = "snowcatcher"
    CSS_PATH = Path(__file__).parent / "snowcatcher.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Help and quit first: the footer keeps them in sight at any width.
        _binding("question_mark,f1", "help", "help", "The keys of the focused part, then every key"),
        _binding("q", "quit", "quit", "Stop the collector and quit"),
        # A priority binding runs as the app reads the key, before it reads the next: the keys typed
        # right after `/` then go to the filter bar, never to the list still focused meanwhile.
        _binding("slash", "filter", "filter", "Filter the list: text, type:, name:, schema:, app:, "
                 "stream:, invalid, -negation", priority=True),
        _binding("v", "invalid_only", "invalid only", "Show only events with violations (toggle)"),
        _binding("f", "follow", "follow", "Keep the newest event selected as events arrive (toggle)"),
        _binding("p", "pause", "pause", "Freeze the display; capture goes on (toggle)"),
        _binding("g", "gitlab_columns", "GitLab", "GitLab columns: internal event name, user, "
                 "namespace, project, plan, extra (toggle)"),
        _binding("m", "gitlab_metrics", "metrics", "GitLab metrics touched by this capture's events, with "
                 "this capture's contribution (needs --gitlab)"),
        _binding("y", "copy_json", "copy", "Copy the selected event as JSON"),
        _binding("Y", "copy_curl", "curl", "Copy a curl command that replays the selected event's request"),
        _binding("e", "export", "export", "Export the shown events as NDJSON"),
        Binding("s", "secrets", "secrets", show=False,
                tooltip="Show or hide cookies and Authorization in the HTTP tab"),
        _binding("r", "revalidate", "revalidate", "Re-read schemas from disk and re-check every event; "
                 "while it runs, r or Esc cancels it"),
        Binding("escape", "cancel_revalidation", "cancel re-check", show=False, priority=True,
                tooltip="Cancel the re-check running (what was re-checked stays)"),
        _binding("c", "clear", "clear", "Forget every captured event (asks first)"),
        Binding("plus", "split(1)", "taller list", show=False,
                tooltip="Give the event list more of the screen, the detail less"),
        Binding("minus", "split(-1)", "shorter list", show=False,
                tooltip="Give the detail more of the screen, the list less"),
        Binding("z", "maximize_pane", "maximize", show=False,
                tooltip="Maximize the focused pane, or put it back (toggle)"),
        Binding("enter", "open_detail", "details", show=False, tooltip="Look inside the selected event"),
        Binding("escape", "back_to_list", "back", show=False, tooltip="Back to the event list"),
        *[Binding(str(n), f"tab('{tab}')", tab, show=False) for n, tab in enumerate(TABS, 1)],
    ]

    def __init__(self, store: Store, *, server: Snowcatcher | None = None,
                 revalidate: actions.Revalidate | None = None,
                 export_dir: Path | None = None, address: str = "",
                 gitlab: DefinitionSource | None = None, keep_serving_on_error: bool = False) -> None:
        super().__init__()
        #: After an unexpected error the screen closes; with this the collector is left running
        #: for run_tui to carry on without it.
        self.keep_serving_on_error = keep_serving_on_error
        self.store = store
        store.browse()  # a bigger page cache for paging at 1M rows
        self.server = server
        self.revalidate = revalidate or (server.revalidate if server is not None else None)
        self.export_dir = export_dir or Path.cwd()
        self.address = address
        self.filter_text = ""
        self.invalid_only = False
        #: The list's share of the height the list and the detail split, in tenths (`+`, `-`).
        self.list_share = 5
        self._rates: deque[tuple[float, int]] = deque(maxlen=6)
        self._detail_timer: Timer | None = None
        self._disconnect = [store.signals.appended.connect(self._on_stored),
                            store.signals.updated.connect(self._on_updated),
                            store.signals.reset.connect(self._on_reset)]
        #: GitLab definitions (--gitlab), and what this capture contributes to their metrics.
        self.gitlab: DefinitionSource | None = gitlab or (server.gitlab if server is not None else None)
        self.metric_tally = MetricTally()
        #: Set to stop the re-validation running (`r` again, Esc); None when none runs.
        self._revalidation_stop: asyncio.Event | None = None
        #: What a long task is doing, for the status bar ("re-checking 120,000 of 300,000").
        self.busy = ""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield EventList(self.store, id="events")
        yield EventDetail(self.store, id="detail", gitlab=self.gitlab)
        yield FilterBar(self.store, id="filter-bar")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self._restore(preferences.load())
        self.theme_changed_signal.subscribe(self, self._redraw_for_theme)
        self.query_one(FilterBar).display = False
        self.query_one(EventList).focus()
        self.query_one(EventDetail).reveal_secrets = self.show_secrets
        if self.server is not None:
            try:
                await self.server.start()
            except StartupError as error:
                self.exit(2, message=f"snowcatcher: {error}")
                return
            self.address = f"listening on {self.server.url}"
        detail = self.query_one(EventDetail)
        detail.base_url = self.address.removeprefix("listening on ")
        detail.event_id = detail.event_id  # redraw the first screen with the address
        self.set_interval(1.0, self._tick)
        self._tick()
        self.call_after_refresh(self._freeze_startup_objects)

    @staticmethod
    def _freeze_startup_objects() -> None:
        # A full collection walks every object Textual, Rich and the schemas created at startup:
        # 60-130 ms here, landing at random in a filter's or a key's frame. Frozen, they are skipped.
        gc.collect()
        gc.freeze()

    def _restore(self, remembered: preferences.Preferences) -> None:
        """Last run's theme, GitLab columns and split; its filter is recalled by ↑ in the filter
        bar, not applied: a list silently filtered at start would hide events."""
        if remembered.theme in self.available_themes:
            self.theme = remembered.theme
        self.query_one(EventList).gitlab_columns = remembered.gitlab_columns
        self.list_share = remembered.list_share
        self.action_split(0)
        self.query_one(FilterBar).remember(remembered.last_filter)

    def _remembered(self) -> preferences.Preferences:
        history = self.query_one(FilterBar).history
        return preferences.Preferences(
            theme=self.theme, gitlab_columns=self.query_one(EventList).gitlab_columns,
            list_share=self.list_share, last_filter=history[-1] if history else "")

    def _remember(self) -> None:
        """Save the preferences as they change (an exit may come by any path)."""
        with contextlib.suppress(NoMatches):
            preferences.save(self._remembered())

    def _redraw_for_theme(self, _: object) -> None:
        """A theme switch redraws the detail too: the Raw tab's highlighting follows the theme."""
        with contextlib.suppress(NoMatches):
            detail = self.query_one(EventDetail)
            detail.event_id = detail.event_id
        if self._rates:
            self._show_status()  # its counts are in the theme's colours
        self._remember()

    async def on_unmount(self) -> None:
        gc.unfreeze()
        for disconnect in self._disconnect:
            disconnect()
        if self.server is not None and not (self.keep_serving_on_error and self.failed):
            await self.server.stop()

    @property
    def failed(self) -> bool:
        """True once an unexpected error has closed the app (Textual's return code 1)."""
        return self.return_code == 1

    # -- the store bridge --------------------------------------------------------------------

    def _on_stored(self, events: Sequence[CapturedEvent]) -> None:
        self.post_message(EventsStored(events[-1].id))

    def _on_updated(self, event_ids: Sequence[int]) -> None:
        self.post_message(EventsUpdated(frozenset(event_ids)))

    def _on_reset(self, _: None) -> None:
        self.post_message(StoreReset())

    def on_events_stored(self, message: EventsStored) -> None:
        for events in self.query(EventList):
            events.notice_new()
        if isinstance(self.screen, MetricsScreen):
            self.screen.update_values()

    def on_events_updated(self, message: EventsUpdated) -> None:
        for events in self.query(EventList):
            events.redraw_changed(message.event_ids)
            if events.selected_id in message.event_ids:
                self._show_detail(events.selected_id)
        self._show_status()

    def on_store_reset(self, message: StoreReset) -> None:
        for events in self.query(EventList):
            events.reload()
        self._show_detail(None)
        self._show_status()

    def on_view_changed(self, message: ViewChanged) -> None:
        self._show_status()

    def on_event_highlighted(self, message: EventHighlighted) -> None:
        if not self.screen_stack:
            return  # the list's last highlight, read while the app closes: there is no screen left
        with contextlib.suppress(NoMatches):
            self._title_list(self.query_one(EventList))
        if self._detail_pinned():
            return  # the user is reading the detail: it keeps its event until they leave it
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(0.05, lambda: self._show_detail(message.event_id))

    def _detail_pinned(self) -> bool:
        focused = self.focused
        return focused is not None and any(isinstance(node, EventDetail) for node in focused.ancestors)

    def _show_selected_now(self) -> None:
        """Show the highlighted event in the detail at once (not after the 50 ms debounce)."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        events = self.query_one(EventList)
        if self.query_one(EventDetail).event_id != events.selected_id:
            self._show_detail(events.selected_id)

    def _show_detail(self, event_id: int | None) -> None:
        with contextlib.suppress(NoMatches):  # a timer firing while the app closes
            self.query_one(EventDetail).event_id = event_id

    def _tick(self) -> None:
        self._rates.append((time.monotonic(), self.store.counts().total))
        self._show_status()

    def _show_status(self) -> None:
        (start, first), (end, last) = self._rates[0], self._rates[-1]
        rate = (last - first) / (end - start) if end > start else 0.0
        try:
            events, bar = self.query_one(EventList), self.query_one(StatusBar)
        except NoMatches:
            return  # the app is closing: its widgets go before its timers stop
        self._title_list(events)
        bar.show(
            address=self.address, counts=self.store.counts(), rate=max(rate, 0.0),
            shown=-1 if events.counting else events.total, following=events.following, paused=events.paused,
            pending=events.pending, where=str(events.where.text), alerts=self._alerts(), busy=self.busy)

    def _title_list(self, events: EventList) -> None:
        """The list's border says what it shows: the filter, N of M, the row, what is new below."""
        total = self.store.counts().total
        shown = "counting…" if events.counting else f"{events.total:,}"
        events.border_title = (f"events · filter: {events.where.text} · {shown} of {total:,}"
                               if events.where else f"events · {total:,}")
        parts = [f"row {events.cursor + 1:,} of {shown}"] if events.cursor >= 0 else []
        if events.window.new_below:
            parts.append(f"↓ {events.window.new_below:,} new")
        if events.sideways:
            parts.append("←→ columns")
        events.border_subtitle = " · ".join(parts)

    def _alerts(self) -> list[str]:
        """Trouble worth a glance in the header: the capture file's warnings, requests that were
        not valid HTTP."""
        alert = self.server.unparseable.alert() if self.server else ""
        unparseable = [alert] if alert else []
        warnings = self.store.check_files()
        if not warnings:
            return unparseable
        return [f"capture file: {warnings[-1]} (and {len(warnings) - 1} more)" if len(warnings) > 1
                else f"capture file: {warnings[0]}", *unparseable]

    # -- filtering ---------------------------------------------------------------------------

    def action_filter(self) -> None:
        if len(self.screen_stack) > 1 or isinstance(self.focused, Input):
            raise SkipAction  # a `/` typed into a filter, or on a dialog: theirs, not the app's
        self.query_one(FilterBar).open(self.filter_text)

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, message: Input.Submitted) -> None:
        bar = self.query_one(FilterBar)
        if bar.parse() is not None:
            self.filter_text = message.value.strip()
            bar.remember(self.filter_text)
            self._remember()
            bar.action_close()
            self._apply_filter()
            self.query_one(EventList).focus()

    def action_invalid_only(self) -> None:
        self.invalid_only = not self.invalid_only
        self._apply_filter()

    def _apply_filter(self) -> None:
        text = f"{self.filter_text} invalid".strip() if self.invalid_only else self.filter_text
        self.query_one(EventList).set_filter(Filter.parse(text, PROTOCOLS))
        self._show_status()
        self.refresh_bindings()  # Esc's "clear filter" shows only while a filter is on

    def on_clear_filter(self, message: ClearFilter) -> None:
        self.filter_text = ""
        self.invalid_only = False
        self._apply_filter()
        self.notify("Filter cleared: every event is shown.")

    # -- toggles and actions -----------------------------------------------------------------

    def action_follow(self) -> None:
        events = self.query_one(EventList)
        events.set_following(not events.following)

    def action_pause(self) -> None:
        events = self.query_one(EventList)
        events.set_paused(not events.paused)

    def action_gitlab_columns(self) -> None:
        events = self.query_one(EventList)
        events.gitlab_columns = not events.gitlab_columns
        events.refresh()
        self._remember()

    def action_gitlab_metrics(self) -> None:
        if self.gitlab is None:
            self.notify("Start snowcatcher with --gitlab PATH (your GitLab checkout) to see the metrics "
                        "its events feed.", severity="warning")
            return
        self.push_screen(MetricsScreen(self.store, self.gitlab, self.metric_tally))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, HelpScreen):
            return False  # the help lists the keys; it runs none of them
        if isinstance(self.screen, MetricsScreen | SchemaScreen):
            return action in ("quit", "pop_screen")  # the list's keys have no list to act on there
        if action == "cancel_revalidation":  # Esc cancels only while a re-check runs on the main screen
            return self._revalidation_stop is not None and len(self.screen_stack) == 1
        # The metrics key is shown only when there are GitLab definitions to count with.
        return self.gitlab is not None if action == "gitlab_metrics" else True

    def action_open_detail(self) -> None:
        self._show_selected_now()  # Enter pins the event highlighted now, never the one before
        self.query_one(EventDetail).focus_active()

    def action_back_to_list(self) -> None:
        self.query_one(EventList).focus()
        self._show_selected_now()  # following resumes: the list may have moved meanwhile

    @property
    def show_secrets(self) -> bool:
        """--show-secrets: cookies and Authorization unredacted in `Y` and, at first, the HTTP tab."""
        return self.server is not None and self.server.settings.show_secrets

    def action_secrets(self) -> None:
        detail = self.query_one(EventDetail)
        detail.toggle_secrets()
        self.notify("Cookies and Authorization shown in the HTTP tab." if detail.reveal_secrets else
                    "Cookies and Authorization redacted in the HTTP tab.")

    def action_tab(self, tab: str) -> None:
        self.query_one(EventDetail).show_tab(tab)

    def action_copy_json(self) -> None:
        event = self.query_one(EventList).selected
        if event is None:
            self.notify("No event selected.", severity="warning")
            return
        self._copy(actions.event_json(event), f"event #{event.id} as JSON")

    def action_copy_curl(self) -> None:
        event = self.query_one(EventList).selected
        stored = self.store.request(event.request_id) if event else None
        if stored is None:
            self.notify("No request to replay.", severity="warning")
            return
        base = self.address.removeprefix("listening on ") or "http://127.0.0.1:9090"
        self._copy(actions.curl_command(stored, base, show_secrets=self.show_secrets),
                   f"a curl command replaying request #{stored.request.id}")

    def on_copy_requested(self, message: CopyRequested) -> None:
        """A field's value or pointer from the Entities tree (`x`, `P`)."""
        self._copy(message.text, message.what)

    async def on_schema_requested(self, message: SchemaRequested) -> None:
        """Show an entity's schema (`o`), or hand its file to $EDITOR (`E`)."""
        if self.server is None:
            self.notify("Schemas are not available here: this session has no collector of its own.",
                        severity="warning")
            return
        resolution = self.server.schema(message.uri)
        place = resolution.places[0] if resolution.found or len(resolution.places) == 1 else ""
        if not message.edit:
            problem = "" if resolution.found else resolution.explain()
            self.push_screen(SchemaScreen(message.uri, place, resolution.schema, problem,
                                          dark=self.current_theme.dark))
            return
        local = Path(place) if place and "://" not in place else None
        if local is None or not local.is_file():
            why = f"it came from {place}" if place else resolution.explain()
            self.notify(f"{message.uri} is not a local file to edit: {why}", severity="warning",
                        markup=False)
            return
        await self._edit(local)

    async def _edit(self, path: Path) -> None:
        """Hand the terminal to $VISUAL or $EDITOR for `path`; the collector keeps capturing."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify(f"Set $EDITOR (or $VISUAL) to edit schemas from here; the file is {path}",
                        severity="warning", markup=False, timeout=10)
            return
        try:
            with self.suspend():
                # Awaited, not run: the event loop, and with it the collector, goes on meanwhile.
                process = await asyncio.create_subprocess_exec(*shlex.split(editor), str(path))
                await process.wait()
        except SuspendNotSupported:
            self.notify(f"This terminal cannot be handed to an editor (a browser tab?); the file is "
                        f"{path}", severity="warning", markup=False, timeout=10)
            return
        except OSError as error:
            self.notify(f"Could not start {editor}: {error}", severity="error", markup=False)
            return
        self.refresh(layout=True)
        self.notify(f"Edited {path}: press r to re-check the captured events against it.",
                    markup=False, timeout=10)

    def _copy(self, text: str, what: str) -> None:
        """Copy through the terminal (OSC 52), and say honestly where the copy went: a terminal
        may ignore OSC 52 (tmux does by default), so the text is also written to a file."""
        self.copy_to_clipboard(text)
        try:
            path = actions.copy_file(text, self.export_dir)
        except OSError as error:
            self.notify(f"Sent {what} to the terminal's clipboard (OSC 52; some terminals and tmux "
                        f"ignore it), and could not write a copy to a file: {error}",
                        severity="warning", markup=False)
            return
        self.notify(f"Sent {what} to the terminal's clipboard (OSC 52; some terminals and tmux "
                    f"ignore it) and wrote it to {path}", markup=False, timeout=8)

    @work(exclusive=True, group="export")
    async def action_export(self) -> None:
        where = self.query_one(EventList).where
        shown = self.query_one(EventList).total
        last_said = [time.monotonic()]

        def progress(written: int) -> None:
            if time.monotonic() - last_said[0] > 1.0:  # a big export says how far it got
                last_said[0] = time.monotonic()
                self.notify(f"Exporting… {written:,} of {shown:,} events", timeout=1.5)

        try:
            path, count = await actions.export_ndjson(self.store, where, self.export_dir, progress)
        except OSError as error:
            self.notify(f"Export failed: {error}", severity="error", markup=False)
            return
        scope = (f" (only those matching the filter: {where.text})" if where
                 else " (every captured event)")
        self.notify(f"Exported {count:,} events{scope} to {path}", markup=False, timeout=8)

    def action_revalidate(self) -> None:
        """Start re-validation, or cancel the one running."""
        if self.revalidate is None:
            self.notify("Re-validation is not available here.", severity="warning")
        elif self._revalidation_stop is not None:
            self.action_cancel_revalidation()
        else:
            self._revalidation_stop = asyncio.Event()
            self._revalidate(self.revalidate, self._revalidation_stop)

    def action_cancel_revalidation(self) -> None:
        if self._revalidation_stop is not None and not self._revalidation_stop.is_set():
            self._revalidation_stop.set()
            self.notify("Cancelling the re-check after the events in hand…")

    @work(exclusive=True, group="schemas")
    async def _revalidate(self, revalidate: actions.Revalidate, stop: asyncio.Event) -> None:
        self.notify("Re-reading schemas and re-checking every event… (Esc or r cancels)")
        said = [0.0]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - said[0] >= 0.2:  # a few times a second is enough to read
                said[0] = time.monotonic()
                self.busy = f"re-checking {done:,} of {total:,} (Esc or r cancels)"
                self._show_status()

        try:
            report = await revalidate(progress, stop)
        except StaleStreamConfig as error:  # the wiki's stream configuration could not be fetched
            self.notify(str(error), severity="error", markup=False, timeout=15)
            report = None
        finally:
            self._revalidation_stop = None
            self.busy = ""
        events = self.query_one(EventList)
        events.reload(keep_id=events.selected_id)
        self._show_detail(events.selected_id)
        self._show_status()
        if report is not None:
            summary = report.summary()  # capitalize() would lowercase "JSON" and paths
            self.notify(summary[:1].upper() + summary[1:] + ".", markup=False,
                        timeout=15 if report.broken else 8,
                        severity="warning" if report.broken else "information")

    def action_clear(self) -> None:
        self.push_screen(ConfirmClear(self.store.counts().total), self._cleared)

    async def action_quit(self) -> None:
        """Quit; a temporary capture with events asks first, a --db capture says where it stays."""
        settings = self.server.settings if self.server is not None else None
        if settings is not None and settings.db is not None:
            self.exit(message=f"snowcatcher: the capture is kept in {settings.db} "
                              f"(open it again with --db {settings.db})")
        elif settings is not None and self.store.counts().total:
            self.push_screen(ConfirmQuit(self.store.counts().total),
                             lambda confirmed: self.exit() if confirmed else None)
        else:
            self.exit()

    def _cleared(self, confirmed: bool | None) -> None:
        if confirmed:
            self.store.reset()  # the store's reset signal redraws the list
            self.notify("Cleared every captured event.")

    # -- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's own Quit and Keys go: ours quit the same way, and `?` is the help.
        yield from (command for command in super().get_system_commands(screen)
                    if command.title not in ("Quit", "Keys"))
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.tooltip and self.check_action(binding.action, ()):
                title = binding.description[:1].upper() + binding.description[1:]  # "GitLab" stays
                yield SystemCommand(f"{title}  ({_keys(binding.key)})", binding.tooltip,
                                    partial(self.call_later, self.run_action, binding.action))

    # -- help and layout ---------------------------------------------------------------------

    def action_help(self) -> None:
        """The keys of the focused part first, then the app's."""
        focused = self.focused
        part: list[tuple[str, str]] = []
        node = focused
        while node is not None and node is not self.screen:
            for binding in node.BINDINGS:
                if isinstance(binding, Binding) and binding.description:
                    part.append((_keys(binding.key), binding.tooltip or binding.description))
            node = node.parent  # type: ignore[assignment]
        everywhere = [(_keys(binding.key), binding.tooltip or binding.description)
                      for binding in self.BINDINGS if isinstance(binding, Binding)
                      and self.check_action(binding.action, ())]
        name = {"EventList": "the event list", "EntityTree": "the Entities tree",
                "Input": "the filter bar"}.get(type(focused).__name__, "the detail")
        self.push_screen(HelpScreen([(f"Keys in {name}", part), ("Keys everywhere", everywhere)]))

    def action_split(self, step: int) -> None:
        """Move the split between the list and the detail by one tenth of the screen."""
        self.list_share = max(1, min(9, self.list_share + step))
        self.query_one(EventList).styles.height = f"{self.list_share}fr"
        self.query_one(EventDetail).styles.height = f"{10 - self.list_share}fr"
        if step:
            self._remember()

    def action_maximize_pane(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        focused = self.focused
        pane = (self.query_one(EventList) if isinstance(focused, EventList) or focused is None
                else self.query_one(EventDetail))
        self.screen.maximize(pane, container=False)


def _keys(keys: str) -> str:
    """`question_mark,f1` as a user reads it: `?, F1`."""
    names = {"question_mark": "?", "slash": "/", "plus": "+", "minus": "-", "escape": "Esc",
             "enter": "Enter", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End",
             "up": "↑", "down": "↓", "f1": "F1"}
    return ", ".join(names.get(key, key) for key in keys.split(","))


def run_tui(settings: Settings, *, revalidate: actions.Revalidate | None = None) -> int:
    """Run the TUI with the collector for `settings` served in-process; returns the exit code.

    If the screen fails, capture goes on without it (one line per event, as --headless prints)
    until Ctrl-C or SIGTERM, and the exit code is then 1: a tracker's events are never lost to a
    drawing bug, and a script never reads a failure as success.
    """
    try:
        server = Snowcatcher(settings)
    except StartupError as error:
        print(f"snowcatcher: {error}", file=sys.stderr)
        return 2
    app = SnowcatcherApp(server.store, server=server, revalidate=revalidate, keep_serving_on_error=True)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_run(app, server))
    return 1


async def _run(app: SnowcatcherApp, server: Snowcatcher, *, headless: bool = False,
               stopped: asyncio.Event | None = None) -> int:
    with HoldLogs():
        await app.run_async(headless=headless)
    if not app.failed:
        return app.return_code or 0
    print(f"snowcatcher: the screen closed after an unexpected error (above); capture goes on at "
          f"{server.url}, one line per event below; Ctrl-C stops it", file=sys.stderr)
    server.store.subscribe(HeadlessPrinter(as_json=False))
    await serve_until_stopped(server, stopped)
    return 1
