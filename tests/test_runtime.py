"""The runtime is the one composition root: one start-up error type for every front end, no cycle back."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from snowcatcher.protocols.wikimedia.streams import StreamConfigError
from snowcatcher.runtime import Settings, Snowcatcher, StartupError
from snowcatcher.store.store import StoreError
from tests.conftest import ROOT


def test_an_unusable_setting_is_a_startup_error_and_still_its_own_kind(tmp_path: Path) -> None:
    streams = tmp_path / "streams.yaml"
    streams.write_text("/[/: x\n")
    with pytest.raises(StartupError) as raised:
        Snowcatcher(Settings(port=0, offline=True, cache_dir=None, streams=streams))
    assert isinstance(raised.value, StreamConfigError)
    with pytest.raises(StartupError) as raised:
        Snowcatcher(Settings(port=0, offline=True, cache_dir=None, db=tmp_path / "no" / "such" / "x.db"))
    assert isinstance(raised.value, StoreError) and "x.db" in str(raised.value)


async def test_a_port_in_use_is_a_startup_error_that_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        catcher = Snowcatcher(Settings(port=port, offline=True, cache_dir=None))
        try:
            with pytest.raises(StartupError) as raised:
                await catcher.start()
        finally:
            catcher.store.close()
    assert str(raised.value) == (f"cannot listen on 127.0.0.1:{port}: the port is already in use (is "
                                 "another snowcatcher or Snowplow Micro running? choose another with --port)")


def test_the_tui_does_not_import_the_command_line_back() -> None:
    code = "import sys, snowcatcher.tui.app; print('snowcatcher.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    assert result.stdout.strip() == "False"
