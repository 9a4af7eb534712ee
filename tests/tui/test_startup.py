"""The TUI's start-up refuses unusable settings in one line, as --headless does, never with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from snowcatcher.runtime import Settings
from snowcatcher.tui.app import run_tui


@pytest.mark.parametrize("text", ["just a sentence\n", "stream: [unclosed\n", "{'a': {'schema_title': 3}}\n"])
def test_a_malformed_streams_file_is_a_clear_error(tmp_path: Path, text: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    streams = tmp_path / "streams.yaml"
    streams.write_text(text)
    # run_tui is what `snowcatcher --streams FILE` runs in a terminal
    assert run_tui(Settings(port=0, offline=True, cache_dir=None, streams=streams)) == 2
    error = capsys.readouterr().err
    assert error.startswith("snowcatcher: ") and str(streams) in error and error.count("\n") == 1
