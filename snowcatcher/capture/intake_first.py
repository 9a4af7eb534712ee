"""Trackers first: long reads rest between pages, longer while tracker requests are handled, and
only a few run at once (the others are answered 503 with Retry-After)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

#: Long reads (Micro's /micro/good and /micro/bad, the exports) running at once; more get a 503.
HEAVY_READS = 4
#: Seconds a long read waits for the tracker requests in progress before its next page anyway,
#: so that it still moves on (slowly) under a steady stream of them; its longest rest otherwise.
LONGEST_PAUSE = 0.05
#: What a long read refused for being one too many tells its client to wait (seconds).
RETRY_AFTER = 2


class TooManyReads(Exception):
    """HEAVY_READS long reads run already."""


class IntakeFirst:
    """Counts the tracker requests in progress and the long reads running.

    A long read's page costs a few milliseconds; a tracker request is handled over several turns
    of the event loop, and a page would run at each of them. Pausing the pages while a tracker
    request is in progress keeps its answer time to its own work whatever is being read.
    """

    def __init__(self, heavy_reads: int = HEAVY_READS, longest_pause: float = LONGEST_PAUSE) -> None:
        #: Long reads allowed at once (a test may lower it on a running server).
        self.heavy_reads = heavy_reads
        self.longest_pause = longest_pause
        self._intake = 0
        self._reads = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def intake(self) -> IntakeFirst:
        """Around a tracker request (`with gate.intake():`): long reads pause until it is answered.
        The gate is its own context manager: a generator-based one cost 1.5 us per request."""
        return self

    def __enter__(self) -> None:
        self._intake += 1
        self._idle.clear()

    def __exit__(self, *exception: object) -> None:
        self._intake -= 1
        if not self._intake:
            self._idle.set()

    async def pause(self, worked: float) -> None:
        """Between two pages of a long read that took `worked` seconds: wait while tracker
        requests are in progress (at most `longest_pause`), else rest as long as the page took.

        The rest keeps long reads to half of the event loop's time (and of a core): a tracker
        request arriving meanwhile finds the loop idle, and the process not queued for a core
        behind its own reads, instead of waiting for the page in progress."""
        if not self._intake:
            await asyncio.sleep(min(worked, self.longest_pause))
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.longest_pause):
                await self._idle.wait()

    @property
    def running_reads(self) -> int:
        """How many long reads are running."""
        return self._reads

    @contextlib.contextmanager
    def heavy_read(self) -> Iterator[None]:
        """Around a long read; raises TooManyReads when `heavy_reads` run already."""
        if self._reads >= self.heavy_reads:
            raise TooManyReads(f"{self._reads} long reads (Micro's good and bad lists, exports) are "
                               f"running; snowcatcher serves at most {self.heavy_reads} at once so that "
                               f"trackers are answered first: try again in {RETRY_AFTER} s")
        self._reads += 1
        try:
            yield
        finally:
            self._reads -= 1


INTAKE_FIRST = web.AppKey("intake_first", IntakeFirst)


class _Pages:
    """A long read's pages: when the last one began, for the rest after it."""

    def __init__(self, gate: IntakeFirst) -> None:
        self._gate = gate
        self._loop = asyncio.get_running_loop()
        self._began = self._loop.time()

    async def pause(self) -> None:
        await self._gate.pause(self._loop.time() - self._began)
        self._began = self._loop.time()


_PAGES: web.RequestKey[_Pages] = web.RequestKey("long_read_pages", _Pages)


def long_read(handler: Handler) -> Handler:
    """A read handler that counts as one of the long reads: 503 with Retry-After past the limit."""
    @functools.wraps(handler)
    async def counted(request: web.Request) -> web.StreamResponse:
        gate = request.app.get(INTAKE_FIRST)
        if gate is None:
            return await handler(request)
        try:
            with gate.heavy_read():
                request[_PAGES] = _Pages(gate)
                return await handler(request)
        except TooManyReads as error:
            return web.Response(status=503, body=orjson.dumps({"error": str(error)}),
                                content_type="application/json",
                                headers={"Retry-After": str(RETRY_AFTER)})
    return counted


async def between_pages(request: web.Request) -> None:
    """Where a long read (a `long_read` handler's) lets the event loop run others: tracker
    requests first."""
    pages = request.get(_PAGES)
    await (pages.pause() if pages is not None else asyncio.sleep(0))
