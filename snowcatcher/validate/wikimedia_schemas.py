"""Wikimedia schema repositories: local clones, schema.wikimedia.org cached on disk, `$schema` safety."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from snowcatcher.model import JsonDict
from snowcatcher.validate.iglu import (
    MAX_SCHEMA_BYTES,
    UNUSABLE,
    Resolution,
    SchemaResolver,
    UnusableSchemaFile,
    path_inside,
    read_capped,
    read_schema_file,
)
from snowcatcher.validate.materialize import (
    MaterializeError,
    SchemaTooLarge,
    materialize,
    or_yaml_error,
    parse_document,
)

log = logging.getLogger(__name__)

SCHEMA_HOST = "https://schema.wikimedia.org"
PRIMARY = f"{SCHEMA_HOST}/repositories/primary/jsonschema"
SECONDARY = f"{SCHEMA_HOST}/repositories/secondary/jsonschema"
#: EventGate's development configuration asks primary first, then secondary.
DEFAULT_WIKIMEDIA_REMOTES = (PRIMARY, SECONDARY)
FETCH_TIMEOUT = 5.0
#: How many `$ref`ed documents one remote fetch may follow.
MAX_FETCH_DOCUMENTS = 32

_VERSION_FILE = re.compile(r"^([0-9]+\.[0-9]+\.[0-9]+|latest|current)(\.yaml|\.yml|\.json)?\Z")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.@~+=,-]+\Z")
# A text file holding just another file's name is a git symlink checked out without symlink
# support (core.symlinks=false, Windows, some archives): `latest` holding `1.3.0.yaml`.
_LINK_TEXT = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


def is_wikimedia_repo(folder: Path) -> bool:
    """True for a Wikimedia schema repository (`jsonschema/<title>/<version>.yaml`, or the titles
    directly, as in EventGate's test schemas), False for an Iglu folder."""
    if (folder / "jsonschema").is_dir():
        return True
    if (folder / "schemas").is_dir() or any(folder.glob("*/*/jsonschema")):
        return False
    for seen, path in enumerate(folder.rglob("*")):
        if seen > 2000:
            break
        if path.is_file() and _VERSION_FILE.match(path.name) and ".git" not in path.parts:
            return True
    return False


def repo_root(folder: Path) -> Path:
    """The folder that holds the schema titles: `jsonschema/` in a repository clone."""
    nested = folder / "jsonschema"
    return nested if nested.is_dir() else folder


def schema_path(uri: str, remotes: Sequence[str] = DEFAULT_WIKIMEDIA_REMOTES) -> tuple[str, str]:
    """The repository-relative path a `$schema` (or `$ref`) names, or "" and why it is refused.

    Accepted: `/title/version`, `title/version` and URLs under a configured remote repository.
    Refused: `..`, absolute file paths, `file://`, other hosts; the schema can never be read
    from outside the configured folders.
    """
    text = uri.strip().partition("#")[0]
    if "://" in text or text.lower().startswith(("file:", "data:")):
        base = next((r for r in (*remotes, *DEFAULT_WIKIMEDIA_REMOTES) if text.startswith(r + "/")), None)
        if base is None:
            return "", ("other hosts and URI schemes are not allowed: use a relative schema URI "
                        f"or a URL under {' or '.join(DEFAULT_WIKIMEDIA_REMOTES)}")
        text = text[len(base):]
    if "\\" in text or "\0" in text:
        return "", "backslashes and NUL are not allowed in a schema URI"
    parts = text.strip("/").split("/")
    if any(part in ("..", ".") for part in parts):
        return "", '".." and "." are not allowed in a schema URI'
    if not text.strip("/") or any(not part for part in parts):
        return "", "the schema URI has an empty path segment"
    if not all(_SEGMENT.match(part) for part in parts):
        return "", "the schema URI holds characters no schema repository path has"
    return "/".join(parts), ""


@dataclass(frozen=True, slots=True)
class _Found:
    """A document read from a repository and where it came from."""

    document: JsonDict
    place: str


class WikimediaSchemas(SchemaResolver):
    """Resolves Wikimedia `$schema` URIs against local repositories, then cached remote ones.

    Lookups are synchronous and never touch the network; `fetch()` fills the disk cache.
    """

    def __init__(self, roots: Sequence[Path] = (), *, remotes: Sequence[str] = DEFAULT_WIKIMEDIA_REMOTES,
                 offline: bool = False, cache_dir: Path | None = None) -> None:
        super().__init__(cache_dir)
        self.roots = [repo_root(Path(root)) for root in roots]
        self.remotes = () if offline else tuple(r.rstrip("/") for r in remotes)

    # -- lookups -----------------------------------------------------------------------------

    def fetchable(self, uri: str) -> bool:
        """True when a remote repository may provide this schema, now or after its backoff."""
        path, refused = schema_path(uri, self.remotes)
        if refused or not self.remotes or uri in self._memory:
            return False
        try:
            cached = self._cached_anywhere(path)
        except UnusableSchemaFile:
            return False
        return not (cached is not None and self._resolve(uri).found)

    def places(self) -> list[str]:
        return [*(str(root) for root in self.roots), *self.remotes]

    def _resolve(self, uri: str) -> Resolution:
        path, refused = schema_path(uri, self.remotes)
        if refused:
            return Resolution(uri, None, (), refused)
        try:
            found = self._load(path)
        except UnusableSchemaFile as unusable:
            return Resolution(uri, None, tuple(self.places()), UNUSABLE + str(unusable), unusable=True)
        if found is None:
            return Resolution(uri, None, tuple(self.places()), self.backoff.reason(uri, "schema not found"))
        try:
            schema = materialize(found.document, self._load_document, _refusal)
        except UnusableSchemaFile as unusable:
            return Resolution(uri, None, (found.place,), UNUSABLE + str(unusable), unusable=True)
        except SchemaTooLarge as error:
            return Resolution(uri, None, (found.place,), f"{UNUSABLE}schema {found.place}: {error}",
                              unusable=True)
        except MaterializeError as error:
            return Resolution(uri, None, (found.place,), str(error))
        except RecursionError:
            return Resolution(uri, None, (found.place,), "the schema nests too deeply")
        return Resolution(uri, schema, (found.place,))

    def _load_document(self, path: str) -> JsonDict | None:
        found = self._load(schema_path(path, self.remotes)[0]) if path else None
        return found.document if found else None

    def _load(self, path: str) -> _Found | None:
        """The document at `path` in the first local repository, then the remote caches."""
        if not path:
            return None
        for root in self.roots:
            found = _read_in(root, path)
            if found is not None:
                return found
        cached = self._cached_anywhere(path)
        if cached is not None:
            return cached
        return None

    def _cached_anywhere(self, path: str) -> _Found | None:
        for remote in self.remotes:
            folder = self._cache_folder(remote)
            found = _read_in(folder, path) if folder else None
            if found is not None:
                return _Found(found.document, f"{remote}/{path}")
        return None

    # -- remote ------------------------------------------------------------------------------

    async def _fetch_one(self, uri: str) -> None:
        path = schema_path(uri, self.remotes)[0]
        reasons: list[str] = []
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            pending, done = [path], set[str]()
            while pending and len(done) < MAX_FETCH_DOCUMENTS:
                current = pending.pop()
                done.add(current)
                try:
                    document = self._load(current) or await self._download(session, current, reasons)
                except UnusableSchemaFile as error:
                    reasons.append(str(error))
                    continue
                if document is None:
                    continue
                document_json = document.document if isinstance(document, _Found) else document
                pending.extend(ref for ref in _document_refs(document_json) if ref not in done)
        self._memory.pop(uri, None)
        if self._resolve(uri).found:
            self.backoff.succeeded(uri)
        else:
            self.backoff.failed(uri, "schema not found (" + "; ".join(reasons) + ")")

    async def _download(self, session: aiohttp.ClientSession, path: str,
                        reasons: list[str]) -> JsonDict | None:
        for remote in self.remotes:
            url = f"{remote}/{path}"
            try:
                async with session.get(url, allow_redirects=False) as answer:
                    if answer.status != 200:
                        reasons.append(f"{url} answered {answer.status}")
                        continue
                    body = await read_capped(answer, MAX_SCHEMA_BYTES)
                document = parse_document(body)
            except or_yaml_error(aiohttp.ClientError, TimeoutError, SchemaTooLarge) as error:
                reasons.append(f"{url}: {type(error).__name__} {error}".strip())
                continue
            if isinstance(document, dict):
                self._remember(remote, path, body)
                return document
            reasons.append(f"{url} did not answer a schema object")
        return None

    def _remember(self, remote: str, path: str, body: bytes) -> None:
        folder = self._cache_folder(remote)
        if folder is None:
            return
        target = folder / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        except OSError as error:
            log.warning("cannot cache %s at %s: %s", path, target, error)

    def _cache_folder(self, remote: str) -> Path | None:
        if self.cache_dir is None:
            return None
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", remote.split("://", 1)[-1]).strip("_")
        return self.cache_dir / "wikimedia" / name


def _refusal(ref_path: str) -> str | None:
    return schema_path(ref_path)[1] or None


def _document_refs(document: Any) -> list[str]:
    """The repository paths of every `/`-rooted `$ref` in a document (not under `examples`)."""
    found: list[str] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                path = schema_path(ref)[0]
                if path:
                    found.append(path)
            stack.extend(value for key, value in node.items() if key != "examples")
    return found


def _read_in(root: Path, path: str) -> _Found | None:
    """`path` under `root` as itself, `.yaml` or `.json`; symlinks must stay inside `root`."""
    names = [path] if path.endswith((".yaml", ".yml", ".json")) else [path, path + ".yaml", path + ".json"]
    for name in names:
        document = _read_file(root, root / name, hops=3)
        if document is not None:
            return _Found(document, str(root / name))
    return None


def _read_file(root: Path, candidate: Path, *, hops: int) -> JsonDict | None:
    """The document in a file under `root`; None when there is none. Raises UnusableSchemaFile
    for a file beyond the bounds (not a regular file, too big, aliases expanding too far)."""
    real = path_inside(root, candidate)
    if real is None:
        return None
    try:
        body = read_schema_file(real, MAX_SCHEMA_BYTES)
    except OSError:
        return None
    text = body.strip().decode("utf-8", "replace")
    if hops and _LINK_TEXT.match(text) and text not in (".", ".."):
        return _read_file(root, candidate.with_name(text), hops=hops - 1)
    try:
        document = orjson.loads(body) if candidate.suffix == ".json" else parse_document(body)
    except SchemaTooLarge as error:
        raise UnusableSchemaFile(f"schema file {candidate}: {error}") from None
    except or_yaml_error(orjson.JSONDecodeError) as error:
        log.warning("schema file %s cannot be parsed: %s", candidate, error)
        return None
    return document if isinstance(document, dict) else None
