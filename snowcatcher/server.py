"""A running snowcatcher: store, schema registry, ingestor and the HTTP site, started and stopped together."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from snowcatcher import api, micro
from snowcatcher.collector import CAPTURE_HOOKS, DEFAULT_MAX_BODY, CollectorConfig, make_app, parser_limits
from snowcatcher.forward import FORWARD_STATS, Forwarder, ForwardStats
from snowcatcher.ingest import Ingestor
from snowcatcher.registry import DEFAULT_REMOTES, Registry, RemoteRepo
from snowcatcher.revalidate import RevalidationReport, revalidate
from snowcatcher.store import Store
from snowcatcher.streams import StreamCheck, StreamConfig
from snowcatcher.unresolved import UNRESOLVED_SCHEMAS, UnresolvedSchemas
from snowcatcher.wikimedia_schemas import WikimediaSchemas, is_wikimedia_repo


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
    #: A YAML or JSON stream configuration; without it every Wikimedia stream is accepted.
    streams: Path | None = None
    #: Relay every captured request to this upstream collector (or EventGate) as well.
    forward: str | None = None

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
        """The stream configuration as a check; raises StreamConfigError for an unusable file."""
        return [StreamConfig.load(self.streams)] if self.streams else []


class Snowcatcher:
    """The collector and everything behind it; `await start()`, then `await stop()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        iglu, wikimedia = settings.schema_folders()
        checks = settings.stream_checks()  # before the store: a bad file must not leave a database
        self.store = Store(settings.db)
        self.registry = Registry(iglu, remotes=settings.remotes(),
                                 offline=settings.offline, cache_dir=settings.cache_dir)
        self.wikimedia = WikimediaSchemas(wikimedia, offline=settings.offline,
                                          cache_dir=settings.cache_dir)
        self.ingestor = Ingestor(self.registry, self.wikimedia, checks)
        #: Events waiting for a remote schema, re-validated when it arrives.
        self.unresolved = UnresolvedSchemas(self.store, self.ingestor)
        self.config = CollectorConfig(max_body=settings.max_body)
        self.app = make_app(self.store, self.ingestor, self.config, routes=(micro.install, api.install))
        self.app[UNRESOLVED_SCHEMAS] = self.unresolved
        #: Forwarding counters for the API and the TUI header; `forward.enabled` is False without --forward.
        self.forward = ForwardStats()
        self.app[FORWARD_STATS] = self.forward
        self.forwarder = Forwarder(settings.forward, self.forward) if settings.forward else None
        if self.forwarder is not None:
            self.app[CAPTURE_HOOKS].append(self.forwarder.submit)
        self._runner: web.AppRunner | None = None
        self.port = settings.port

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; with port 0 the chosen port is in `self.port` afterwards."""
        if self.forwarder is not None:
            await self.forwarder.start()
        limits = parser_limits(self.config)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     max_line_size=limits["max_line_size"],
                                     max_field_size=limits["max_field_size"],
                                     max_headers=limits["max_headers"])
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            if self.forwarder is not None:
                await self.forwarder.stop()
            raise
        sockets = getattr(site._server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def revalidate(self, progress: Callable[[int, int], None] | None = None
                         ) -> RevalidationReport:
        """Re-read the schemas and re-check every captured event (the TUI's `r`)."""
        return await revalidate(self.store, self.ingestor, progress)

    async def stop(self) -> None:
        await self.unresolved.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.forwarder is not None:
            await self.forwarder.stop()
        self.store.close()
