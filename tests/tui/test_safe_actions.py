"""Pilot tests: actions that cannot be undone ask with Cancel first; exports and copies say
honestly what they did and where."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from textual.pilot import Pilot

from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.confirm import Confirm
from tests.tui.pilot import SIZE, rows, settle, until
from tests.tui.tracker import gitlab_event, post


def _notes(app: SnowcatcherApp) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


async def _reflex_enter(app: SnowcatcherApp, pilot: Pilot[int], key: str) -> None:
    """Press `key`, then Enter the moment its question shows."""
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, Confirm))
    await pilot.press("enter")
    await settle(pilot)


async def test_a_reflex_enter_after_c_clears_nothing(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("kept"))
        await settle(pilot)
        await _reflex_enter(live, pilot, "c")
        assert len(rows(live)) == 1 and live.store.counts().total == 1


async def test_q_on_a_temporary_capture_with_events_asks_first(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("precious"))
        await settle(pilot)
        await _reflex_enter(live, pilot, "q")  # Cancel
        assert live.is_running and not isinstance(live.screen, Confirm)
        await pilot.press("q", "y")
        await until(pilot, lambda: not live.is_running)


async def test_q_on_a_db_capture_quits_and_says_where_it_stays(
        schemas: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "kept.sqlite"
    server = Snowcatcher(Settings(port=0, schemas=[schemas], offline=True, cache_dir=None, db=db))
    app = SnowcatcherApp(server.store, server=server, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await post(server.url, gitlab_event("stays"))
        await settle(pilot)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert f"the capture is kept in {db}" in " ".join(capfd.readouterr().err.split())


async def test_two_exports_in_one_second_make_two_files_and_say_they_were_filtered(
        live: SnowcatcherApp, tmp_path: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("one"), gitlab_event("two", realm="moon"))
        await settle(pilot)
        await pilot.press("v", "e", "e")
        await until(pilot, lambda: len(list(tmp_path.glob("snowcatcher-*.ndjson"))) == 2
                    and sum("Exported" in note for note in _notes(live)) == 2)
        for export in tmp_path.glob("snowcatcher-*.ndjson"):
            assert [orjson.loads(line)["name"] for line in export.read_bytes().splitlines()] == ["two"]
        assert any("only those matching the filter: invalid" in note for note in _notes(live))


async def test_y_says_where_the_copy_went_and_writes_it_to_a_file(
        live: SnowcatcherApp, tmp_path: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("copied"))
        await settle(pilot)
        await pilot.press("y")
        copy = tmp_path / "snowcatcher-copied.txt"
        await until(pilot, copy.exists)
        assert orjson.loads(copy.read_text())["name"] == "copied"
        note = next(note for note in _notes(live) if "clipboard" in note)
        assert "OSC 52" in note and str(copy) in note
