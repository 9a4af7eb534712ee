"""Collector connections: what the HTTP parser refuses is recorded and counted; hang-ups end live reads."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import ERROR, RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from snowcatcher.model import RawRequest, Response, Violation, bad_request
from snowcatcher.store.store import Store

log = logging.getLogger(__name__)

#: Bytes of a refused request kept for its record: the request line and the first headers.
KEEP = 4096
#: Seconds between two log lines about refused requests.
REPORT_EVERY = 10.0
#: What aiohttp's Server calls to make each request (its `request_factory`).
_RequestFactory = Callable[[RawRequestMessage, StreamReader, RequestHandler, AbstractStreamWriter,
                            "asyncio.Task[None]"], BaseRequest]
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class Unparseable:
    """Records what the parser refused (stored as bad_request events) and counts it for the status."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: Requests the parser refused since the start, recorded or not.
        self.count = 0
        #: Of them, those the store could not take (it was closing or failing).
        self.unrecorded = 0
        self._pending: set[asyncio.Task[None]] = set()
        self._unlogged = 0
        self._logged_at: float | None = None

    def refused(self, head: bytes, error: HttpProcessingError, remote: str) -> Response:
        """Record a refused request from the bytes `head` it began with; the answer it gets."""
        self.count += 1
        reason = parser_reason(error)
        kept = f"its first {len(head)} bytes were kept" if head else "none of its bytes were kept"
        message = (f"the request is not valid HTTP/1.1, so snowcatcher could not read it: {reason}; "
                   f"{kept}, starting {json.dumps(head[:120].decode('latin-1'))}")
        raw = readable_request(head, remote)
        answer = Response(400, f"bad request: {message}".encode(), "text/plain; charset=utf-8",
                          headers=(("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")))
        task = asyncio.ensure_future(self._store(raw, answer, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        self._log(reason)
        return answer

    async def _store(self, raw: RawRequest, answer: Response, message: str) -> None:
        event = bad_request(raw, Violation("request", "", "http", message))
        try:
            await self.store.append(raw, answer, [event])
        except Exception as error:  # the store is closing or failing: the count still says so
            self.unrecorded += 1
            log.warning("could not record a request the HTTP parser refused: %s", error)

    def _log(self, reason: str) -> None:
        self._unlogged += 1
        now = time.monotonic()
        if self._logged_at is None or now - self._logged_at >= REPORT_EVERY:
            log.warning("refused %d request(s) that are not valid HTTP (latest: %s); each is recorded "
                        "as a bad request", self._unlogged, reason)
            self._unlogged, self._logged_at = 0, now

    async def drain(self) -> None:
        """Wait until every refused request so far is stored (before the store closes)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def to_json(self) -> dict[str, int]:
        return {"refused": self.count, "unrecorded": self.unrecorded}

    def alert(self) -> str:
        """A few words for the TUI's header, or "" when every request so far was valid HTTP."""
        if not self.count:
            return ""
        missing = f", {self.unrecorded:,} of them not recorded" if self.unrecorded else ""
        return f"{self.count:,} unparseable request{'s' if self.count > 1 else ''} (bad_request){missing}"


UNPARSEABLE = web.AppKey("unparseable", Unparseable)


def parser_reason(error: HttpProcessingError) -> str:
    """The parser's reason in a sentence, without its Python excerpt of the bytes."""
    if isinstance(error, LineTooLong):
        return "a request line or header is longer than snowcatcher reads (" + \
            error.message.partition(" when reading")[0].lower() + ")"
    lines = [line.strip().rstrip(":. ") for line in str(error.message).split("\n")]
    # The parser's message: a sentence, at times a detail, then its excerpt (b'...') and a caret.
    words = [line for line in lines if line and not line.startswith(("b'", 'b"', "^"))][:2]
    return ": ".join(words).partition(": b'")[0].partition(": bytearray(")[0] or "malformed HTTP"


def readable_request(head: bytes, remote: str) -> RawRequest:
    """What can be read of a refused request: method, path and query when the request line has
    them, and the bytes themselves as its body."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b" ")
    method = parts[0].decode("latin-1") if parts[0] and set(parts[0]) <= _TOKEN and len(parts[0]) <= 32 \
        else ""
    target = parts[1].decode("utf-8", "replace") if method and len(parts) > 1 else ""
    path, _, query = target.partition("?")
    return RawRequest(method=method or "?", path=path[:2048], query=query[:2048], headers=(), body=head,
                      received_at=time.time(), remote=remote)


class _RecordingHandler(RequestHandler):
    """aiohttp's connection handler, keeping the start of each request so that one the parser
    refuses can be recorded with what was readable of it."""

    def __init__(self, manager: Server, unparseable: Unparseable, live_paths: Collection[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.unparseable = unparseable
        self.live_paths = live_paths
        self.head = b""
        self._broken_off: HttpProcessingError | None = None

    def connection_lost(self, exc: BaseException | None) -> None:
        """A hang-up ends the handler of a live read (a wait or a stream) at once, so that a
        client that left costs nothing more; any other request is finished, so a tracker that
        hangs up mid-request still gets it stored and recorded. (The server runs without
        aiohttp's handler_cancellation, which would end them all: shielding every tracker
        request from it cost a task per request.)"""
        task: asyncio.Task[None] | None = getattr(self, "_task_handler", None)
        request: BaseRequest | None = getattr(self, "_current_request", None)
        super().connection_lost(exc)
        if task is not None and request is not None and request.path in self.live_paths:
            task.cancel()

    def data_received(self, data: bytes) -> None:
        # Bytes that come while a request is being handled are its body (or a pipelined
        # request, then not kept): only a request's start is kept.
        if len(self.head) < KEEP and not getattr(self, "_request_in_progress", False):
            self.head += data[:KEEP - len(self.head)]
        super().data_received(data)
        request = getattr(self, "_current_request", None)
        if request is not None:
            self.break_off_body(request)

    def break_off_body(self, request: BaseRequest) -> None:
        """When the parser refused the body of `request` (a bad chunk size after its headers),
        hand the refusal to that body, so that its handler records it at once with the reason
        instead of waiting for the rest until the body timeout. Called when the request is made
        and as data comes while it is handled.

        aiohttp only queues the refusal as the next message, handled after this request;
        `_messages` is that queue (`_current_request`, the request being handled)."""
        queued = getattr(self, "_messages", ())
        if not queued or request.content.is_eof():
            return
        error = getattr(queued[-1][0], "exc", None)
        if isinstance(error, HttpProcessingError) and error is not self._broken_off:
            self._broken_off = error
            request.content.set_exception(error)

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("exc_info") is not None and kwargs["exc_info"] is self._broken_off:
            return  # aiohttp meets it again reading the rest of the body: it is recorded already
        super().log_exception(*args, **kwargs)

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        answer = self.unparseable.refused(self.head, exc, request.remote or "")
        self.head = b""
        response = web.Response(status=answer.status, body=answer.body, content_type="text/plain",
                                charset="utf-8")
        response.force_close()
        return response


class _RecordingServer(Server):
    """aiohttp's low-level server, making _RecordingHandler connections."""

    unparseable: Unparseable
    live_paths: Collection[str]

    def __call__(self) -> RequestHandler:
        return _RecordingHandler(self, self.unparseable, self.live_paths, loop=self._loop, **self._kwargs)


class RecordingRunner(web.AppRunner):
    """An AppRunner whose connections record the requests the HTTP parser refuses, and end the
    handlers of `live_paths` when their client hangs up (and only those)."""

    def __init__(self, app: web.Application, unparseable: Unparseable, live_paths: Collection[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.unparseable = unparseable
        self.live_paths = live_paths

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        # The application builds its Server itself (with its request factory and our options);
        # only the connection handler it makes differs, so the instance is given the subclass.
        server.__class__ = _RecordingServer
        server.unparseable = self.unparseable  # type: ignore[attr-defined]
        server.live_paths = self.live_paths  # type: ignore[attr-defined]
        server.request_factory = _forgetting_heads(server.request_factory)
        return server


def _forgetting_heads(factory: _RequestFactory) -> _RequestFactory:
    """`factory`, also forgetting the kept start of a request once it parsed and is handled,
    so that the next request on a kept-alive connection is kept from its own start, and
    breaking off a body the parser already refused."""

    def make(message: RawRequestMessage, payload: StreamReader, protocol: RequestHandler,
             writer: AbstractStreamWriter, task: asyncio.Task[None]) -> BaseRequest:
        request = factory(message, payload, protocol, writer, task)
        if message is not ERROR and isinstance(protocol, _RecordingHandler):
            protocol.head = b""
            protocol.break_off_body(request)
        return request

    return make
