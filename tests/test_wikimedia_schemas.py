"""Wikimedia schema repositories: layout detection, URI safety, current.yaml materialization, examples."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from snowcatcher.protocols.wikimedia.ajv import insecure_reasons
from snowcatcher.validate.materialize import parse_document
from snowcatcher.validate.validator import Validator
from snowcatcher.validate.wikimedia_schemas import WikimediaSchemas, is_wikimedia_repo, schema_path
from tests.loopback import serving
from tests.wikimedia_support import (
    CORPUS,
    PRIMARY,
    SCHEMA_EXAMPLES,
    SECONDARY,
    TEST_SCHEMAS,
    needs_corpus,
)


def _repos() -> WikimediaSchemas:
    return WikimediaSchemas([PRIMARY, SECONDARY], offline=True)


# -- layout and URI safety -----------------------------------------------------------------------


@needs_corpus
def test_layout_is_detected() -> None:
    assert is_wikimedia_repo(PRIMARY) and is_wikimedia_repo(SECONDARY)
    assert is_wikimedia_repo(TEST_SCHEMAS)  # titles at the top, no jsonschema/ folder
    assert not is_wikimedia_repo(CORPUS / "iglu")
    assert not is_wikimedia_repo(Path(__file__).resolve().parents[1] / "schemas")


@pytest.mark.parametrize("uri", [
    "/../../etc/passwd", "../secret/1.0.0", "/analytics/../../../etc/passwd", "/a/./b/1.0.0",
    "file:///etc/passwd", "https://evil.example/jsonschema/test/1.0.0",
    "http://schema.wikimedia.org.evil.example/repositories/primary/jsonschema/x/1.0.0",
    "/a\\b/1.0.0", "/a//b/1.0.0", "", "/",
])
def test_unsafe_schema_uris_are_refused(uri: str) -> None:
    path, refused = schema_path(uri)
    assert path == "" and refused


@pytest.mark.parametrize(("uri", "expected"), [
    ("/analytics/legacy/homepagevisit/1.2.1", "analytics/legacy/homepagevisit/1.2.1"),
    ("test/0.0.1", "test/0.0.1"),
    ("https://schema.wikimedia.org/repositories/primary/jsonschema/test/event/1.0.0", "test/event/1.0.0"),
    ("/fragment/common/1.0.0#", "fragment/common/1.0.0"),
])
def test_safe_schema_uris_map_to_repository_paths(uri: str, expected: str) -> None:
    assert schema_path(uri) == (expected, "")


def test_a_symlink_out_of_the_repository_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("title: secret\ntype: object\n")
    folder = tmp_path / "repo" / "jsonschema" / "sneaky"
    folder.mkdir(parents=True)
    os.symlink(secret, folder / "1.0.0.yaml")
    (folder / "latest").write_text("../../../secret.yaml")  # a symlink stored as text
    repos = WikimediaSchemas([tmp_path / "repo"], offline=True)
    assert not repos.lookup("/sneaky/1.0.0").found
    assert not repos.lookup("/sneaky/latest").found


def test_yaml_timestamps_stay_strings_and_tags_are_refused() -> None:
    assert parse_document(b"dt: 2020-04-02T19:11:20.942Z\n") == {"dt": "2020-04-02T19:11:20.942Z"}
    with pytest.raises(Exception, match="python/object"):
        parse_document(b"x: !!python/object/apply:os.system ['true']\n")


# -- resolution ----------------------------------------------------------------------------------


@needs_corpus
def test_versions_latest_and_symlinks_stored_as_text_resolve() -> None:
    repos = _repos()
    for uri, schema_id in [
        ("/analytics/legacy/homepagevisit/1.2.1", "/analytics/legacy/homepagevisit/1.2.1"),
        ("/analytics/legacy/homepagevisit/1.2.1.yaml", "/analytics/legacy/homepagevisit/1.2.1"),
        ("/analytics/legacy/homepagevisit/1.2.1.json", "/analytics/legacy/homepagevisit/1.2.1"),
        ("/analytics/legacy/homepagevisit/latest", "/analytics/legacy/homepagevisit/1.6.0"),
        ("/test/event/1.0.0", "/test/event/1.0.0"),  # primary repository
    ]:
        resolution = repos.lookup(uri)
        assert resolution.schema is not None, resolution.explain()
        assert resolution.schema["$id"] == schema_id


@needs_corpus
@pytest.mark.parametrize("title", [
    "analytics/legacy/homepagevisit", "fragment/analytics/legacy/eventcapsule", "test/event",
    "analytics/mediawiki/client/metrics_event", "error",
])
def test_current_yaml_with_ref_fragments_resolves_like_its_materialized_version(title: str) -> None:
    """current.yaml `$ref`s fragments in the other repository; merged, it equals the version
    jsonschema-tools materialized from it (same properties, required fields, nesting)."""
    repos = _repos()
    current = repos.lookup(f"/{title}/current")
    assert current.schema is not None, current.explain()
    version = current.schema["$id"].rsplit("/", 1)[-1]
    materialized = repos.lookup(f"/{title}/{version}").schema
    assert materialized is not None
    assert _shape(current.schema) == _shape(materialized)
    assert "allOf" not in json.dumps(current.schema) or "allOf" in json.dumps(materialized)


def _shape(schema: object) -> object:
    """Properties, required lists, types and additionalProperties: what decides validity here."""
    if not isinstance(schema, dict):
        return None
    keep = {key: schema[key] for key in ("type", "required", "additionalProperties", "enum")
            if key in schema and not isinstance(schema[key], dict)}
    keep["required"] = sorted(keep.get("required", []))
    properties = schema.get("properties")
    if isinstance(properties, dict):
        keep["properties"] = {name: _shape(sub) for name, sub in properties.items()}
    return keep


@needs_corpus
def test_a_missing_fragment_is_reported() -> None:
    only_secondary = WikimediaSchemas([SECONDARY], offline=True)
    resolution = only_secondary.lookup("/analytics/legacy/homepagevisit/current")
    assert not resolution.found
    # /fragment/http/client_ip and /fragment/common live in the primary repository
    assert resolution.error.startswith("$ref /fragment/") and "not found" in resolution.error


# -- every examples: block validates against the real repositories ---------------------------------


def _examples() -> list[Path]:
    return sorted(SCHEMA_EXAMPLES.glob("*.json")) if SCHEMA_EXAMPLES.is_dir() else []


@needs_corpus
def test_the_examples_corpus_is_complete() -> None:
    assert len(_examples()) == 38


@needs_corpus
@pytest.mark.parametrize("example", _examples(), ids=lambda path: path.stem)
def test_every_schema_example_validates(example: Path) -> None:
    data = json.loads(example.read_text())
    title, version = example.stem.split("__")[:2]
    uri = data.get("$schema") or "/" + title.replace("_", "/") + "/" + version
    assert uri.endswith("/" + version)
    validator = Validator(_repos(), default_draft=Draft7Validator)
    assert validator.check(uri, data, "example") == ()
    schema = validator.compiled(uri)
    assert not isinstance(schema, Exception)


@needs_corpus
def test_the_real_schemas_pass_eventgates_security_rule() -> None:
    repos = _repos()
    for uri in ("/analytics/legacy/homepagevisit/1.2.1", "/analytics/legacy/homepagevisit/current",
                "/test/event/1.0.0"):
        schema = repos.lookup(uri).schema
        assert schema is not None
        assert insecure_reasons(schema) == []
    insecure = WikimediaSchemas([TEST_SCHEMAS], offline=True).lookup("/test_insecure/0.0.1").schema
    assert insecure_reasons(insecure) == [
        '#/properties/meta/properties/id: pattern "^[a-fA-F0-9]{8}(-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$" '
        "without maxLength",
        '#/properties/meta/properties/dt: format "date-time" without maxLength']


# -- remote repositories (a schema server on 127.0.0.1) ----------------------------------------------


@needs_corpus
async def test_remote_schemas_and_their_refs_are_fetched_once_and_cached(tmp_path: Path) -> None:
    from aiohttp import web

    served: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        repo = {"primary": PRIMARY, "secondary": SECONDARY}[request.match_info["repo"]]
        served.append(request.match_info["path"])
        target = repo / "jsonschema" / request.match_info["path"]
        for candidate in (target, target.with_name(target.name + ".yaml")):
            if candidate.is_file() and ".." not in request.match_info["path"]:
                body = candidate.read_bytes()
                if len(body) < 20:  # the corpus keeps symlinks as text; a web server follows them
                    body = candidate.with_name(body.decode().strip()).read_bytes()
                return web.Response(body=body)
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{repo}/jsonschema/{path:.*}", serve)
    async with serving(app) as base:
        remotes = (f"{base}/primary/jsonschema", f"{base}/secondary/jsonschema")
        repos = WikimediaSchemas([], remotes=remotes, cache_dir=tmp_path)
        uri = "/analytics/legacy/homepagevisit/current"
        assert not repos.lookup(uri).found and repos.needs_fetch(uri)
        await repos.fetch([uri])
        resolution = repos.lookup(uri)
        assert resolution.schema is not None, resolution.explain()
        assert resolution.schema["$id"] == "/analytics/legacy/homepagevisit/1.6.0"
        assert any(path.startswith("fragment/") for path in served)  # the $refs came along
        fetched = len(served)
        await repos.fetch([uri])
        assert len(served) == fetched  # cached: nothing asked twice
        cached = WikimediaSchemas([], remotes=remotes, cache_dir=tmp_path)
        assert cached.lookup(uri).found  # a new process reads the disk cache
        missing = "/no/such/schema/1.0.0"
        await repos.fetch([missing])
        assert "answered 404" in repos.lookup(missing).error
        await _ingest_fetches_on_first_sight(remotes, tmp_path / "ingest")


async def _ingest_fetches_on_first_sight(remotes: tuple[str, ...], cache: Path) -> None:
    """The first event naming a remote schema waits for it once, then validates against it."""
    import time

    from snowcatcher.model import RawRequest
    from snowcatcher.protocols.ingest import Ingestor
    from snowcatcher.validate.iglu import Registry

    ingestor = Ingestor(Registry([], offline=True), WikimediaSchemas([], remotes=remotes, cache_dir=cache))
    example = json.loads((SCHEMA_EXAMPLES / "test_event__1.0.0__example0.json").read_text())
    raw = RawRequest("POST", "/v1/events", "", (("Content-Type", "application/json"),),
                     json.dumps(example).encode(), time.time())
    result = await ingestor.eventgate(raw)
    assert result.response.status == 201, result.response
    assert result.events[0].valid
