"""Schema resolution: --schemas folders, the bundled schemas, then remote Iglu registries cached on disk."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from snowcatcher.model import JsonDict
from snowcatcher.validate.backoff import BACKOFF_MAX, Backoff, FetchBudget, Fetches, wait

log = logging.getLogger(__name__)

_IGLU = re.compile(
    r"^iglu:(?P<vendor>[a-zA-Z0-9_.-]+)/(?P<name>[a-zA-Z0-9_-]+)/(?P<format>[a-zA-Z0-9_-]+)/"
    r"(?P<version>[0-9]+-[0-9]+-[0-9]+)\Z")

IGLU_CENTRAL = "http://iglucentral.com"
GITLAB_IGLU = "https://gitlab-org.gitlab.io/iglu"
#: The longest a failed remote lookup is remembered before it is tried again (see backoff.py).
NEGATIVE_TTL = BACKOFF_MAX
FETCH_TIMEOUT = 5.0
#: A schema larger than this is not a schema.
MAX_SCHEMA_BYTES = 4 * 1024 * 1024
#: How a Resolution's error starts when the schema is beyond snowcatcher's bounds.
UNUSABLE = "schema beyond snowcatcher's bounds: "


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
    #: The schema exists but is beyond snowcatcher's bounds (size, YAML aliases, `$ref`
    #: expansion, not a regular file): data cannot be checked against it, which is no verdict.
    unusable: bool = False

    @property
    def found(self) -> bool:
        return self.schema is not None

    def explain(self) -> str:
        """A sentence for the violation when the schema was not found."""
        where = "; ".join(self.places) if self.places else "no schema source is configured"
        return f"{self.error or 'schema not found'}: {self.uri} (looked in {where})"


def bundled_schemas_dir() -> Path:
    """The schemas shipped with snowcatcher: inside the wheel, or `schemas/` in a source checkout."""
    package = Path(__file__).resolve().parents[1]  # snowcatcher/, above this room
    inside = package / "_bundled_schemas"
    return inside if inside.is_dir() else package.parent / "schemas"


def iglu_root(folder: Path) -> Path:
    """An Iglu folder may hold the vendors directly or under a `schemas/` subfolder."""
    nested = folder / "schemas"
    return nested if nested.is_dir() else folder


class SchemaResolver:
    """What Iglu and Wikimedia resolution share: memoized synchronous lookups, and remote fetches
    that concurrent callers share and that back off after a failure.

    A subclass says how to resolve locally (`_resolve`), what a remote may provide (`fetchable`)
    and how to fetch one URI (`_fetch_one`).
    """

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._memory: dict[str, Resolution] = {}
        #: URIs every remote answered "404 Not Found" for: definitively missing, not transient.
        self._absent: set[str] = set()
        self.backoff = Backoff()
        #: Caps on the network work unknown schemas may cause (see backoff.FetchBudget).
        self.budget = FetchBudget()
        self._fetches = Fetches(self._fetch_one)
        #: Bumped whenever the schemas may have changed, so validators drop what they cached.
        self.generation = 0

    def lookup(self, uri: str) -> Resolution:
        """Resolve from memory, local folders and the disk cache; never touches the network."""
        known = self._memory.get(uri)
        if known is not None:
            return known
        resolution = self._resolve(uri)
        if resolution.found or not self.fetchable(uri):
            self._memory[uri] = resolution
        return resolution

    def fetchable(self, uri: str) -> bool:
        """True when a remote may provide this schema, now or after its backoff."""
        raise NotImplementedError

    def needs_fetch(self, uri: str) -> bool:
        """True when a remote could still provide this schema and may be asked now."""
        return self.fetchable(uri) and self.backoff.ready(uri)

    async def fetch(self, uris: Iterable[str], *, grace: float | None = None) -> bool:
        """Fetch schemas from the remotes; concurrent callers share one request per URI.

        With `grace`, wait only until that many seconds after each fetch started (the fetch
        goes on in the background); True when every fetch has ended.
        """
        wanted = [uri for uri in set(uris) if self.needs_fetch(uri) and not self.lookup(uri).found]
        # A fetch already running is shared; a new one counts against the caps.
        allowed = [uri for uri in wanted if self._fetches.running(uri) or self.budget.take(uri)]
        return await wait(self._fetches.start(allowed), grace)

    def forget_unfound(self) -> None:
        """After a reset: forget failures, not-found lookups and the fetch caps' counts."""
        self._memory = {uri: known for uri, known in self._memory.items() if known.found}
        self.backoff.clear()
        self.budget.clear()

    def reload(self) -> None:
        """Forget every resolved schema so that edits on disk are read again, and try remotes again."""
        self._memory = {}
        self._absent.clear()
        self.backoff.clear()
        self.budget.clear()
        self.generation += 1

    def _resolve(self, uri: str) -> Resolution:
        raise NotImplementedError

    async def _fetch_one(self, uri: str) -> None:
        raise NotImplementedError


