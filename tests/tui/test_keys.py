"""Pilot tests: keys a newcomer finds (help, footer, palette) and the layout keys."""

from __future__ import annotations

import asyncio
import shlex

from textual.app import SystemCommand
from textual.widgets import Static

from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_detail import EventDetail
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.help import HelpScreen
from tests.tui.pilot import settle, shown, until
from tests.tui.tracker import gitlab_event, post


def _footer_keys(app: SnowcatcherApp) -> list[str]:
    return [str(key.render()).strip() for key in app.screen.query("FooterKey")]


async def test_question_mark_opens_help_for_the_focused_part_and_esc_closes_it(
        live: SnowcatcherApp) -> None:
    async with live.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(live.screen, HelpScreen))
        text = shown(live.screen.query_one("#help-body", Static))
        assert "Keys in the event list" in text and "next invalid" in text.lower()
        assert "Keys everywhere" in text and "Export the shown events" in text
        await pilot.press("v")  # the help runs no key of the app
        assert not live.invalid_only
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(live.screen, HelpScreen))
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(live.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(live.screen, HelpScreen))


async def test_the_footer_keeps_help_and_quit_at_80_columns(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = _footer_keys(live)
        assert keys[:2] == ["? help", "q quit"], keys
        await pilot.press("slash", *"x", "enter")
        await settle(pilot)
        assert _footer_keys(live)[:3] == ["esc clear filter", "? help", "q quit"]


async def test_the_palette_has_one_quit_keys_beside_commands_and_says_gitlab(
        live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)):
        titles = [command.title for command in live.get_system_commands(live.screen)
                  if isinstance(command, SystemCommand)]
        assert [title for title in titles if title.startswith("Quit")] == ["Quit  (q)"]
        assert "GitLab  (g)" in titles and "Filter  (/)" in titles
        assert not any("Gitlab" in title for title in titles)


async def test_the_split_moves_and_a_pane_maximizes(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 40)) as pilot:
        await post(live.server.url, gitlab_event("one"))
        await settle(pilot)
        events, detail = live.query_one(EventList), live.query_one(EventDetail)
        before = events.size.height
        await pilot.press("plus", "plus")
        await settle(pilot)
        assert events.size.height > before and detail.size.height < events.size.height
        await pilot.press("minus", "minus", "minus", "minus")
        await settle(pilot)
        assert events.size.height < before
        await pilot.press("z")
        await settle(pilot)
        assert live.screen.maximized is events
        await pilot.press("z")
        await settle(pilot)
        assert live.screen.maximized is None


async def test_the_first_screen_says_where_to_send_events_and_a_curl_that_works(
        live: SnowcatcherApp) -> None:
    async with live.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        overview = shown(live.query_one("#overview-body", Static))
        assert "No events yet" in overview and f"{live.server.url}/v1/events" in overview
        command = next(line for line in overview.splitlines() if "curl '" in line)
        curl = command[command.index("curl"):].strip()
        process = await asyncio.create_subprocess_exec(*shlex.split(curl), "-s", "-o", "/dev/null")
        assert await process.wait() == 0
        await until(pilot, lambda: "No events yet" not in shown(live.query_one("#overview-body", Static)))


async def test_the_list_header_names_the_verdict_and_protocol_columns(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = live.query_one(EventList).render_line(0).text
        assert "✓ pr type" in " ".join(header.split())
