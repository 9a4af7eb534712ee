"""Pilot tests: the detail pane shows the event the list shows, violations sit on their own node."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import orjson
from textual.widgets import OptionList, Static, TabbedContent

from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.entity_tree import EntityTree
from snowcatcher.tui.event_detail import EventDetail
from snowcatcher.tui.event_list import EventList
from tests.tui.pilot import SIZE, labels, rows, settle, shown, until
from tests.tui.tracker import gitlab_event, post

COLOUR_CLICK = "iglu:com.acme/colour_click/jsonschema/1-0-0"


def _colour_schema(schemas: Path) -> None:
    """A strict self-describing event schema: `name` required, nothing undeclared allowed."""
    folder = schemas / "com.acme" / "colour_click" / "jsonschema"
    folder.mkdir(parents=True)
    schema = {"$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/"
                         "jsonschema/1-0-0#",
              "self": {"vendor": "com.acme", "name": "colour_click", "format": "jsonschema",
                       "version": "1-0-0"},
              "type": "object", "additionalProperties": False, "required": ["name", "size"],
              "properties": {"name": {"type": "string"}, "size": {"type": "integer"}}}
    (folder / "1-0-0").write_bytes(orjson.dumps(schema))


def _colour_event(data: dict[str, object], **extra: str) -> dict[str, str]:
    event = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
             "data": {"schema": COLOUR_CLICK, "data": data}}
    return {"e": "ue", "p": "web", "tv": "js-3.24.2", "aid": "shop",
            "ue_px": base64.urlsafe_b64encode(orjson.dumps(event)).decode().rstrip("="), **extra}


def _detail(app: SnowcatcherApp) -> EventDetail:
    return app.query_one(EventDetail)


async def test_detail_never_shows_an_event_the_list_hides(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("valid_one"))
        await post(live.server.url, gitlab_event("invalid_one", realm="moon"))
        await settle(pilot)
        await pilot.press("home")
        await until(pilot, lambda: _detail(live).event is not None
                    and _detail(live).event.name == "valid_one")  # type: ignore[union-attr]
        await pilot.press("v")
        await until(pilot, lambda: len(rows(live)) == 1)
        await until(pilot, lambda: _detail(live).event is not None
                    and _detail(live).event.name == "invalid_one")  # type: ignore[union-attr]
        await pilot.press("v", "slash", *"name:nothing_matches", "enter")
        await until(pilot, lambda: rows(live) == [])
        await until(pilot, lambda: _detail(live).event is None)
        assert "No event selected." in shown(live.query_one("#overview-body", Static))


async def test_enter_pins_the_highlighted_event_and_leaving_resumes_following(
        live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("first"))
        await settle(pilot)
        await post(live.server.url, gitlab_event("second"))
        # Enter at once: the detail shows what the list highlights, never the event before it.
        await until(pilot, lambda: live.query_one(EventList).selected_id == 2)
        await pilot.press("enter")
        assert _detail(live).event is not None and _detail(live).event.name == "second"
        await post(live.server.url, gitlab_event("third"))
        await until(pilot, lambda: live.query_one(EventList).selected_id == 3)
        await settle(pilot)
        assert _detail(live).event.name == "second"  # pinned while the user reads it
        await pilot.press("escape")
        assert _detail(live).event is not None and _detail(live).event.name == "third"


async def test_violations_sit_on_their_own_nodes(live: SnowcatcherApp, schemas: Path) -> None:
    _colour_schema(schemas)
    async with live.run_test(size=SIZE) as pilot:
        event = _colour_event({"name": "x", "colour": "red"}, dtm="yesterday")
        await post(live.server.url, event)
        await until(pilot, lambda: len(rows(live)) == 1)
        await pilot.press("2")
        await settle(pilot)
        found = labels(live.query_one(EntityTree))
        colour = next(text for text in found if text.startswith('colour = "red"'))
        assert '✗ additionalProperties: undeclared property "colour"' in colour
        assert "missing: size" in next(text for text in found if text.startswith("missing: size"))
        dtm = next(text for text in found if text.startswith('dtm = "yesterday"'))
        assert "✗" in dtm
        parameters = next(text for text in found if text.startswith("tracker parameters"))
        assert parameters.endswith("✗")
        assert not any(text.startswith("request") for text in found)


async def test_entering_entities_puts_the_cursor_on_the_first_violation(
        live: SnowcatcherApp) -> None:
    extra = {f"key_{n:02}": n for n in range(60)}  # pushes realm far below the first screen
    async with live.run_test(size=(120, 30)) as pilot:
        await post(live.server.url, gitlab_event("deep", realm="moon", extra=extra))
        await until(pilot, lambda: len(rows(live)) == 1)
        await pilot.press("2", "enter")
        await settle(pilot)
        tree = live.query_one(EntityTree)
        assert tree.has_focus and tree.cursor_node is not None
        assert str(tree.cursor_node.label).startswith('realm = "moon"')
        await until(pilot, lambda: tree.scroll_y <= tree.cursor_line < tree.scroll_y + tree.size.height)


async def test_the_cursor_lands_on_the_violation_before_the_tree_is_drawn(live: SnowcatcherApp) -> None:
    """The tree lays out its lines lazily: a cursor put on a node of a tree just filled, before any
    refresh, landed on no line (on a busy machine the highlight came and went)."""
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        await post(live.server.url, gitlab_event("approve", realm="moon"))
        await until(pilot, lambda: len(rows(live)) == 1)
        event = live.server.store.get(1)
        tree = live.query_one(EntityTree)
        tree.show(event)
        tree.show_first_violation()  # no await between: nothing has drawn the new tree
        assert tree.cursor_node is not None
        assert str(tree.cursor_node.label).startswith('realm = "moon"')


async def test_messages_write_values_as_json(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("moon", realm="moon"))
        await until(pilot, lambda: len(rows(live)) == 1)
        await pilot.press("3")
        await settle(pilot)
        prompt = live.query_one("#violation-list", OptionList).get_option_at_index(0).prompt
        assert '/realm: "moon" is not one of "self-managed", "saas", "dedicated", null' in str(prompt)


async def test_no_doubled_prefix_for_a_bad_base64_context(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, {**gitlab_event("broken"), "cx": "!!not base64!!"})
        await until(pilot, lambda: len(rows(live)) == 1)
        assert "cx: bad base64" in rows(live)[0]  # the list's short form; the detail has the sentence
        await pilot.press("3")
        await settle(pilot)
        prompt = str(live.query_one("#violation-list", OptionList).get_option_at_index(0).prompt)
        assert "invalid base64url" in prompt and "cx: cx:" not in prompt


async def test_a_wikimedia_event_shows_its_fields_filled_ones_marked_and_no_gitlab_tab(
        live: SnowcatcherApp) -> None:
    body = [{"$schema": "/analytics/legacy/homepagevisit/1.2.1", "client_dt": "2020-04-02T19:11:20.942Z",
             "event": {"impact_module_state": "activated", "user_editcount": 123},
             "meta": {"stream": "eventlogging_HomepageVisit"}}]
    async with live.run_test(size=SIZE) as pilot:
        async with aiohttp.ClientSession() as session, session.post(
                f"{live.server.url}/v1/events", data=orjson.dumps(body),
                headers={"Content-Type": "application/json"}):
            pass  # no schema offline: answered as unchecked, stored all the same
        await until(pilot, lambda: len(rows(live)) == 1)
        await until(pilot, lambda: _detail(live).event is not None)
        overview = shown(live.query_one("#overview-body", Static))
        assert "event fields" in overview and "impact_module_state" in overview
        assert "filled in by snowcatcher" in overview  # meta.dt, meta.id
        tabs = live.query_one(TabbedContent)
        assert not tabs.get_tab("gitlab").display
        await pilot.press("2")
        found = labels(live.query_one(EntityTree))
        assert any(text.startswith("dt = ") and "filled in by snowcatcher" in text for text in found)


async def test_a_snowplow_event_keeps_its_gitlab_tab(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await post(live.server.url, gitlab_event("kept"))
        await until(pilot, lambda: _detail(live).event is not None)
        assert live.query_one(TabbedContent).get_tab("gitlab").display
