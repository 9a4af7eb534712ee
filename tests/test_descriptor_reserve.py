"""Out of file descriptors, a tracker still gets in: the real command with its descriptor limit
lowered (RLIMIT_NOFILE) and every descriptor it may open taken by idle sockets."""

from __future__ import annotations

import os
import resource
import socket
import urllib.request

import pytest

from tests.cli_process import CliProcess

#: Descriptors the server may open beyond those it holds once listening.
HEADROOM = 40


@pytest.mark.skipif(not hasattr(resource, "prlimit") or not os.path.isdir("/proc/self/fd"),
                    reason="needs Linux (prlimit and /proc)")
def test_a_tracker_gets_in_while_idle_sockets_hold_every_descriptor() -> None:
    cli = CliProcess("--headless", "--offline", "--idle-timeout", "600")
    idle: list[socket.socket] = []
    try:
        cli.wait_listening()
        held = len(os.listdir(f"/proc/{cli.process.pid}/fd"))
        resource.prlimit(cli.process.pid, resource.RLIMIT_NOFILE, (held + HEADROOM, held + HEADROOM))
        for _ in range(HEADROOM + 20):  # more than it may accept: the rest wait in the backlog
            idle.append(socket.create_connection(("127.0.0.1", cli.port), timeout=30))
        line = cli.read_error_line(60)
        assert "cannot accept new connections" in line and "closed" in line, line
        # Without making room, this waits for the idle timeout (600 s) and times out first.
        with urllib.request.urlopen(f"{cli.url}/i?e=pv&tv=js-4.6.1&p=web", timeout=60) as answer:
            assert answer.status == 200
    finally:
        for sock in idle:
            sock.close()
        cli.stop()
