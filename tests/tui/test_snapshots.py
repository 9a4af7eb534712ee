"""Snapshot tests: the main screen, every detail tab, a filtered view and the GitLab columns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label

from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from tests.tui import samples
from tests.tui.pilot import until

SIZE = (150, 44)
SnapCompare = Callable[..., bool]
AppMaker = Callable[[], SnowcatcherApp]


@pytest.fixture
def make_app() -> Iterator[AppMaker]:
    """Makes the app over a store of fixed sample events, with a fixed address (no collector: no
    port); the stores are closed, and their temporary files removed, after the test."""
    stores: list[Store] = []

    def make() -> SnowcatcherApp:
        stores.append(Store())
        samples.fill(stores[-1], samples.mixed(24))
        return SnowcatcherApp(stores[-1], address="listening on http://127.0.0.1:9090")

    yield make
    for store in stores:
        store.close()


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every list holds what the store has and no count is running (a busy machine runs
    the app's timers late), then let it draw."""
    app = pilot.app
    last = app.store.last_id()
    await until(pilot, lambda: all(events.window.seen_id >= last and events.window.counting is None
                                   for events in app.query(EventList)))
    for field in app.query(Input):  # a blinking cursor is drawn or not by the clock (once, under load)
        field.cursor_blink = False
    await pilot.pause(0.2)


def test_main_screen(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settle)


@pytest.mark.parametrize("tab", ["1", "2", "3", "4", "5", "6"])
def test_detail_tabs_of_an_invalid_gitlab_event(make_app: AppMaker, snap_compare: SnapCompare,
                                                tab: str) -> None:
    async def select(pilot: Pilot[Any]) -> None:
        await pilot.press("up", "up", "up", tab)  # i_quickactions_approve, realm "moon"
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=select)


def test_wikimedia_violation_in_place(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    async def select(pilot: Pilot[Any]) -> None:
        await pilot.press("up", "2")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=select)


def test_filtered_view(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    async def filter_(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"schema:gitlab_standard", "enter", "v")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=filter_)


def test_gitlab_columns(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    async def columns(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"app:gitlab", "enter", "g", "6")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=columns)


def test_filter_error_at_80_by_24(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    async def mistake(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"colour:red", "enter")
        error = pilot.app.query_one("#filter-error", Label)
        await until(pilot, lambda: str(error.content).startswith("✗"))
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=mistake)


def test_main_screen_at_80_by_24(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    async def filtered(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"app:gitlab", "enter", "up", "up")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=filtered)


def test_help_screen(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    async def help_(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=help_)


def test_empty_state(snap_compare: SnapCompare) -> None:
    store = Store()
    try:
        app = SnowcatcherApp(store, address="listening on http://127.0.0.1:9090")
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)
    finally:
        store.close()


def test_light_theme_at_80_by_24(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    """The light theme: times, marks and violations stay readable on the light background."""
    async def light(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "textual-light"
        await pilot.press("up", "up", "up")  # i_quickactions_approve, realm "moon"
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=light)


def test_light_theme_raw_tab(make_app: AppMaker, snap_compare: SnapCompare) -> None:
    """Switched to light while the Raw tab shows: its highlighting follows, no dark block stays."""
    async def raw_then_light(pilot: Pilot[Any]) -> None:
        await pilot.press("up", "up", "up", "4")
        await settle(pilot)
        pilot.app.theme = "textual-light"
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=raw_then_light)
