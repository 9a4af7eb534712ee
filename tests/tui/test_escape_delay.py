"""Esc is a key after 50 ms of silence unless the user's ESCDELAY says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

READ = "import snowcatcher.tui.app, textual.constants; print(textual.constants.ESCAPE_DELAY)"


def _escape_delay(**env: str) -> float:
    environment = {key: value for key, value in os.environ.items() if key != "ESCDELAY"}
    answer = subprocess.run([sys.executable, "-c", READ], env={**environment, **env},
                            capture_output=True, text=True, check=True, timeout=60)
    return float(answer.stdout)


def test_the_tui_waits_50_ms_after_a_lone_escape() -> None:
    assert _escape_delay() == 0.05  # Textual's own default is 0.1


def test_a_users_escdelay_is_kept() -> None:
    assert _escape_delay(ESCDELAY="25") == 0.025
