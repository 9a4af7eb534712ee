"""The aiohttp application keys shared by the collector and the read APIs, so neither imports the other."""

from __future__ import annotations

from aiohttp import web

from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.store.store import Store

STORE = web.AppKey("store", Store)
INGESTOR = web.AppKey("ingestor", Ingestor)
