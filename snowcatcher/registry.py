"""Schema resolution: --schemas folders, the bundled schemas, then remote Iglu registries cached on disk."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from snowcatcher.model import JsonDict

log = logging.getLogger(__name__)

_IGLU = re.compile(
    r"^iglu:(?P<vendor>[a-zA-Z0-9_.-]+)/(?P<name>[a-zA-Z0-9_-]+)/(?P<format>[a-zA-Z0-9_-]+)/"
    r"(?P<version>[0-9]+-[0-9]+-[0-9]+)$")

IGLU_CENTRAL = "http://iglucentral.com"
GITLAB_IGLU = "https://gitlab-org.gitlab.io/iglu"
#: How long a failed remote lookup is remembered before it is tried again.
NEGATIVE_TTL = 60.0
FETCH_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class SchemaKey:
    """A parsed `iglu:vendor/name/format/M-R-A` URI."""

    vendor: str
    name: str
    format: str
    version: str

    @classmethod
    def parse(cls, uri: str) -> SchemaKey | None:
        match = _IGLU.match(uri)
        if not match or ".." in uri:
            return None
        return cls(match["vendor"], match["name"], match["format"], match["version"])

    @property
    def path(self) -> str:
        return f"{self.vendor}/{self.name}/{self.format}/{self.version}"

    @property
    def uri(self) -> str:
        return f"iglu:{self.path}"


@dataclass(frozen=True, slots=True)
class RemoteRepo:
    """A static Iglu repository served over HTTP (`{url}/schemas/{vendor}/{name}/...`)."""

    url: str
    #: Only vendors starting with one of these are asked for; empty means every vendor.
    vendor_prefixes: tuple[str, ...] = ()

    def serves(self, key: SchemaKey) -> bool:
        return not self.vendor_prefixes or key.vendor.startswith(self.vendor_prefixes)

    def schema_url(self, key: SchemaKey) -> str:
        return f"{self.url.rstrip('/')}/schemas/{key.path}"


DEFAULT_REMOTES = (RemoteRepo(GITLAB_IGLU, ("com.gitlab",)), RemoteRepo(IGLU_CENTRAL))


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of looking a schema up: the schema, or where we looked and why it failed."""

    uri: str
    schema: JsonDict | None
    #: Where the schema came from, or every place that was tried.
    places: tuple[str, ...]
    error: str = ""

    @property
    def found(self) -> bool:
        return self.schema is not None

    def explain(self) -> str:
        """A sentence for the violation when the schema was not found."""
        where = "; ".join(self.places) if self.places else "no schema source is configured"
        return f"{self.error or 'schema not found'}: {self.uri} (looked in {where})"


def bundled_schemas_dir() -> Path:
    """The schemas shipped with snowcatcher: inside the wheel, or `schemas/` in a source checkout."""
    package = Path(__file__).resolve().parent
    inside = package / "_bundled_schemas"
    return inside if inside.is_dir() else package.parent / "schemas"


def iglu_root(folder: Path) -> Path:
    """An Iglu folder may hold the vendors directly or under a `schemas/` subfolder."""
    nested = folder / "schemas"
    return nested if nested.is_dir() else folder


