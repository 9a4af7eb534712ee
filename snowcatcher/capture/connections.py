"""Connection hygiene: out of file descriptors, the oldest idle connections make room and the
refusals are logged once per interval."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

#: Seconds between two log lines about refused connections.
REPORT_EVERY = 10.0
#: The share of the idle connections closed, oldest first, each time an accept fails.
SHED_SHARE = 0.25
_ACCEPT_ERROR = "socket.accept() out of system resource"


def quiet_accept_errors(loop: asyncio.AbstractEventLoop,
                        make_room: Callable[[], int] = lambda: 0) -> Callable[[], None]:
    """Log asyncio's accept failures (EMFILE, ENFILE, ENOBUFS) as one line per REPORT_EVERY
    seconds with a count, instead of a traceback per retry, and call `make_room` on each (it
    returns how many connections it closed); returns what undoes it.

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
        closed = make_room()
        now = time.monotonic()
        if now - reported >= REPORT_EVERY:
            error = context.get("exception")
            log.warning("cannot accept new connections (%s): %d refusals in the last %.0f s; "
                        "closed %d idle connections to make room (others close after the idle "
                        "timeout)", error, refused, now - reported if reported >= 0 else 0, closed)
            refused, reported = 0, now

    loop.set_exception_handler(handle)
    return lambda: loop.set_exception_handler(previous)


def close_oldest_idle(server: web.Server, share: float = SHED_SHARE) -> int:
    """Close `share` of the connections that have no request in progress (idle keep-alives,
    sockets that sent nothing or half a header), oldest first; returns how many.

    Called when accept() fails for want of descriptors, so that a tracker's connection waiting
    behind them is accepted at asyncio's next try (a second later) rather than after the idle
    timeout. Nothing in flight is closed: every request that reached the collector is stored.
    """
    # Server.connections lists them in the order they were accepted. aiohttp has no public
    # "idle" flag; these two attributes are what its own keep-alive timer consults.
    idle = [handler for handler in server.connections
            if not getattr(handler, "_request_in_progress", True) and not getattr(handler, "_messages", True)]
    closing = idle[:max(1, int(len(idle) * share))] if idle else []
    for handler in closing:
        handler.force_close()
    return len(closing)
