"""--streams FILE: which streams exist and which schema title each takes, checked like eventgate-wikimedia."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from snowcatcher.model import JsonDict
from snowcatcher.protocols.wikimedia.ajv import js_string
from snowcatcher.validate.materialize import or_yaml_error, parse_document

#: (event, its `$schema`, the schema) -> an EventGate error message, or None when the event may pass.
#: The stream configuration is one such check; tests add one that plays EventGate's test factory.
StreamCheck = Callable[[JsonDict, str, JsonDict], str | None]


class StreamConfigError(ValueError):
    """A --streams file that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class StreamRule:
    """One configured stream: an exact name or a `/regex/`, and the schema title it takes."""

    key: str
    schema_title: str
    pattern: re.Pattern[str] | None = None

    def matches(self, stream: str) -> bool:
        return self.pattern.search(stream) is not None if self.pattern else stream == self.key


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """The configured streams; exact names win over patterns, as in EventStreamConfig."""

    rules: tuple[StreamRule, ...]

    @classmethod
    def load(cls, path: Path) -> StreamConfig:
        """Read a YAML or JSON file: `{stream: {schema_title: ...}}`, the `streams` object of
        `api.php?action=streamconfigs`, or a `$wgEventStreams`-style list of `{stream: ...}`."""
        try:
            document = parse_document(path.read_bytes())
        except OSError as error:
            raise StreamConfigError(f"cannot read the stream configuration {path}: {error}") from None
        except or_yaml_error() as error:
            raise StreamConfigError(f"cannot read the stream configuration {path}{_yaml_problem(error)}"
                                    ) from None
        return cls.from_document(document, str(path))

    @classmethod
    def from_document(cls, document: Any, where: str = "stream configuration") -> StreamConfig:
        if isinstance(document, dict) and isinstance(document.get("streams"), dict | list):
            document = document["streams"]
        if isinstance(document, list):
            document = {str(item.get("stream")): item for item in document if isinstance(item, dict)}
        if not isinstance(document, dict):
            raise StreamConfigError(f"{where}: expected a mapping of stream names to settings")
        return cls(tuple(_rule(str(key), settings, where) for key, settings in document.items()))

    def find(self, stream: str) -> StreamRule | None:
        exact = next((rule for rule in self.rules if rule.pattern is None and rule.matches(stream)), None)
        return exact or next((rule for rule in self.rules if rule.matches(stream)), None)

    def __call__(self, event: JsonDict, schema_uri: str, schema: JsonDict) -> str | None:
        """eventgate-wikimedia's stream check, with its wording."""
        meta = event.get("meta")
        stream = meta.get("stream") if isinstance(meta, dict) else None
        event_id = meta.get("id") if isinstance(meta, dict) else None
        # Values are written as JavaScript's template strings write them (null, not None).
        shown = js_string(stream)
        head = (f"event {js_string(event_id)} of schema at {schema_uri} destined to stream {shown} "
                "is not allowed in stream")
        rule = self.find(stream) if isinstance(stream, str) else None
        if rule is None:
            return f"{head}; {shown} is not a configured stream."
        if not rule.schema_title:
            # EventGate refuses a stream whose config names no schema title.
            return f"{head}; {shown} does not have a configured schema_title."
        if schema.get("title") != rule.schema_title:
            return f"{head}; schema title must be {rule.schema_title}."
        return None


#: How long fetching a wiki's stream configuration may take.
FETCH_TIMEOUT = 10.0
MAX_CONFIG_BYTES = 16 * 1024 * 1024


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


class RemoteStreamConfig:
    """The stream configuration of a live wiki, from its API (`api.php?action=streamconfigs
    &format=json`, the source eventgate-wikimedia reads), fetched at start and on re-validation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.config = StreamConfig(())

    async def refresh(self) -> None:
        """Fetch the configuration again; raises StreamConfigError naming the URL, keeping the
        configuration fetched before."""
        problem = f"cannot fetch the stream configuration from {self.url}"
        try:
            timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(
                    self.url, headers={"Accept": "application/json"}) as answer:
                status, reason = answer.status, answer.reason or ""
                body = await answer.content.read(MAX_CONFIG_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise StreamConfigError(f"{problem}: {error or type(error).__name__}") from None
        if status != 200:
            raise StreamConfigError(f"{problem}: HTTP {status} {reason}".rstrip())
        if len(body) > MAX_CONFIG_BYTES:
            raise StreamConfigError(f"{problem}: the answer is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise StreamConfigError(f"{problem}: the answer is not JSON ({error})") from None
        if isinstance(document, dict) and "error" in document and "streams" not in document:
            raise StreamConfigError(f"{problem}: the API answered with an error: "
                                    f"{js_string(document['error'])}")
        self.config = StreamConfig.from_document(document, self.url)

    def __call__(self, event: JsonDict, schema_uri: str, schema: JsonDict) -> str | None:
        return self.config(event, schema_uri, schema)


def _rule(key: str, settings: Any, where: str) -> StreamRule:
    title = settings.get("schema_title", "") if isinstance(settings, dict) else ""
    if not isinstance(title, str):
        raise StreamConfigError(f"{where}: stream {key}: schema_title must be a string")
    if len(key) > 2 and key.startswith("/") and key.endswith("/"):
        try:
            return StreamRule(key, title, re.compile(key[1:-1]))
        except re.error as error:
            raise StreamConfigError(f"{where}: stream {key} is not a valid regex: {error}") from None
    return StreamRule(key, title)


def _yaml_problem(error: Exception) -> str:
    """Where and what a YAML parser error is, on one line (its own text spans four)."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {getattr(error, 'problem', None) or error}"
