"""The TUI remembers theme, GitLab columns, split and last filter in the user's config folder."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.syntax import Syntax
from textual.widgets import Input, Static

from snowcatcher.store.store import Store
from snowcatcher.tui import preferences
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from tests.tui import samples
from tests.tui.pilot import settle, until


def _app(tmp_path: Path) -> tuple[SnowcatcherApp, Store]:
    store = Store()
    samples.fill(store, samples.mixed(6))
    return SnowcatcherApp(store, export_dir=tmp_path), store


async def test_choices_come_back_next_run(config_home: Path, tmp_path: Path) -> None:
    first, store = _app(tmp_path)
    async with first.run_test(size=(120, 40)) as pilot:
        await pilot.press("g", "plus", "slash", *"app:gitlab", "enter")
        first.theme = "textual-light"
        await settle(pilot)
    store.close()
    assert (config_home / "snowcatcher" / "tui.json").is_file()
    second, store = _app(tmp_path)
    async with second.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert second.theme == "textual-light"
        assert second.query_one(EventList).gitlab_columns and second.list_share == 6
        assert second.query_one(EventList).where.text == ""  # recalled by ↑, not applied
        await pilot.press("slash", "ctrl+u", "up")
        assert second.query_one("#filter-input", Input).value == "app:gitlab"
    store.close()


def test_a_broken_config_file_gives_the_defaults(config_home: Path) -> None:
    path = config_home / "snowcatcher" / "tui.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"theme": 7, "list_share": 99, "gitlab_columns": true')
    assert preferences.load() == preferences.Preferences()
    path.write_text('{"theme": 7, "list_share": 99, "gitlab_columns": true}')
    assert preferences.load() == preferences.Preferences(gitlab_columns=True, list_share=9)


async def test_a_theme_switch_redraws_the_raw_tab(tmp_path: Path) -> None:
    app, store = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)

        def background() -> object:
            content = app.query_one("#raw-body", Static).content
            assert isinstance(content, Group)
            syntax = next(part for part in content.renderables if isinstance(part, Syntax))
            return syntax._theme.get_background_style()

        dark = background()
        app.theme = "textual-light"
        await until(pilot, lambda: background() != dark)
    store.close()
