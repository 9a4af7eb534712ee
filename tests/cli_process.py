"""Run the real `snowcatcher` command as a subprocess on a free port."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CliProcess:
    """`python -m snowcatcher ARGS`, started and waited for until it listens."""

    def __init__(self, *args: str | Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "snowcatcher", "--port", str(self.port), *map(str, args)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def wait_listening(self, timeout: float = 20.0) -> str:
        """The start-up line from stderr, once the server accepts connections."""
        line = self.read_error_line(timeout)
        assert "listening on" in line, line
        return line

    def read_line(self, timeout: float = 10.0) -> str:
        """The next line the program printed on stdout."""
        return self._next(self.stdout, timeout)

    def read_error_line(self, timeout: float = 10.0) -> str:
        return self._next(self.stderr, timeout)

    def _next(self, lines: queue.Queue[str], timeout: float) -> str:
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s (exit code {self.process.poll()})") from None

    def __enter__(self) -> CliProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _pump(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
    if stream is None:
        return
    for line in stream:
        lines.put(line)
    stream.close()