class Registry:
    """Resolves Iglu schema URIs; lookups are synchronous, remote fetches are awaited separately."""

    def __init__(self, folders: Sequence[Path] = (), *, remotes: Sequence[RemoteRepo] = DEFAULT_REMOTES,
                 offline: bool = False, cache_dir: Path | None = None) -> None:
        self.folders = [iglu_root(Path(folder)) for folder in folders] + [bundled_schemas_dir()]
        self.remotes = () if offline else tuple(remotes)
        self.cache_dir = cache_dir
        self._memory: dict[str, Resolution] = {}
        self._failed_at: dict[str, float] = {}
        self._failed_reason: dict[str, str] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        #: Bumped whenever the schemas may have changed, so validators drop what they cached.
        self.generation = 0

    def lookup(self, uri: str) -> Resolution:
        """Resolve from memory, local folders and the disk cache; never touches the network."""
        known = self._memory.get(uri)
        if known is not None:
            return known
        key = SchemaKey.parse(uri)
        if key is None:
            return Resolution(uri, None, (), "not a valid Iglu URI (expected "
                              "iglu:vendor/name/format/MODEL-REVISION-ADDITION)")
        resolution = self._lookup_local(key)
        if resolution.found or not self.needs_fetch(uri):
            self._memory[uri] = resolution
        return resolution

    def needs_fetch(self, uri: str) -> bool:
        """True when a remote registry could still provide this schema."""
        key = SchemaKey.parse(uri)
        if key is None or uri in self._memory or not any(r.serves(key) for r in self.remotes):
            return False
        failed = self._failed_at.get(uri)
        return failed is None or time.monotonic() - failed > NEGATIVE_TTL

    async def fetch(self, uris: Iterable[str]) -> None:
        """Fetch schemas from the remote registries; concurrent callers share one request per URI."""
        tasks = []
        for uri in set(uris):
            if not self.needs_fetch(uri) or self.lookup(uri).found:
                continue
            task = self._inflight.get(uri)
            if task is None:
                task = asyncio.ensure_future(self._fetch_one(uri))
                self._inflight[uri] = task
                task.add_done_callback(self._forget_inflight)
            tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _forget_inflight(self, done: asyncio.Task[None]) -> None:
        for uri, task in list(self._inflight.items()):
            if task is done:
                del self._inflight[uri]

    def reload(self) -> None:
        """Forget every resolved schema so that edits on disk are read again."""
        self._memory.clear()
        self._failed_at.clear()
        self.generation += 1

    def _lookup_local(self, key: SchemaKey) -> Resolution:
        places = []
        for folder in self.folders:
            places.append(str(folder))
            found, problem = _read_schema(folder / key.path)
            if found is not None:
                return Resolution(key.uri, found, (str(folder / key.path),))
            if problem:
                return Resolution(key.uri, None, (str(folder / key.path),), problem)
        for remote in self.remotes:
            if not remote.serves(key):
                continue
            places.append(remote.url)
            cached = self._cache_path(remote, key)
            found = _read_schema(cached)[0] if cached else None
            if found is not None:
                return Resolution(key.uri, found, (remote.schema_url(key),))
        error = self._failed_reason.get(key.uri, "schema not found")
        return Resolution(key.uri, None, tuple(places), error)

    async def _fetch_one(self, uri: str) -> None:
        key = SchemaKey.parse(uri)
        assert key is not None
        reasons = []
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for remote in self.remotes:
                if not remote.serves(key):
                    continue
                url = remote.schema_url(key)
                try:
                    async with session.get(url, allow_redirects=False) as answer:
                        if answer.status != 200:
                            reasons.append(f"{url} answered {answer.status}")
                            continue
                        schema = orjson.loads(await answer.read())
                except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as error:
                    reasons.append(f"{url}: {type(error).__name__} {error}".strip())
                    continue
                if not isinstance(schema, dict):
                    reasons.append(f"{url} did not answer a JSON schema object")
                    continue
                self._remember_remote(remote, key, schema)
                return
        self._failed_at[uri] = time.monotonic()
        self._failed_reason[uri] = "schema not found (" + "; ".join(reasons) + ")"
        self._memory.pop(uri, None)

    def _remember_remote(self, remote: RemoteRepo, key: SchemaKey, schema: JsonDict) -> None:
        self._memory[key.uri] = Resolution(key.uri, schema, (remote.schema_url(key),))
        cached = self._cache_path(remote, key)
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(orjson.dumps(schema))
            except OSError as error:
                log.warning("cannot cache %s at %s: %s", key.uri, cached, error)

    def _cache_path(self, remote: RemoteRepo, key: SchemaKey) -> Path | None:
        if self.cache_dir is None:
            return None
        host = re.sub(r"[^A-Za-z0-9.-]+", "_", remote.url.split("://", 1)[-1]).strip("_")
        return self.cache_dir / host / key.path


def _read_schema(path: Path) -> tuple[JsonDict | None, str]:
    """A schema file as JSON (Micro's extension-less names or `.json`), or why it is unusable."""
    for candidate in (path, path.with_name(path.name + ".json")):
        try:
            data: Any = orjson.loads(candidate.read_bytes())
        except OSError:
            continue
        except orjson.JSONDecodeError as error:
            return None, f"schema file {candidate} is not valid JSON ({error})"
        if isinstance(data, dict):
            return data, ""
        return None, f"schema file {candidate} does not hold a JSON object"
    return None, ""
