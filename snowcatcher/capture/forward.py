"""--forward URL: relay each captured request to an upstream collector in the background; count failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from snowcatcher.model import JsonDict, RawRequest

log = logging.getLogger(__name__)

#: Set on relayed requests, so that a snowcatcher forwarding to itself (or to another snowcatcher
#: forwarding back) does not relay the same request forever.
LOOP_HEADER = "X-Snowcatcher-Forwarded"
#: Not relayed: hop-by-hop headers, and Content-Encoding since the captured body is inflated.
_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
               "upgrade", "proxy-authorization", "proxy-connection", "trailer", "content-encoding",
               LOOP_HEADER.lower()}
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
WORKERS = 4
QUEUE_SIZE = 10_000
#: Bytes of bodies waiting to be relayed; past it requests are dropped (and counted), so that a
#: hung upstream costs at most this much memory.
QUEUE_BYTES = 32 * 1024 * 1024
TIMEOUT = 10.0


@dataclass
class ForwardStats:
    """Counters the API and the TUI header show; `url` is empty when forwarding is off."""

    url: str = ""
    sent: int = 0
    failed: int = 0
    #: Requests not relayed because the queue was full (the upstream is too slow or down).
    dropped: int = 0
    #: Requests not relayed because snowcatcher kept only part of them (over --max-body).
    cut: int = 0
    pending: int = 0
    #: Bytes of the bodies waiting in the queue.
    pending_bytes: int = 0
    last_error: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def to_json(self) -> JsonDict:
        return {"enabled": self.enabled, "url": self.url, "sent": self.sent, "failed": self.failed,
                "dropped": self.dropped, "cut": self.cut, "pending": self.pending,
                "pending_bytes": self.pending_bytes, "last_error": self.last_error}


FORWARD_STATS = web.AppKey("forward_stats", ForwardStats)


class Forwarder:
    """A queue and a few workers; `submit` never waits, so capture never waits on the upstream."""

    def __init__(self, url: str, stats: ForwardStats | None = None, *, timeout: float = TIMEOUT,
                 queue_size: int = QUEUE_SIZE, queue_bytes: int = QUEUE_BYTES) -> None:
        self.base = url.rstrip("/")
        self.stats = stats or ForwardStats()
        self.stats.url = self.base
        self._timeout = timeout
        self._queue: asyncio.Queue[tuple[RawRequest, str]] = asyncio.Queue(queue_size)
        self._queue_bytes = queue_bytes
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    def submit(self, raw: RawRequest, target: str | None) -> None:
        """The collector's capture hook: relay `raw` to the upstream at `target` (the path and
        query exactly as sent), unless it was cut at a limit or the queue is full."""
        if raw.header(LOOP_HEADER):
            return
        if target is None:
            self.stats.cut += 1
            self.stats.last_error = (f"{raw.method} {raw.path} was over snowcatcher's limits and only "
                                     "partly kept; not relayed")
            return
        size = len(raw.body) + len(target)
        if self.stats.pending_bytes + size > self._queue_bytes or self._queue.full():
            self.stats.dropped += 1
            self.stats.last_error = (f"queue full ({self._queue.qsize()} requests, "
                                     f"{self.stats.pending_bytes} bytes waiting); dropped one")
            return
        self._queue.put_nowait((raw, target))
        self.stats.pending_bytes += size
        self.stats.pending = self._queue.qsize()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout),
                                              auto_decompress=False)
        self._workers = [asyncio.create_task(self._work(), name=f"forward-{n}") for n in range(WORKERS)]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def join(self) -> None:
        """Wait until everything submitted so far was relayed or failed (tests, shutdown)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            raw, target = await self._queue.get()
            try:
                await self._relay(raw, target)
            finally:
                self._queue.task_done()
                self.stats.pending = self._queue.qsize()
                self.stats.pending_bytes -= len(raw.body) + len(target)

    async def _relay(self, raw: RawRequest, target: str) -> None:
        assert self._session is not None
        url = URL(self.base + target, encoded=True)
        headers = [(k, v) for k, v in raw.headers if k.lower() not in _HOP_BY_HOP]
        headers.append((LOOP_HEADER, "1"))
        if raw.remote:
            headers.append(("X-Forwarded-For", raw.remote))
        present = {k.lower() for k, _ in headers}
        skip = [name for name in _AUTO_HEADERS if name.lower() not in present]
        try:
            async with self._session.request(raw.method, url, data=raw.body or None, headers=headers,
                                             skip_auto_headers=skip, allow_redirects=False) as answer:
                await answer.read()
                if answer.status >= 400:
                    self._fail(f"{self.base} answered {answer.status} to {raw.method} {raw.path}")
                    return
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self._fail(f"{raw.method} {url}: {type(error).__name__}: {error}".rstrip(": "))
            return
        self.stats.sent += 1

    def _fail(self, reason: str) -> None:
        self.stats.failed += 1
        self.stats.last_error = reason
        log.debug("forward failed: %s", reason)
