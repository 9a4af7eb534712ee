"""The one composition root: store, schema sources, ingestor and HTTP site, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from snowcatcher import __version__
from snowcatcher.api import events as api
from snowcatcher.api import guard, micro
from snowcatcher.capture import strays
from snowcatcher.capture.collector import (
    CAPTURE_HOOKS,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY,
    CollectorConfig,
    make_app,
    parser_limits,
)
from snowcatcher.capture.connections import close_oldest_idle, quiet_accept_errors
from snowcatcher.capture.forward import FORWARD_STATS, Forwarder, ForwardStats
from snowcatcher.capture.unparseable import UNPARSEABLE, RecordingRunner, Unparseable
from snowcatcher.gitlab import api as gitlab_api
from snowcatcher.gitlab.api import GITLAB
from snowcatcher.gitlab.checkout import describe
from snowcatcher.gitlab.definitions import DefinitionSource, NotAGitLabCheckout, check_checkout
from snowcatcher.gitlab.findings import DefinitionChecker
from snowcatcher.protocols import PROTOCOLS as PROTOCOLS  # the front ends' way to the registry
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.protocols.wikimedia.streams import (
    RemoteStreamConfig,
    StreamCheck,
    StreamConfig,
    StreamConfigError,
    is_url,
)
from snowcatcher.store.store import Store, StoreError
from snowcatcher.validate.iglu import DEFAULT_REMOTES, Registry, RemoteRepo, Resolution
from snowcatcher.validate.revalidate import RevalidationReport as RevalidationReport  # what `r` reports
from snowcatcher.validate.revalidate import revalidate
from snowcatcher.validate.unresolved import UNRESOLVED_SCHEMAS, UnresolvedSchemas
from snowcatcher.validate.wikimedia_schemas import WikimediaSchemas, is_wikimedia_repo

#: See Settings.idle_timeout; long enough for a tracker's next batch, short enough that idle or
#: half-open connections cannot pile up (Node's HTTP server closes idle ones after 5 s).
DEFAULT_IDLE_TIMEOUT = 15.0
#: Seconds aiohttp keeps reading the rest of a refused body before it closes the connection.
LINGERING_TIME = 2.0



class StartupError(Exception):
    """A setting snowcatcher cannot start with (an unopenable --db, a malformed --streams file, a
    port in use): raised by Snowcatcher(settings) and start(); every front end prints it in one
    line and exits 2. Each kind is also its original error type, for callers that know it."""


class StoreStartupError(StartupError, StoreError):
    """The --db file cannot be opened."""


class StreamsStartupError(StartupError, StreamConfigError):
    """The --streams file or URL cannot be used."""


class StaleStreamConfig(StreamConfigError):
    """Re-validation ran, but a wiki's stream configuration could not be fetched again: the events
    were re-checked with the configuration fetched before (the message says which and why)."""


class GitLabStartupError(StartupError, NotAGitLabCheckout):
    """The --gitlab path holds no GitLab definitions."""


class ListenError(StartupError, OSError):
    """The collector cannot bind its address."""


#: Kept for callers of the first API: every start-up error is a StartupError.
STARTUP_ERRORS = (StartupError,)


def default_cache_dir() -> Path:
    """Where remote schemas are cached: $XDG_CACHE_HOME/snowcatcher or ~/.cache/snowcatcher."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "snowcatcher"


