"""Connection hygiene: asyncio's accept errors (out of file descriptors) logged once per interval."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Seconds between two log lines about refused connections.
REPORT_EVERY = 10.0
_ACCEPT_ERROR = "socket.accept() out of system resource"


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Log asyncio's accept failures (EMFILE, ENFILE, ENOBUFS) as one line per REPORT_EVERY
    seconds with a count, instead of a traceback per retry; returns what undoes it.

    When the process runs out of descriptors, asyncio retries accept() every second and hands
    each failure with its traceback to the loop's exception handler: megabytes of stderr.
    """
    previous = loop.get_exception_handler()
    refused = 0
    reported = -REPORT_EVERY

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal refused, reported
        if not str(context.get("message", "")).startswith(_ACCEPT_ERROR):
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        refused += 1
        now = time.monotonic()
        if now - reported >= REPORT_EVERY:
            error = context.get("exception")
            log.warning("cannot accept new connections (%s): %d refusals in the last %.0f s; "
                        "idle connections are closed after the idle timeout", error, refused,
                        now - reported if reported >= 0 else 0)
            refused, reported = 0, now

    loop.set_exception_handler(handle)
    return lambda: loop.set_exception_handler(previous)
