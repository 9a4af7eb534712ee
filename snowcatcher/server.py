"""A running snowcatcher: store, schema registry, ingestor and the HTTP site, started and stopped together."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from snowcatcher.collector import DEFAULT_MAX_BODY, CollectorConfig, make_app
from snowcatcher.ingest import Ingestor
from snowcatcher.registry import DEFAULT_REMOTES, Registry, RemoteRepo
from snowcatcher.store import Store


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

    def remotes(self) -> tuple[RemoteRepo, ...]:
        return (*(RemoteRepo(url) for url in self.iglu), *DEFAULT_REMOTES)


class Snowcatcher:
    """The collector and everything behind it; `await start()`, then `await stop()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.db)
        self.registry = Registry(settings.schemas, remotes=settings.remotes(),
                                 offline=settings.offline, cache_dir=settings.cache_dir)
        self.ingestor = Ingestor(self.registry)
        self.app = make_app(self.store, self.ingestor, CollectorConfig(max_body=settings.max_body))
        self._runner: web.AppRunner | None = None
        self.port = settings.port

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; with port 0 the chosen port is in `self.port` afterwards."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        sockets = getattr(site._server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.store.close()
