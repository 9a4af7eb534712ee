"""Pilot tests: the real app, its collector on 127.0.0.1, events sent over real HTTP."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import orjson
from textual.widgets import Static, TabbedContent

from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.entity_tree import EntityTree
from snowcatcher.tui.event_list import EventList
from tests.tui.pilot import SIZE, labels, rows, settle, shown, status
from tests.tui.tracker import gitlab_event, post


async def test_posted_event_appears_and_shows_gitlab_standard(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        assert await post(live.server.url, gitlab_event("i_code_review_user_approve_mr")) == 200
        await settle(pilot)
        assert len(rows(live)) == 1
        assert "i_code_review_user_approve_mr" in rows(live)[0]
        assert "✓ 1" in status(live) and "listening on http://127.0.0.1:" in status(live)
        await pilot.press("2")
        tree_labels = labels(live.query_one(EntityTree))
        assert any("iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1" in text for text in tree_labels)
        assert "user_id = 11979729" in tree_labels
        assert "project_id = 278964" in tree_labels


async def test_violating_field_is_highlighted_in_place(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("i_quickactions_approve", realm="moon"))
        await settle(pilot)
        assert "✗" in rows(live)[0] and "realm: not in enum" in rows(live)[0]
        await pilot.press("2")
        realm = next(label for text, label in labels(live.query_one(EntityTree)).items()
                     if text.startswith('realm = "moon"'))
        assert "✗ enum" in realm.plain
        error = live.query_one(EntityTree).error_style
        assert any(str(span.style) == error for span in realm.spans)


async def test_choosing_a_violation_jumps_to_its_node(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("i_quickactions_approve", realm="moon"))
        await settle(pilot)
        await pilot.press("3")
        assert "Violations (1)" in str(live.query_one(TabbedContent).get_tab("violations").label)
        await pilot.press("enter", "enter")
        await settle(pilot)
        tree = live.query_one(EntityTree)
        assert live.query_one(TabbedContent).active == "entities"
        assert tree.cursor_node is not None
        assert str(tree.cursor_node.label).startswith('realm = "moon"')


async def test_filter_narrows_the_list(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("i_code_review_user_approve_mr"),
                   gitlab_event("i_quickactions_approve", realm="moon"),
                   gitlab_event("i_quickactions_unassign"))
        await settle(pilot)
        assert len(rows(live)) == 3
        await pilot.press("slash", *"name:i_quickactions_*", "enter")
        await settle(pilot)
        assert [row.split()[4] for row in rows(live)] == ["i_quickactions_approve",
                                                          "i_quickactions_unassign"]
        assert "filter: name:i_quickactions_*" in status(live)
        await pilot.press("v")
        await settle(pilot)
        assert len(rows(live)) == 1 and "i_quickactions_approve" in rows(live)[0]
        await pilot.press("v", "slash", "ctrl+u", "enter")
        await settle(pilot)
        assert len(rows(live)) == 3


async def test_a_bad_filter_says_why_and_keeps_the_list(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("i_code_review_user_approve_mr"))
        await settle(pilot)
        await pilot.press("slash", *"colour:red", "enter")
        await settle(pilot)
        assert 'unknown filter key "colour"' in str(live.query_one("#filter-error").render())
        assert len(rows(live)) == 1


async def test_pause_freezes_the_display_while_capture_goes_on(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("first"))
        await settle(pilot)
        await pilot.press("p")
        await post(live.server.url, gitlab_event("second"), gitlab_event("third"))
        await settle(pilot)
        assert len(rows(live)) == 1
        assert "paused (2 new)" in status(live)
        await pilot.press("p")
        await settle(pilot)
        assert [row.split()[4] for row in rows(live)] == ["first", "second", "third"]


async def test_clear_asks_first(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("kept"))
        await settle(pilot)
        await pilot.press("c", "n")
        await settle(pilot)
        assert len(rows(live)) == 1
        await pilot.press("c", "y")
        await settle(pilot)
        assert rows(live) == []
        assert "✓ 0" in status(live)


async def test_copy_as_curl_replays_the_request(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("replayed"))
        await settle(pilot)
        await pilot.press("Y")
        command = live.clipboard
        assert command.startswith("curl -X POST")
        process = await asyncio.create_subprocess_exec(*shlex.split(command), "-s", "-o", "/dev/null")
        assert await process.wait() == 0
        await settle(pilot)
        assert [row.split()[4] for row in rows(live)] == ["replayed", "replayed"]


async def test_copy_as_json_and_export_ndjson(live: SnowcatcherApp, tmp_path: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("one"), gitlab_event("two", realm="moon"))
        await settle(pilot)
        await pilot.press("y")
        assert orjson.loads(live.clipboard)["name"] == "two"
        await pilot.press("v", "e")
        await pilot.pause(0.3)
        [export] = tmp_path.glob("snowcatcher-*.ndjson")
        lines = [orjson.loads(line) for line in export.read_bytes().splitlines()]
        assert [(line["name"], line["valid"]) for line in lines] == [("two", False)]


async def test_revalidate_rereads_the_schema_from_disk(live: SnowcatcherApp, schemas: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("fixed", realm="moon"))
        await settle(pilot)
        assert "✗" in rows(live)[0]
        # The schema gains the realm; no restart, the captured event is re-checked.
        path = schemas / "com.gitlab" / "gitlab_standard" / "jsonschema" / "1-1-1"
        schema = orjson.loads(path.read_bytes())
        schema["properties"]["realm"]["enum"].append("moon")
        path.write_bytes(orjson.dumps(schema))
        await pilot.press("r")
        await settle(pilot)
        await pilot.pause(0.3)
        assert "✓" in rows(live)[0] and "✗ 0" in status(live)


async def test_gitlab_columns_show_monitor_fields(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("i_code_review_user_approve_mr"))
        await settle(pilot)
        await pilot.press("g")
        header = live.query_one(EventList).render_line(0).text
        assert "user_id" in header and "namespace" in header and "plan" in header
        assert "11979729" in rows(live)[0] and "ultimate" in rows(live)[0]
        await pilot.press("6")
        await settle(pilot)
        panel = shown(live.query_one("#gitlab-body", Static))
        assert "i_code_review_user_approve_mr" in panel and "278964" in panel


async def test_hostile_event_text_stays_inert(live: SnowcatcherApp) -> None:
    evil = "[bold red]pwn[/] \x1b[31mred\x1b[0m \x1b]0;owned\x07 \u202egnp.exe"
    async with live.run_test(size=SIZE) as pilot:
        event = {**gitlab_event(evil), "aid": "[link=http://x]app[/link]"}
        await post(live.server.url, event)
        await settle(pilot)
        strip = live.query_one(EventList).render_line(1)
        assert "[bold red]pwn[/]" in strip.text and "\\x1b[31m" in strip.text
        assert not any(ch in strip.text for ch in "\x1b\x07\u202e")
        assert all(segment.style is None or not segment.style.link for segment in strip)
        overview = shown(live.query_one("#overview-body", Static))
        assert "[bold red]pwn[/]" in overview and "\x1b" not in overview


async def test_follow_keeps_the_newest_selected(live: SnowcatcherApp) -> None:
    async with live.run_test(size=(120, 30)) as pilot:
        await post(live.server.url, *[gitlab_event(f"event_{n}") for n in range(40)])
        await settle(pilot)
        events = live.query_one(EventList)
        assert events.selected is not None and events.selected.name == "event_39"
        assert "event_39" in rows(live)[-1]
        await pilot.press("up")
        await post(live.server.url, gitlab_event("event_40"))
        await settle(pilot)
        assert events.selected.name == "event_38" and "not following" in status(live)
        await pilot.press("f")
        await settle(pilot)
        assert events.selected.name == "event_40"
