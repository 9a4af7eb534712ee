"""What QA asserts about one event beyond the filter: contexts it carries and values of its fields."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any

import orjson

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, schema_name
from snowcatcher.protocols.snowplow.enriched import enriched_event
from snowcatcher.text import as_json

MISSING: Any = object()
#: The keyword of GitLab definition findings (snowcatcher.gitlab.findings.KEYWORD).
DEFINITION = "definition"
_COLUMNS = ("name", "event_type", "schema", "app_id", "protocol", "valid", "id")


@dataclass(frozen=True, slots=True)
class EventCheck:
    """Contexts that must all be present and fields that must have given values."""

    #: Schema names (`gitlab_standard`) or URIs / URI prefixes (`iglu:com.gitlab/gitlab_standard/`).
    contexts: tuple[str, ...] = ()
    #: (key, expected) pairs; `*` in expected is a wildcard. See `field_value` for the keys.
    fields: tuple[tuple[str, str], ...] = ()
    #: No finding against its GitLab definition (defined, active, declared properties, identifiers).
    defined: bool = False

    @classmethod
    def parse(cls, contexts: list[str], fields: list[str], *, defined: bool = False) -> EventCheck:
        """From `--context NAME` and `--field KEY=VALUE` arguments; raises ValueError on a bad field."""
        pairs = []
        for item in fields:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"field check {as_json(item)} must look like KEY=VALUE, "
                                 "e.g. se_label=approve")
            pairs.append((key.strip(), value))
        return cls(tuple(c for c in contexts if c), tuple(pairs), defined)

    def __bool__(self) -> bool:
        return bool(self.contexts or self.fields or self.defined)

    def problems(self, event: CapturedEvent) -> list[str]:
        """Why the event fails the check, one sentence each; empty when it passes."""
        found: list[str] = []
        for wanted in self.contexts:
            if not any(context_matches(wanted, uri) for uri in event.contexts):
                have = ", ".join(schema_name(uri) or uri for uri in event.contexts) or "none"
                found.append(f"no {wanted} context (it has: {have})")
        for key, expected in self.fields:
            actual = field_value(event, key)
            if actual is MISSING:
                found.append(f"{key} is missing, wanted {as_json(expected)}")
            elif not value_matches(expected, actual):
                found.append(f"{key} is {as_json(actual)}, wanted {as_json(expected)}")
        if self.defined:
            found += [v.message for v in event.violations if v.keyword == DEFINITION]
        return found

    def describe(self) -> str:
        parts = [f"context {c}" for c in self.contexts]
        parts += [f"{key}={value}" for key, value in self.fields]
        parts += ["as its GitLab definition declares"] if self.defined else []
        return ", ".join(parts)


def context_matches(wanted: str, uri: str) -> bool:
    if wanted.startswith("iglu:") or "/" in wanted:
        return uri == wanted or uri.startswith(wanted)
    return schema_name(uri) == wanted


def field_value(event: CapturedEvent, key: str) -> Any:
    """A value by key, first match wins: `<schema name>.<path>` inside a context or the event's data
    (`gitlab_standard.realm`), an enriched field (`se_label`), a tracker parameter (`se_la`), a
    dotted path into the payload (`meta.stream`), or one of our columns (`name`, `app_id`)."""
    head, _, rest = key.partition(".")
    if rest:
        for entity in event.entities:
            if schema_name(entity.schema) == head:
                found = _dig(entity.data, rest)
                if found is not MISSING:
                    return found
    enriched = enriched_event(event) if event.protocol == PROTOCOL_SNOWPLOW else {}
    if enriched.get(key) is not None:
        return enriched[key]
    found = _dig(event.payload, key)
    if found is MISSING and key in _COLUMNS:
        found = event.to_json()[key]
    # An enriched field that exists but is empty is null, not missing.
    return None if found is MISSING and key in enriched else found


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return MISSING
    return data


def render(value: Any) -> str:
    """How a value is compared and shown: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def value_matches(expected: str, actual: Any) -> bool:
    shown = render(actual)
    if "*" in expected:
        return fnmatch.fnmatchcase(shown, expected)
    if shown == expected:
        return True
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:  # 2 and 2.0 are the same se_value
            return math.isclose(float(expected), float(actual))
        except ValueError:
            return False
    return False
