"""Iglu schema resolution: --schemas folders, the bundled envelopes, remote registries on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from snowcatcher.validate.iglu import Registry, RemoteRepo, SchemaKey
from tests.loopback import serving

ACME = "iglu:com.acme/checkout/jsonschema/1-0-0"
SCHEMA = {"self": {"vendor": "com.acme", "name": "checkout", "format": "jsonschema", "version": "1-0-0"},
          "type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}


def write_schema(folder: Path, uri: str, schema: dict[str, object], suffix: str = "") -> Path:
    path = folder / (SchemaKey.parse(uri).path + suffix)  # type: ignore[union-attr]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    return path


@pytest.fixture
async def iglu_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A static Iglu registry on 127.0.0.1 that serves one schema and records what it was asked."""
    asked: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        asked.append(request.path)
        if request.path == "/schemas/com.acme/checkout/jsonschema/1-0-0":
            return web.json_response(SCHEMA)
        return web.Response(status=404, text="not here")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    async with serving(app) as url:
        yield url, asked


def test_bundled_envelopes_resolve_without_any_folder() -> None:
    registry = Registry(offline=True)
    for version in ("1-0-0", "1-0-1", "1-0-2", "1-0-3", "1-0-4"):
        found = registry.lookup(f"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/{version}")
        assert found.found and found.schema["self"]["version"] == version  # type: ignore[index]
    assert registry.lookup("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1").found
    assert registry.lookup("iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0").found


def test_folders_come_first_with_or_without_schemas_subfolder_and_suffix(tmp_path: Path) -> None:
    write_schema(tmp_path / "plain", ACME, SCHEMA)
    write_schema(tmp_path / "nested" / "schemas", ACME, {**SCHEMA, "description": "nested"}, ".json")
    assert Registry([tmp_path / "plain"], offline=True).lookup(ACME).found
    nested = Registry([tmp_path / "nested"], offline=True).lookup(ACME)
    assert nested.schema is not None and nested.schema["description"] == "nested"
    mine = {**SCHEMA, "description": "mine"}
    write_schema(tmp_path / "override", "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
                 mine)
    overridden = Registry([tmp_path / "override"], offline=True).lookup(
        "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1")
    assert overridden.schema == mine


def test_a_missing_schema_says_every_place_it_looked(tmp_path: Path) -> None:
    found = Registry([tmp_path], remotes=(RemoteRepo("http://127.0.0.1:9"),)).lookup(ACME)
    assert not found.found
    message = found.explain()
    assert ACME in message and str(tmp_path) in message and "http://127.0.0.1:9" in message


def test_a_broken_schema_file_is_reported_as_such(tmp_path: Path) -> None:
    path = SchemaKey.parse(ACME).path  # type: ignore[union-attr]
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text("{ not json")
    assert "is not valid JSON" in Registry([tmp_path], offline=True).lookup(ACME).explain()


@pytest.mark.parametrize("uri", ["iglu:com.acme/../../etc/jsonschema/1-0-0", "iglu:com.acme/x/1-0-0",
                                 "http://evil.example/schema", "iglu:com.acme/x/jsonschema/1.0.0"])
def test_uris_that_are_not_iglu_uris_are_refused(uri: str) -> None:
    found = Registry(offline=True).lookup(uri)
    assert not found.found and "not a valid Iglu URI" in found.explain()


async def test_remote_schemas_are_fetched_once_and_cached_on_disk(
        iglu_server: tuple[str, list[str]], tmp_path: Path) -> None:
    url, asked = iglu_server
    registry = Registry(remotes=(RemoteRepo(url),), cache_dir=tmp_path / "cache")
    assert registry.needs_fetch(ACME)
    await registry.fetch([ACME, ACME])
    assert registry.lookup(ACME).schema == SCHEMA
    await registry.fetch([ACME])
    assert asked == ["/schemas/com.acme/checkout/jsonschema/1-0-0"]
    # A new process with the same cache finds it without asking the network.
    again = Registry(remotes=(RemoteRepo("http://127.0.0.1:9"),), cache_dir=tmp_path / "cache")
    assert again.lookup(ACME).found is False  # cached per registry URL: another registry is another cache
    same = Registry(remotes=(RemoteRepo(url),), cache_dir=tmp_path / "cache")
    assert same.lookup(ACME).schema == SCHEMA and len(asked) == 1


async def test_vendor_prefixes_limit_which_registry_is_asked(iglu_server: tuple[str, list[str]]) -> None:
    url, asked = iglu_server
    registry = Registry(remotes=(RemoteRepo(url, ("com.gitlab",)),))
    assert not registry.needs_fetch(ACME)
    await registry.fetch([ACME])
    assert asked == [] and not registry.lookup(ACME).found


async def test_a_failed_fetch_explains_what_the_registry_said(iglu_server: tuple[str, list[str]]) -> None:
    url, _ = iglu_server
    missing = "iglu:com.acme/nothing/jsonschema/1-0-0"
    registry = Registry(remotes=(RemoteRepo(url),))
    await registry.fetch([missing])
    explained = registry.lookup(missing).explain()
    assert "answered 404" in explained and not registry.needs_fetch(missing)
