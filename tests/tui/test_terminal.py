"""The real command in a pseudo-terminal: what a user at the keyboard sees, and that it keeps capturing."""

from __future__ import annotations

import asyncio
import shlex
import sys
import urllib.request
from pathlib import Path

from snowcatcher.store.store import Store
from tests.cli_process import free_port
from tests.tui import samples
from tests.tui.terminal import Terminal
from tests.tui.tracker import gitlab_event, post


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return int(answer.status)


def test_an_event_whose_times_cannot_be_shown_neither_stops_the_tui_nor_capture() -> None:
    with Terminal("--offline") as terminal:
        terminal.wait_for(lambda screen: "listening on" in screen, "the header")
        # 10^20 ms is past any calendar the C library can render (OSError EOVERFLOW / OverflowError).
        assert _get(f"{terminal.url}/i?e=pv&tv=x&p=web&dtm=100000000000000000000"
                    "&stm=100000000000000000000000&url=killer") == 200
        screen = terminal.wait_for(lambda s: "invalid time: 100000000000000000000" in s,
                                   "the unreadable time in the Overview")
        assert "page_view" in screen
        assert terminal.exit_code() is None
        assert _get(f"{terminal.url}/i?e=pv&tv=x&p=web&url=after") == 200
        terminal.wait_for(lambda s: "✓ 2" in s, "the second event counted in the header")
        terminal.press("q")
        terminal.wait_for(lambda s: "This capture is temporary" in s, "the question before quitting")
        terminal.press("y")
        terminal.wait_for(lambda s: terminal.exit_code() is not None, "the exit", timeout=20)
        assert terminal.exit_code() == 0


def test_a_bad_filter_is_explained_where_it_can_be_read_at_80_by_24() -> None:
    with Terminal("--offline", size=(80, 24)) as terminal:
        terminal.wait_for(lambda screen: terminal.url in screen, "the header (compact at 80 columns)")
        assert _get(f"{terminal.url}/i?e=pv&tv=x&p=web&url=one") == 200
        terminal.wait_for(lambda s: "page_view" in s, "the event row")
        terminal.press("/")
        terminal.wait_for(lambda s: "filter: text" in s, "the filter bar")
        terminal.press("-l", "colour:red")
        terminal.press("Enter")
        screen = terminal.wait_for(lambda s: 'unknown filter key "colour"' in s, "the filter error")
        lines = screen.rstrip("\n").split("\n")
        error_row = next(i for i, line in enumerate(lines) if 'unknown filter key "colour"' in line)
        footer_row = max(i for i, line in enumerate(lines) if "palette" in line)
        assert error_row < footer_row  # drawn above the footer, not under it
        assert 'plain text such as "red"' in " ".join(screen.split())  # wrapped, not cut
        terminal.press("Escape")
        terminal.wait_for(lambda s: "colour" not in s, "the filter bar closed")
        terminal.press("q")
        terminal.wait_for(lambda s: "This capture is temporary" in s, "the question before quitting")
        terminal.press("y")
        terminal.wait_for(lambda s: terminal.exit_code() is not None, "the exit", timeout=20)


def test_e_hands_the_schema_file_to_the_editor_while_capture_goes_on(schemas: Path, tmp_path: Path) -> None:
    """The editor gets the terminal and the schema file's path; a tracker it sends an event to
    meanwhile is answered (the collector is not paused); the TUI comes back and says what to do."""
    mark = tmp_path / "editor-saw.txt"
    editor = tmp_path / "editor"
    editor.write_text(f"#!/bin/sh\n{shlex.quote(sys.executable)} -c "
                      + shlex.quote("import sys, urllib.request\n"
                                    "url = sys.argv[2] + '/i?e=pv&tv=x&p=web&url=while-editing'\n"
                                    "status = urllib.request.urlopen(url, timeout=10).status\n"
                                    "open(sys.argv[3], 'w').write(f'{status} {sys.argv[1]}')")
                      + ' "$1" "$EDITED_AT" ' + shlex.quote(str(mark)) + "\n")
    editor.chmod(0o755)
    path = schemas / "com.gitlab" / "gitlab_standard" / "jsonschema" / "1-1-1"
    port = free_port()
    with Terminal("--offline", "--schemas", schemas, port=port,
                  env={"EDITOR": str(editor), "EDITED_AT": f"http://127.0.0.1:{port}"}) as terminal:
        terminal.wait_for(lambda screen: "listening on" in screen, "the header")
        assert asyncio.run(post(terminal.url, gitlab_event("edit_me", realm="moon"))) == 200
        terminal.wait_for(lambda s: "edit_me" in s, "the event row")
        terminal.press("2")
        terminal.press("Enter")
        terminal.wait_for(lambda s: 'realm = "moon"' in s, "the Entities tree")
        terminal.press("E")
        screen = terminal.wait_for(lambda s: "Edited" in s and "press r" in s, "the TUI after the editor")
        assert mark.read_text() == f"200 {path}"
        assert "listening on" in screen
        terminal.wait_for(lambda s: "✓ 1" in s, "the event sent while editing, counted")


def test_gitlab_columns_at_80_by_24_keep_the_short_violation_and_scroll_sideways() -> None:
    with Terminal("--offline", size=(80, 24)) as terminal:
        terminal.wait_for(lambda screen: terminal.url in screen, "the header (compact at 80 columns)")
        assert _get(f"{terminal.url}/i?e=se&se_ca=shop&se_ac=i_ci_pipeline_succeeded&tv=x&p=web"
                    "&dtm=yesterday") == 200
        screen = terminal.wait_for(lambda s: "dtm: not a time" in s, "the short violation in the row")
        assert "i_ci_pipeline_succeeded" in screen
        terminal.press("g")
        screen = terminal.wait_for(lambda s: "←→ columns" in s, "the hint that the columns scroll")
        assert "first violation" in screen and "dtm: not a time" in screen
        terminal.press("Right")
        screen = terminal.wait_for(lambda s: "◂category" in s, "the columns scrolled one to the left")
        assert "first violation" not in screen and "i_ci_pipeline_succeeded" in screen
        terminal.press("g", "q")
        terminal.wait_for(lambda s: "This capture is temporary" in s, "the question before quitting")
        terminal.press("y")
        terminal.wait_for(lambda s: terminal.exit_code() is not None, "the exit", timeout=20)


def test_a_filter_typed_in_one_go_after_slash_is_the_filter(tmp_path: Path) -> None:
    """`/` and the filter in one write, as a paste or a fast typist sends them: `g` and `v` are the
    list's keys, yet they are part of the filter, in order, and toggle nothing."""
    store = Store(tmp_path / "capture.sqlite")
    samples.fill(store, samples.mixed(3000))
    store.close()
    with Terminal("--offline", "--db", tmp_path / "capture.sqlite", size=(150, 45)) as terminal:
        terminal.wait_for(lambda screen: "events · 3,000" in screen, "the list of 3,000 events")
        terminal.press("-l", "/gv name:i_q")
        terminal.press("Enter")
        screen = terminal.wait_for(lambda s: "events · filter: gv name:i_q · 0 of 3,000" in s,
                                   "the list filtered by exactly what was typed")
        assert "invalid" not in screen.split("events · filter:")[1].split("\n")[0]
        assert "namespace" not in screen  # no GitLab columns
        terminal.press("q")
        terminal.wait_for(lambda s: terminal.exit_code() is not None, "the exit", timeout=20)
