"""Shared fixtures: a real snowcatcher on a loopback port, and the shared corpus when it is there."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from snowcatcher.server import Settings, Snowcatcher

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
CORPUS = SHARED / "corpus"
IGLU = CORPUS / "iglu"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"

needs_corpus = pytest.mark.skipif(not IGLU.is_dir(), reason="needs ../shared/corpus (the shared test corpus)")


def settings(**overrides: Any) -> Settings:
    schemas = [IGLU] if IGLU.is_dir() else []
    values: dict[str, Any] = {"port": 0, "offline": True, "schemas": schemas, "cache_dir": None}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def catcher() -> AsyncIterator[Snowcatcher]:
    running = Snowcatcher(settings())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def body(*events: dict[str, str]) -> dict[str, Any]:
    return {"schema": PAYLOAD_DATA, "data": list(events)}


async def post_events(client: aiohttp.ClientSession, base: str, *events: dict[str, str],
                      **headers: str) -> int:
    async with client.post(base + TP2, json=body(*events),
                           headers={"Content-Type": "application/json; charset=UTF-8", **headers}) as answer:
        return answer.status


def struct(action: str, **extra: str) -> dict[str, str]:
    return {"e": "se", "tv": "py-1.1.0", "p": "srv", "aid": "shop", "se_ca": "cat", "se_ac": action,
            "dtm": "1742268163016", "stm": "1742268163018", **extra}
