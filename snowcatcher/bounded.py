"""Bounded validation: a time budget for schema regular expressions and a linear uniqueItems.

A schema's `pattern` is run by a backtracking engine: `^(a+)+$` against forty `a`s and a `!`
takes minutes, and validation runs on the event loop, so one such event would stop capture for
everybody. Every pattern runs under the `regex` module's timeout, within a budget per request;
when it is spent, validation stops with a `timeout` violation instead of stalling.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import Any

import orjson
import regex
from jsonschema import validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator as JsonSchemaValidator

#: Seconds one request's validation may spend in regular expressions.
BUDGET = 0.25
_deadline: float | None = None


class ValidationTimeout(Exception):
    """The budget ran out; the message names the pattern that was running."""


@contextlib.contextmanager
def budget(seconds: float = BUDGET) -> Iterator[None]:
    """Give the code inside `seconds` of regular-expression time; an outer budget wins."""
    global _deadline
    if _deadline is not None:
        yield
        return
    _deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline = None


def search(pattern: str, text: str, *, shown: str | None = None) -> bool:
    """`re.search(pattern, text)`, within the budget; raises ValidationTimeout when it runs out."""
    compiled = _compile(pattern)
    if compiled is None:
        return True  # jsonschema's meta-schema check already reported an unusable pattern
    left = BUDGET if _deadline is None else _deadline - time.monotonic()
    try:
        if left <= 0:
            raise TimeoutError
        return compiled.search(text, timeout=left) is not None
    except TimeoutError:
        raise ValidationTimeout(f"validation stopped: the schema's pattern {shown or pattern!r} took longer "
                                f"than the {BUDGET} s budget on this data (a pattern that backtracks "
                                "catastrophically?)") from None


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(pattern)
    except (regex.error, ValueError, OverflowError):
        return None


def unique(items: list[Any]) -> bool:
    """JSON Schema's uniqueItems in linear time (jsonschema compares unhashable items pairwise,
    which takes hours for a 1 MB array of objects)."""
    try:
        keys = {orjson.dumps(_canonical(item), option=orjson.OPT_SORT_KEYS) for item in items}
    except (TypeError, orjson.JSONEncodeError, RecursionError):
        # Beyond what orjson encodes: compare as text.
        keys = {repr(_canonical(item)).encode() for item in items}
    return len(keys) == len(items)


def _canonical(value: Any) -> Any:
    # JSON Schema equality: 1 == 1.0, but true != 1 (orjson writes them differently already).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return value


# -- jsonschema keywords -----------------------------------------------------------------------

Keyword = Callable[[JsonSchemaValidator, Any, Any, dict[str, Any]], Iterator[ValidationError]]


def _pattern(validator: JsonSchemaValidator, pattern: Any, instance: Any,
             schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and isinstance(pattern, str) and not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: JsonSchemaValidator, patterns: Any, instance: Any,
                        schema: dict[str, Any]) -> Iterator[ValidationError]:
    if not (validator.is_type(instance, "object") and isinstance(patterns, dict)):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(  # type: ignore[attr-defined]
                    value, subschema, path=key, schema_path=pattern)


def _unique_items(validator: JsonSchemaValidator, wanted: Any, instance: Any,
                  schema: dict[str, Any]) -> Iterator[ValidationError]:
    if wanted and validator.is_type(instance, "array") and not unique(instance):
        shown = repr(instance) if len(instance) <= 50 else f"[... {len(instance)} items]"
        yield ValidationError(f"{shown} has non-unique elements")


_KEYWORDS: dict[str, Keyword] = {"pattern": _pattern, "patternProperties": _pattern_properties,
                                 "uniqueItems": _unique_items}


@cache
def bounded(draft: type[JsonSchemaValidator]) -> type[JsonSchemaValidator]:
    """The draft's validator class with the bounded keywords in place of jsonschema's."""
    keywords = {name: fn for name, fn in _KEYWORDS.items() if name in draft.VALIDATORS}
    extended: type[JsonSchemaValidator] = validators.extend(draft, keywords)  # type: ignore[no-untyped-call]
    return extended


# -- fastjsonschema ----------------------------------------------------------------------------


class _BoundedPattern:
    """Stands in for a compiled `re` pattern inside fastjsonschema's generated code."""

    def __init__(self, pattern: str, shown: str) -> None:
        self.pattern = pattern
        self.shown = shown

    def search(self, text: str) -> bool:
        return search(self.pattern, text, shown=self.shown)


def bound_fast(check: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
    """fastjsonschema's validator with its patterns bounded, or None when they cannot be reached."""
    patterns = getattr(check, "__globals__", {}).get("REGEX_PATTERNS")
    if not isinstance(patterns, dict):
        return None
    for name, compiled in list(patterns.items()):
        # fastjsonschema compiles `$` as `\\Z`: match what it compiled, name what the schema says.
        patterns[name] = _BoundedPattern(str(getattr(compiled, "pattern", name)), str(name))
    return check