@dataclass
class Settings:
    """Everything the command line can set."""

    host: str = "127.0.0.1"
    port: int = 9090
    schemas: list[Path] = field(default_factory=list)
    db: Path | None = None
    offline: bool = False
    iglu: list[str] = field(default_factory=list)
    max_body: int = DEFAULT_MAX_BODY
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    #: A YAML or JSON stream configuration, or the URL of a wiki's `api.php?action=streamconfigs`;
    #: without it every Wikimedia stream is accepted.
    streams: Path | str | None = None
    #: Relay every captured request to this upstream collector (or EventGate) as well.
    forward: str | None = None
    #: Host names the read API answers to besides loopback and --host (--allow-host).
    allow_hosts: list[str] = field(default_factory=list)
    #: Origins whose pages may read the read API (--allow-origin).
    allow_origins: list[str] = field(default_factory=list)
    #: When set, every read and control request must carry it (--token, SNOWCATCHER_TOKEN).
    token: str = ""
    #: Show cookies and Authorization unredacted in the read API, exports and the TUI.
    show_secrets: bool = False
    #: Seconds a connection may sit without a complete request: before its first request
    #: (headers included) and between requests on a kept-alive one. Then it is closed.
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    #: Seconds a request's body may take to arrive; a stalled one is recorded, answered 408.
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    #: A GitLab checkout whose event definitions GitLab internal events are checked against.
    gitlab: Path | None = None

    def access(self) -> guard.Access:
        """The rules guarding the read and control API."""
        return guard.Access(host=self.host, allow_hosts=tuple(self.allow_hosts),
                            allow_origins=tuple(self.allow_origins), token=self.token,
                            show_secrets=self.show_secrets)

    def remotes(self) -> tuple[RemoteRepo, ...]:
        return (*(RemoteRepo(url) for url in self.iglu), *DEFAULT_REMOTES)

    def schema_folders(self) -> tuple[list[Path], list[Path]]:
        """The --schemas folders split into Iglu folders and Wikimedia schema repositories."""
        iglu: list[Path] = []
        wikimedia: list[Path] = []
        for folder in self.schemas:
            (wikimedia if is_wikimedia_repo(Path(folder)) else iglu).append(Path(folder))
        return iglu, wikimedia

    def stream_checks(self) -> list[StreamCheck]:
        """The stream configuration as a check; raises StreamConfigError for an unusable file.
        A URL's configuration is fetched by Snowcatcher.start()."""
        if not self.streams:
            return []
        if is_url(self.streams):
            return [RemoteStreamConfig(str(self.streams))]
        return [StreamConfig.load(Path(self.streams))]


