"""A snowcatcher on loopback for tests that speak raw bytes to it over a socket."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from snowcatcher.runtime import Settings, Snowcatcher


@contextlib.asynccontextmanager
async def started() -> AsyncIterator[Snowcatcher]:
    """An offline snowcatcher with default limits on a free port, stopped afterwards."""
    catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None))
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()
