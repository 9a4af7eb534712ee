"""Pilot tests: a filter that explains itself (errors in sight, counts as you type, history,
completion, Esc clears it, its title), and n / N to walk the invalid events."""

from __future__ import annotations

from textual.widgets import Input, Label

from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.filter_bar import FilterBar
from tests.tui.pilot import rows, settle, status, until
from tests.tui.tracker import gitlab_event, post


def _hint(app: SnowcatcherApp) -> str:
    return str(app.query_one("#filter-error", Label).render())


async def _three(app: SnowcatcherApp) -> None:
    await post(app.server.url, gitlab_event("i_code_review_user_approve_mr"),  # type: ignore[union-attr]
               gitlab_event("i_quickactions_approve", realm="moon"),
               gitlab_event("i_quickactions_unassign"))


async def test_a_bad_filter_is_explained_above_the_footer_at_80_columns(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(80, 24)) as pilot:
        await _three(live)
        await settle(pilot)
        await pilot.press("slash", *"colour:red", "enter")
        await settle(pilot)
        error = live.query_one("#filter-error", Label)
        footer = live.screen.query_one("KeyFooter")
        assert 'unknown filter key "colour"' in _hint(live) and 'plain text such as "red"' in _hint(live)
        assert error.region.height >= 1 and error.region.bottom <= footer.region.y  # not under it
        assert len(rows(live)) == 3


async def test_matches_are_counted_as_you_type(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)) as pilot:
        await _three(live)
        await settle(pilot)
        await pilot.press("slash", *"name:i_quick*")
        await until(pilot, lambda: "2 of 3 events match" in _hint(live))
        await pilot.press(*"x")
        await until(pilot, lambda: "0 of 3 events match" in _hint(live))


async def test_esc_clears_an_active_filter_and_the_title_shows_it(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(80, 24)) as pilot:
        await _three(live)
        await settle(pilot)
        events = live.query_one(EventList)
        assert not events.check_action("clear_filter", ())
        await pilot.press("slash", *"name:i_quickactions_*", "enter")
        await until(pilot, lambda: len(rows(live)) == 2)
        assert str(events.border_title) == "events · filter: name:i_quickactions_* · 2 of 3"
        assert "filter: name:i_quickactions_* (2 of 3)" in status(live)
        assert events.check_action("clear_filter", ())  # the footer shows "esc clear filter"
        await pilot.press("escape")
        await until(pilot, lambda: len(rows(live)) == 3)
        assert str(events.border_title) == "events · 3" and "filter:" not in status(live)
        await pilot.press("v", "escape")
        await until(pilot, lambda: len(rows(live)) == 3)
        assert not live.invalid_only


async def test_history_and_completion_in_the_filter_bar(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)) as pilot:
        await _three(live)
        await settle(pilot)
        await pilot.press("slash", *"app:gitlab", "enter", "slash", *"invalid", "enter")
        await settle(pilot)
        await pilot.press("slash", "ctrl+u", "up")
        entry = live.query_one("#filter-input", Input)
        assert entry.value == "invalid"
        await pilot.press("up")
        assert entry.value == "app:gitlab"
        await pilot.press("down", "down")
        assert entry.value == ""
        await pilot.press(*"na", "tab")
        assert entry.value == "name:"
        await pilot.press(*"i_code", "tab")
        assert entry.value == "name:i_code_review_user_approve_mr"
        assert live.query_one(FilterBar).display and entry.has_focus  # Tab did not move focus
        await pilot.press("enter")
        await until(pilot, lambda: len(rows(live)) == 1)


async def test_protocol_filter_takes_the_short_name_the_list_shows(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)) as pilot:
        await _three(live)
        await settle(pilot)
        await pilot.press("slash", *"protocol:sp", "enter")
        await until(pilot, lambda: "(3 of 3)" in status(live))
        await pilot.press("slash", "ctrl+u", *"protocol:eg", "enter")
        await until(pilot, lambda: rows(live) == [])


async def test_n_and_shift_n_walk_the_invalid_events(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)) as pilot:
        await post(live.server.url, gitlab_event("ok_1"), gitlab_event("bad_2", realm="moon"),
                   gitlab_event("ok_3"), gitlab_event("bad_4", realm="moon"), gitlab_event("ok_5"))
        await until(pilot, lambda: len(rows(live)) == 5)
        events = live.query_one(EventList)
        await pilot.press("home", "n")
        assert events.selected is not None and events.selected.name == "bad_2"
        await pilot.press("n")
        assert events.selected.name == "bad_4"
        await pilot.press("n")  # none after: stays
        assert events.selected.name == "bad_4"
        await pilot.press("N")
        assert events.selected.name == "bad_2"
        assert len(rows(live)) == 5  # nothing was filtered


async def test_the_list_says_which_row_and_how_many_arrived_below(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)) as pilot:
        await post(live.server.url, *[gitlab_event(f"e{n}") for n in range(5)])
        await until(pilot, lambda: len(rows(live)) == 5)
        events = live.query_one(EventList)
        await pilot.press("up")
        await until(pilot, lambda: str(events.border_subtitle) == "row 4 of 5")
        await post(live.server.url, gitlab_event("later"), gitlab_event("later"))
        await until(pilot, lambda: str(events.border_subtitle) == "row 4 of 7 · ↓ 2 new")
        await pilot.press("end")
        await until(pilot, lambda: str(events.border_subtitle) == "row 7 of 7")