class Snowcatcher:
    """The collector and everything behind it; `await start()`, then `await stop()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        iglu, wikimedia = settings.schema_folders()
        try:
            checks = settings.stream_checks()  # before the store: a bad file must not leave a database
            if settings.gitlab is not None:
                check_checkout(settings.gitlab)  # also before the store
            self.store = Store(settings.db)
        except StreamConfigError as error:
            raise StreamsStartupError(str(error)) from error
        except NotAGitLabCheckout as error:
            raise GitLabStartupError(str(error)) from error
        except StoreError as error:
            raise StoreStartupError(str(error)) from error
        self.registry = Registry(iglu, remotes=settings.remotes(),
                                 offline=settings.offline, cache_dir=settings.cache_dir)
        self.wikimedia = WikimediaSchemas(wikimedia, offline=settings.offline,
                                          cache_dir=settings.cache_dir)
        #: The GitLab definitions (--gitlab), or None.
        self.gitlab = DefinitionSource(settings.gitlab) if settings.gitlab else None
        checker = DefinitionChecker(self.gitlab) if self.gitlab else None
        self.ingestor = Ingestor(self.registry, self.wikimedia, checks, checker)
        #: Events waiting for a remote schema, re-validated when it arrives.
        self.unresolved = UnresolvedSchemas(self.store, self.ingestor)
        self.config = CollectorConfig(max_body=settings.max_body, body_timeout=settings.body_timeout)
        self.app = make_app(self.store, self.ingestor, self.config,
                            routes=(micro.install, gitlab_api.install, api.install), access=settings.access())
        self.app[UNRESOLVED_SCHEMAS] = self.unresolved
        strays.install(self.app)  # after every route: it sets each route's Expect handler
        #: Forwarding counters for the API and the TUI header; `forward.enabled` is False without --forward.
        self.forward = ForwardStats()
        self.app[FORWARD_STATS] = self.forward
        self.app[GITLAB] = self.gitlab
        self.forwarder = Forwarder(settings.forward, self.forward) if settings.forward else None
        if self.forwarder is not None:
            self.app[CAPTURE_HOOKS].append(self.forwarder.submit)
        #: Requests aiohttp's parser refused: recorded by the runner's connections, counted in /status.
        self.unparseable = Unparseable(self.store)
        self.app[UNPARSEABLE] = self.unparseable
        self._runner: web.AppRunner | None = None
        self._quiet_accept: Callable[[], None] | None = None
        self.port = settings.port

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> None:
        """Fetch a wiki's stream configuration, then bind and serve (StartupError when either
        fails); with port 0 the chosen port is in `self.port` afterwards."""
        for remote in self._remote_streams():
            try:
                await remote.refresh()
            except StreamConfigError as error:
                raise StreamsStartupError(str(error)) from error
        if self.forwarder is not None:
            await self.forwarder.start()
        limits = parser_limits(self.config)
        # Compressed bodies are inflated by collector.capture, a step at a time and only up to
        # --max-body; lingering (reading what a refused request still sends, so that the client
        # sees the answer) is kept short.
        self._runner = RecordingRunner(self.app, self.unparseable, api.LIVE_PATHS, access_log=None,
                                       handle_signals=False,
                                       max_line_size=limits["max_line_size"],
                                       max_field_size=limits["max_field_size"],
                                       max_headers=limits["max_headers"], auto_decompress=False,
                                       keepalive_timeout=self.settings.idle_timeout,
                                       lingering_time=LINGERING_TIME)
        await self._runner.setup()
        server = self._runner.server
        self._quiet_accept = quiet_accept_errors(
            asyncio.get_running_loop(), lambda: close_oldest_idle(server) if server is not None else 0)
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            if self.forwarder is not None:
                await self.forwarder.stop()
            failure = ListenError(listen_error(self.settings, error))
            failure.errno = error.errno
            raise failure from error
        addresses = self._runner.addresses
        if addresses:
            self.port = addresses[0][1]

    async def revalidate(self, progress: Callable[[int, int], None] | None = None,
                         stop: asyncio.Event | None = None) -> RevalidationReport:
        """Re-read the schemas (and fetch a wiki's stream configuration again) and re-check every
        captured event (the TUI's `r`). A failed fetch raises StaleStreamConfig after the re-check,
        which used the configuration fetched before."""
        problems: list[str] = []
        for remote in self._remote_streams():
            try:
                await remote.refresh()
            except StreamConfigError as error:
                problems.append(str(error))
        report = await revalidate(self.store, self.ingestor, progress, stop)
        if problems:
            raise StaleStreamConfig("; ".join(problems) + " (events were re-checked with the "
                                    "configuration fetched before)")
        return report

    def schema(self, uri: str) -> Resolution:
        """The schema `uri` as validation uses it: its JSON and the file or URL it came from, or
        why there is none (the TUI's `o`)."""
        return self.ingestor.schema(uri)

    def _remote_streams(self) -> list[RemoteStreamConfig]:
        return [check for check in self.ingestor.stream_checks
                if isinstance(check, RemoteStreamConfig)]

    async def stop(self) -> None:
        if self._quiet_accept is not None:
            self._quiet_accept()
            self._quiet_accept = None
        await self.unresolved.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.unparseable.drain()
        if self.forwarder is not None:
            await self.forwarder.stop()
        self.store.close()


async def serve_until_stopped(catcher: Snowcatcher, stopped: asyncio.Event | None = None) -> None:
    """Keep the started collector serving until `stopped` (or SIGTERM, or Ctrl-C); then close it."""
    if stopped is None:
        stopped = asyncio.Event()
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        await stopped.wait()
    finally:
        await catcher.stop()


def listen_error(settings: Settings, error: OSError) -> str:
    """A sentence for a failed bind."""
    where = f"{settings.host}:{settings.port}"
    if error.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use (is another snowcatcher or "
                "Snowplow Micro running? choose another with --port)")
    return f"cannot listen on {where}: {error.strerror or error}"


async def start_announced(catcher: Snowcatcher) -> bool:
    """Start `catcher` and print its start-up lines; on a StartupError print it in one line, close
    the store and return False (the front end then exits 2)."""
    try:
        await catcher.start()
    except StartupError as error:
        catcher.store.close()
        print(f"snowcatcher: {error}", file=sys.stderr)
        return False
    announce(catcher)
    keep_start_up_objects()
    return True


def keep_start_up_objects() -> None:
    """Take what start-up built (modules, schemas, the app) out of the garbage collector's sight.

    A full collection walks every object it tracks: with start-up's hundreds of thousands it held
    the event loop 35-60 ms, at moments a big request's many objects happened to trigger. Frozen,
    they are never walked (nor freed: they live as long as the process anyway)."""
    gc.collect()
    gc.freeze()


def announce(catcher: Snowcatcher) -> None:
    """The start-up lines on stderr, so that stdout stays the event stream."""
    store = catcher.store.path if catcher.settings.db else "a temporary capture (use --db to keep it)"
    print(f"snowcatcher {__version__} listening on {catcher.url}, storing in {store}", file=sys.stderr)
    if catcher.settings.gitlab is not None and catcher.gitlab is not None:
        for line in describe(catcher.gitlab.definitions):
            print(f"snowcatcher: {line}", file=sys.stderr)
    if guard.beyond_loopback(catcher.settings.host):
        token = guard.TOKEN_ENV
        reach = ("send events (reading them needs the token)" if catcher.settings.token else
                 f"send events and read them: protect the read API with --token TOKEN (or ${token})")
        print("snowcatcher: warning: listening on all interfaces or a network address; anyone who "
              f"can reach this machine can {reach}", file=sys.stderr)
