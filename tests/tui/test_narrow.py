"""At 80x24: violations read short in the list, the name keeps its room, GitLab columns scroll sideways."""

from __future__ import annotations

from pathlib import Path

from jsonschema import Draft7Validator
from textual.widgets import OptionList
from textual.widgets._footer import FooterKey

from snowcatcher.model import Violation
from snowcatcher.protocols.wikimedia.ajv import ajv_errors
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.key_footer import KeyFooter
from snowcatcher.tui.violation_brief import brief
from tests.tui.pilot import rows, settle, until
from tests.tui.test_truthful import _colour_event, _colour_schema
from tests.tui.tracker import gitlab_event, post

NARROW = (80, 24)


def _footer(app: SnowcatcherApp) -> list[str]:
    """The keys the footer shows (it is rebuilt only when they change)."""
    return [key.key for key in app.query_one(KeyFooter).query(FooterKey)]


def _header(app: SnowcatcherApp) -> str:
    return app.query_one(EventList).render_line(0).text


async def test_violations_read_short_in_the_list_and_whole_in_the_detail(
        live: SnowcatcherApp, schemas: Path) -> None:
    _colour_schema(schemas)
    sent = [
        (gitlab_event("i_ci_pipeline_succeeded", realm="moon"), "realm: not in enum"),
        (_colour_event({"name": "x", "size": 1, "colour": "red"}), "colour: not allowed"),
        (_colour_event({"name": "x", "size": "two"}), "size: not an integer"),
        (_colour_event({"size": 1}), "name: missing"),
        (_colour_event({"name": "x", "size": 1}, dtm="yesterday"), "dtm: not a time"),
        (_colour_event({"name": "x", "size": 1}, eid="not-a-uuid"), "eid: not a UUID"),
    ]
    async with live.run_test(size=NARROW) as pilot:
        for count, (event, short) in enumerate(sent, 1):
            await post(live.server.url, event)
            await until(pilot, lambda n=count: len(rows(live)) == n)
            await settle(pilot)
            assert short in rows(live)[-1], rows(live)[-1]
        # The name keeps its room at 80 columns (it was cut after 21 characters).
        assert "i_ci_pipeline_succeeded " in rows(live)[0]
        await pilot.press("home", "3")
        await settle(pilot)
        prompt = str(live.query_one("#violation-list", OptionList).get_option_at_index(0).prompt)
        assert '"moon" is not one of "self-managed", "saas", "dedicated", null' in prompt


def test_wikimedia_violations_read_short_as_well() -> None:
    """AJV's messages (EventGate's voice) name the property differently; the short form is the same."""
    schema = {"type": "object", "additionalProperties": False, "required": ["user_id"],
              "properties": {"user_id": {"type": "integer"}, "state": {"enum": ["on", "off"]},
                             "dt": {"type": "string", "format": "date-time"}}}
    instance = {"state": "moon", "colour": "red", "dt": "yesterday"}
    found = {brief(Violation("event /x/1.0.0", error.pointer, error.keyword, error.explained()))
             for error in ajv_errors(Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
                                     .iter_errors(instance), schema)}
    assert found == {"user_id: missing", "colour: not allowed", "state: not in enum",
                     "dt: not a date-time"}


async def test_gitlab_columns_keep_the_violation_and_scroll_sideways(live: SnowcatcherApp) -> None:
    async with live.run_test(size=NARROW) as pilot:
        await post(live.server.url, gitlab_event("i_quickactions_approve", realm="moon"))
        await until(pilot, lambda: len(rows(live)) == 1)
        await pilot.press("g")
        await settle(pilot)
        events = live.query_one(EventList)
        assert "first violation" in _header(live) and _header(live).rstrip().endswith("▸")
        assert "realm: not in enum" in rows(live)[0]
        assert "←→ columns" in str(events.border_subtitle)
        assert events.check_action("columns", (1,)) and events.check_action("columns", (-1,)) is None
        await until(pilot, lambda: "right" in _footer(live))
        await pilot.press("right")
        await settle(pilot)
        assert "first violation" not in _header(live) and "◂category" in _header(live)
        assert "i_quickactions_approve" in rows(live)[0]  # the name stays in place
        for _ in range(20):
            await pilot.press("l")
        await settle(pilot)
        assert "extra" in _header(live) and not _header(live).rstrip().endswith("▸")
        assert not events.check_action("columns", (1,))
        for _ in range(20):
            await pilot.press("h")
        await settle(pilot)
        assert "first violation" in _header(live) and "◂" not in _header(live)
        await pilot.press("g")
        await settle(pilot)
        assert events.check_action("columns", (1,)) is False  # the default columns fit
        await until(pilot, lambda: "right" not in _footer(live) and "slash" in _footer(live))
        assert "←→" not in str(events.border_subtitle)