class Registry(SchemaResolver):
    """Resolves Iglu schema URIs: --schemas folders, the bundled schemas, remote static registries."""

    def __init__(self, folders: Sequence[Path] = (), *, remotes: Sequence[RemoteRepo] = DEFAULT_REMOTES,
                 offline: bool = False, cache_dir: Path | None = None) -> None:
        super().__init__(cache_dir)
        self.folders = [iglu_root(Path(folder)) for folder in folders] + [bundled_schemas_dir()]
        self.remotes = () if offline else tuple(remotes)

    def fetchable(self, uri: str) -> bool:
        key = SchemaKey.parse(uri)
        return (key is not None and uri not in self._memory and uri not in self._absent
                and any(r.serves(key) for r in self.remotes))

    def _resolve(self, uri: str) -> Resolution:
        key = SchemaKey.parse(uri)
        if key is None:
            return Resolution(uri, None, (), "not a valid Iglu URI (expected "
                              "iglu:vendor/name/format/MODEL-REVISION-ADDITION)")
        return self._lookup_local(key)

    def _lookup_local(self, key: SchemaKey) -> Resolution:
        places = []
        for folder in self.folders:
            places.append(str(folder))
            found, problem = _read_schema(folder, folder / key.path)
            if found is not None:
                return Resolution(key.uri, found, (str(folder / key.path),))
            if problem:
                return Resolution(key.uri, None, (str(folder / key.path),), problem,
                                  unusable=problem.startswith(UNUSABLE))
        for remote in self.remotes:
            if not remote.serves(key):
                continue
            places.append(remote.url)
            cached = self._cache_path(remote, key)
            found = _read_schema(self.cache_dir, cached)[0] if self.cache_dir and cached else None
            if found is not None:
                return Resolution(key.uri, found, (remote.schema_url(key),))
        error = self.backoff.reason(key.uri, "schema not found")
        return Resolution(key.uri, None, tuple(places), error)

    async def _fetch_one(self, uri: str) -> None:
        key = SchemaKey.parse(uri)
        assert key is not None
        reasons = []
        not_found = 0
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for remote in self.remotes:
                if not remote.serves(key):
                    continue
                url = remote.schema_url(key)
                try:
                    async with session.get(url, allow_redirects=False) as answer:
                        not_found += answer.status == 404
                        if answer.status != 200:
                            reasons.append(f"{url} answered {answer.status}")
                            continue
                        schema = orjson.loads(await read_capped(answer))
                except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as error:
                    reasons.append(f"{url}: {type(error).__name__} {error}".strip())
                    continue
                if not isinstance(schema, dict):
                    reasons.append(f"{url} did not answer a JSON schema object")
                    continue
                self._remember_remote(remote, key, schema)
                return
        self.backoff.failed(uri, "schema not found (" + "; ".join(reasons) + ")")
        self._memory.pop(uri, None)
        if reasons and not_found == len(reasons):
            # Every registry answered: none has it. That is a verdict, unlike a registry that is
            # down or failing, whose events stay "not checked" while it is retried.
            self._absent.add(uri)

    def _remember_remote(self, remote: RemoteRepo, key: SchemaKey, schema: JsonDict) -> None:
        self.backoff.succeeded(key.uri)
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


async def read_capped(answer: aiohttp.ClientResponse, limit: int = MAX_SCHEMA_BYTES) -> bytes:
    """The whole body of a registry's answer; a body over `limit` is refused, not cut."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise aiohttp.ClientPayloadError(f"the schema is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def path_inside(root: Path, candidate: Path) -> Path | None:
    """`candidate` with its links resolved when that stays inside `root`; None for a link out of
    the folder (a cloned repository can carry one to ~/.docker/config.json or /dev/zero)."""
    try:
        real = candidate.resolve()
        return real if real.is_relative_to(root.resolve()) else None
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return None


class UnusableSchemaFile(ValueError):
    """A schema file snowcatcher will not read: the message names it and says why."""


def read_schema_file(path: Path, limit: int = MAX_SCHEMA_BYTES) -> bytes:
    """The bytes of a schema file, read only when it is a regular file of at most `limit` bytes:
    a FIFO would block the server for ever, /dev/zero fill its memory. Raises OSError when there
    is no such file, UnusableSchemaFile when there is one that cannot be a schema."""
    # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise UnusableSchemaFile(f"schema file {path} is not a regular file")
        if status.st_size > limit:
            raise UnusableSchemaFile(f"schema file {path} is larger than {limit:,} bytes")
        body = handle.read(limit + 1)
    if len(body) > limit:
        raise UnusableSchemaFile(f"schema file {path} is larger than {limit:,} bytes")
    return body


def _read_schema(root: Path, path: Path) -> tuple[JsonDict | None, str]:
    """A schema file under `root` as JSON (Micro's extension-less names or `.json`), or why it is
    unusable."""
    for candidate in (path, path.with_name(path.name + ".json")):
        if not candidate.is_symlink() and (not candidate.exists() or candidate.is_dir()):
            continue  # absent (or a folder)
        real = path_inside(root, candidate)
        if real is None:
            return None, f"schema file {candidate} leads out of {root}; snowcatcher does not read it"
        try:
            data: Any = orjson.loads(read_schema_file(real))
        except UnusableSchemaFile as error:
            return None, UNUSABLE + str(error)
        except OSError:
            continue
        except orjson.JSONDecodeError as error:
            return None, f"schema file {candidate} is not valid JSON ({error})"
        if isinstance(data, dict):
            return data, ""
        return None, f"schema file {candidate} does not hold a JSON object"
    return None, ""
