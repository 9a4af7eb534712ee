"""The real `snowcatcher` command in a pseudo-terminal (a private tmux server), its screen read as text."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.browser_support import missing
from tests.cli_process import free_port
from tests.conftest import ROOT

TMUX = shutil.which("tmux")


class Terminal:
    """`python -m snowcatcher ARGS` drawn in a 150x45 tmux pane, on its own tmux socket.

    Use as a context manager; `screen()` is what a user would see, `exit_code()` is None while it runs.
    """

    def __init__(self, *args: str | Path, port: int | None = None, size: tuple[int, int] = (150, 45),
                 env: dict[str, str] | None = None) -> None:
        if TMUX is None:
            missing("tmux is not installed: the pseudo-terminal tests need it")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.socket = f"snowcatcher-test-{uuid.uuid4().hex[:12]}"
        self._status_file = Path(f"/tmp/{self.socket}.status")
        command = shlex.join([sys.executable, "-m", "snowcatcher", "--port", str(self.port),
                              *map(str, args)])
        # The shell writes the program's exit status where the test can read it, then keeps the pane.
        script = f"{command}; echo $? > {shlex.quote(str(self._status_file))}; sleep 3600"
        environment = {**os.environ, "TERM": "xterm-256color", "TZ": "UTC", **(env or {})}
        environment.pop("TMUX", None)
        width, height = size
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-c", str(ROOT),
                   "sh", "-c", script, env=environment)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        assert TMUX is not None
        result = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True,
                                env=env, check=True, timeout=30)
        return result.stdout

    def screen(self) -> str:
        """The pane's text as it stands, lines joined by newlines."""
        return self._tmux("capture-pane", "-p", "-t", "0")

    def exit_code(self) -> int | None:
        """The program's exit status once it has ended, else None."""
        try:
            return int(self._status_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """The screen once `condition(screen)` holds; fails naming `what` with the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if condition(shown):
                return shown
            if self.exit_code() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what}: not shown (exit code {self.exit_code()}); "
                                     f"the screen:\n{shown}")
            time.sleep(0.1)

    def press(self, *keys: str) -> None:
        """Keys as tmux names them: "q", "Enter", "Down", "C-c"."""
        self._tmux("send-keys", "-t", "0", *keys)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._tmux("kill-server")
        self._status_file.unlink(missing_ok=True)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
