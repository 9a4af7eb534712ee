"""What the benchmarks share: free loopback ports, waiting for a server, pinning to a core."""

from __future__ import annotations

import os
import shutil
import socket
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 30.0, poll: float = 0.05) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`, trying every `poll` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(poll)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def pin(cpu: int) -> list[str]:
    """A `taskset` prefix that keeps a process on one core, so load and server do not compete."""
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
