"""Pilot tests: in the Entities tree, `x` and `P` copy the highlighted field's value and JSON pointer
(saying where the copy went), `o` shows the entity's schema with where it came from, and `E` hands
a local schema file to $EDITOR."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from textual.widgets import Static

from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.entity_tree import EntityTree
from snowcatcher.tui.schema_view import SchemaScreen
from tests.tui.pilot import SIZE, settle, shown, until
from tests.tui.samples import CONTEXTS, STANDARD
from tests.tui.test_safe_actions import _notes
from tests.tui.tracker import gitlab_event, post

SCHEMA_FILE = Path("com.gitlab") / "gitlab_standard" / "jsonschema" / "1-1-1"


async def _on_realm(app: SnowcatcherApp, pilot: object, **event: str) -> EntityTree:
    """An invalid GitLab event captured, its Entities tree focused on `realm = "moon"`."""
    assert app.server is not None
    await post(app.server.url, gitlab_event("approve", realm="moon"))
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press("2", "enter")  # type: ignore[attr-defined]
    tree = app.query_one(EntityTree)
    await until(pilot, lambda: tree.cursor_node is not None  # type: ignore[arg-type]
                and str(tree.cursor_node.label).startswith('realm = "moon"'))
    return tree


async def test_x_and_p_copy_the_fields_value_and_pointer(live: SnowcatcherApp, tmp_path: Path) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await _on_realm(live, pilot)
        await pilot.press("x")
        assert live.clipboard == '"moon"'
        assert (tmp_path / "snowcatcher-copied.txt").read_text() == '"moon"'
        assert any(f"the value at /realm in context[0] {STANDARD}" in note and
                   f"wrote it to {tmp_path / 'snowcatcher-copied.txt'}" in note for note in _notes(live))
        await pilot.press("P")
        assert live.clipboard == "/realm"
        assert any(f"the JSON pointer /realm in context[0] {STANDARD}" in note for note in _notes(live))
        await pilot.press("shift+left")  # its parent: an object copies as indented JSON
        tree = live.query_one(EntityTree)
        assert tree.cursor_node is not None and str(tree.cursor_node.label).startswith("context[0]")
        await pilot.press("x")
        assert orjson.loads(live.clipboard)["realm"] == "moon" and "\n" in live.clipboard


async def test_o_shows_the_schema_and_the_file_it_came_from(live: SnowcatcherApp, schemas: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await _on_realm(live, pilot)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(live.screen, SchemaScreen))
        body = shown(live.screen.query_one("#schema-body", Static))
        assert STANDARD in body and f"from {schemas / SCHEMA_FILE}" in body
        assert '"self-managed"' in body and '"dedicated"' in body  # the realm's enum
        monkeypatch.delenv("VISUAL", raising=False)
        monkeypatch.delenv("EDITOR", raising=False)
        await pilot.press("E")  # no editor to hand the file to: it says so, and where the file is
        await until(pilot, lambda: any("Set $EDITOR" in note for note in _notes(live)))
        assert any(str(schemas / SCHEMA_FILE) in note for note in _notes(live))
        assert not isinstance(live.screen, SchemaScreen)
        monkeypatch.setenv("EDITOR", "true")
        await pilot.press("E")  # from the tree; Pilot's headless terminal cannot be handed over
        await until(pilot, lambda: any("cannot be handed to an editor" in note for note in _notes(live)))


async def test_o_says_when_a_schema_could_not_be_resolved(live: SnowcatcherApp) -> None:
    unknown = "iglu:com.acme/nowhere/jsonschema/1-0-0"
    cx = {"schema": CONTEXTS, "data": [{"schema": unknown, "data": {"a": 1}}]}
    event = {**gitlab_event("unknown"), "cx": base64.b64encode(orjson.dumps(cx)).decode()}
    async with live.run_test(size=SIZE) as pilot:
        assert live.server is not None
        await post(live.server.url, event)
        await settle(pilot)
        await pilot.press("2", "enter")
        tree = live.query_one(EntityTree)
        await until(pilot, lambda: tree.cursor_node is not None and tree.field is not None
                    and tree.field.entity is not None)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(live.screen, SchemaScreen))
        body = " ".join(shown(live.screen.query_one("#schema-body", Static)).split())
        assert unknown in body and "could not be resolved: schema not found" in body
        await pilot.press("escape")
        assert not isinstance(live.screen, SchemaScreen)


async def test_the_help_of_the_tree_lists_its_new_keys(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await _on_realm(live, pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: live.screen.query("#help-body").first() is not None)
        body = " ".join(shown(live.screen.query_one("#help-body", Static)).split())
        assert "Keys in the Entities tree" in body
        for line in ("x Copy the highlighted field's value as JSON",
                     "P Copy the highlighted field's JSON pointer (/realm)",
                     "o Show the schema the highlighted entity was validated against",
                     "E Open the highlighted entity's schema file in $EDITOR",
                     "r Re-read schemas from disk and re-check every event; while it runs, r or Esc "
                     "cancels it"):
            assert line in body, line
