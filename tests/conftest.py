"""Shared fixtures: the third-party corpus beside the repo, and a real snowcatcher on 127.0.0.1:0."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from snowcatcher.runtime import Settings, Snowcatcher
from tests.browser_support import Chromium, Page, chromium, find_chromium
from tests.data import PAYLOAD_DATA, TP2, body, struct  # noqa: F401 (re-exported for tests written before tests/data.py)
from tests.js_support import build_bundle, page_server

# Generating examples takes as long as busy cores make it: no time limits on hypothesis tests
# (seen failing with HealthCheck.too_slow while other processes held both cores).
hypothesis_settings.register_profile("busy_cores", deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("busy_cores")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
IGLU = CORPUS / "iglu"


def corpus_path(*parts: str) -> Path:
    """A file or folder of ../shared/corpus, or skip the test saying why."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"third-party corpus not found at {path} (clone ../shared beside the repo)")
    return path


def load_json(*parts: str) -> Any:
    return json.loads(corpus_path(*parts).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's own empty config folder: the TUI's preferences never touch the user's."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


@pytest.fixture
def iglu() -> Path:
    return corpus_path("iglu")


@pytest.fixture
async def catcher(iglu: Path, tmp_path: Path) -> AsyncIterator[Snowcatcher]:
    """A running snowcatcher with the corpus's Iglu schemas, offline, on a free loopback port."""
    server = Snowcatcher(Settings(port=0, offline=True, schemas=[iglu], cache_dir=tmp_path / "cache"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def plain_catcher() -> AsyncIterator[Snowcatcher]:
    """A running snowcatcher with the test settings (no corpus needed) on a free loopback port."""
    server = Snowcatcher(settings())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# -- real clients: headless Chromium and the test page -------------------------------------------


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The browser trackers bundled into one script for the test page (built once per run)."""
    return build_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture
async def page_url(bundle: Path) -> AsyncIterator[str]:
    """The test page, served from its own origin on 127.0.0.1."""
    async with page_server(bundle) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Chromium]:
    """A fresh headless Chromium (skipped without one, failed without one when CI=true)."""
    async with chromium(find_chromium()) as running:
        yield running


@pytest.fixture
async def page(browser: Chromium) -> Page:
    return await browser.new_page()


# -- helpers for the HTTP API tests --------------------------------------------------------------


needs_corpus = pytest.mark.skipif(not IGLU.is_dir(), reason=f"third-party corpus not found at {IGLU} "
                                                            "(clone ../shared beside the repo)")


def settings(**overrides: Any) -> Settings:
    """Test settings: port 0, offline, the corpus's Iglu schemas when present, no disk cache."""
    schemas = [IGLU] if IGLU.is_dir() else []
    values: dict[str, Any] = {"port": 0, "offline": True, "schemas": schemas, "cache_dir": None}
    values.update(overrides)
    return Settings(**values)


async def post_events(http: aiohttp.ClientSession, base: str, *events: dict[str, str],
                      **headers: str) -> int:
    async with http.post(base + TP2, json=body(*events),
                         headers={"Content-Type": "application/json; charset=UTF-8", **headers}) as answer:
        return answer.status

