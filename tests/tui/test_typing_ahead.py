"""Keys typed right after `/` (a fast typist, a paste, tmux send-keys) all land in the filter, in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from tests.tui import samples
from tests.tui.pilot import until


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "many.sqlite")
    samples.fill(store, samples.mixed(3000))
    yield store  # type: ignore[misc]
    store.close()


def type_in_one_burst(app: SnowcatcherApp, keys: list[tuple[str, str | None]]) -> None:
    """Hand the app every key at once, as its terminal driver does with what one read brought:
    nothing runs between them (Pilot's `press` lets the app go idle after each key)."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


def as_keys(text: str) -> list[tuple[str, str | None]]:
    names = {"/": "slash", ":": "colon", "*": "asterisk", " ": "space", "-": "minus"}
    return [(names.get(c, c), c) for c in text]


# `v` (invalid only), `g` (GitLab columns), `n` (next invalid), `q` (quit) are the list's and the
# app's keys: typed into the filter they must do nothing but be typed.
@pytest.mark.parametrize("text", ["name:i_code_review_user_approve_mr", "gvnq", "-invalid schema:x"])
async def test_every_key_typed_after_slash_lands_in_the_filter(store: Store, text: str) -> None:
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events_list = app.query_one(EventList)
        await until(pilot, lambda: events_list.total == 3000)
        columns, row = events_list.gitlab_columns, events_list.selected_id
        type_in_one_burst(app, as_keys("/" + text))
        entry = app.query_one("#filter-input", Input)
        await until(pilot, lambda: entry.value == text)
        await pilot.pause()
        assert entry.value == text and app.focused is entry
        assert not app.invalid_only and events_list.gitlab_columns == columns
        assert events_list.selected_id == row and app.is_running


async def test_keys_pressed_one_by_one_after_slash_land_in_the_filter(store: Store) -> None:
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events_list = app.query_one(EventList)
        await until(pilot, lambda: events_list.total == 3000)
        await pilot.press("slash", *"vg", "ctrl+u", *"app:x")
        entry = app.query_one("#filter-input", Input)
        assert entry.value == "app:x"
        assert not app.invalid_only and not events_list.gitlab_columns


async def test_a_slash_typed_in_the_filter_is_part_of_it(store: Store) -> None:
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        type_in_one_burst(app, as_keys("/schema:iglu:com.x/y/jsonschema/1-0-0"))
        entry = app.query_one("#filter-input", Input)
        await until(pilot, lambda: entry.value == "schema:iglu:com.x/y/jsonschema/1-0-0")


async def test_a_slash_typed_in_the_command_palette_stays_there(store: Store) -> None:
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: len(app.screen_stack) > 1 and isinstance(app.focused, Input))
        palette_input = app.focused
        await pilot.press(*"a/b")
        assert isinstance(palette_input, Input) and palette_input.value == "a/b"
        assert not app.query_one("#filter-bar").display
