"""Validation work limits: linear-time schema patterns, counted validation work and a linear uniqueItems.

Nothing here reads a clock to decide a verdict. Patterns run on RE2, whose matching time is
linear in the text, with ECMA-262 semantics (ecma_regex.py). A pattern RE2 cannot run
(lookaround, backreferences) runs on the `regex` module with a time limit; when the limit is hit
the answer is "unknown", which makes the check "not checked" (retried later), never "invalid".
Schema keywords are counted per check, so a schema whose `$ref`s or `allOf`s fan out
exponentially stops after a number of steps that depends only on the schema and the data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

import orjson
import re2
import regex
from jsonschema import validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator as JsonSchemaValidator

from snowcatcher.validate import ecma_regex

#: Keyword evaluations one check may make, plus STEPS_PER_BYTE for each byte of its data's JSON.
BASE_STEPS = 5_000
STEPS_PER_BYTE = 2
#: Seconds one match on the fallback engine may take; hitting it only ever leaves data unchecked.
FALLBACK_SECONDS = 0.05
#: How much more work the background re-check of an unchecked event may do.
RECHECK_EFFORT = 10

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a pattern RE2 refuses goes to the fallback, not to stderr
_RE2_OPTIONS.never_capture = True


class PatternUnknown(Exception):
    """Raised inside fastjsonschema's generated code: a pattern's answer is unknown."""


class WorkExceeded(Exception):
    """The check made more keyword evaluations than its bound."""


@dataclass
class Work:
    """What one check may spend and what it could not decide."""

    limit: int
    effort: int = 1
    steps: int = 0
    #: Why parts of the data could not be checked, one sentence each.
    unchecked: list[str] = field(default_factory=list)
    #: Fallback patterns that already ran out of time in this check: not tried again.
    stalled: set[str] = field(default_factory=set)

    def note(self, reason: str) -> None:
        if reason not in self.unchecked:
            self.unchecked.append(reason)


_work: ContextVar[Work | None] = ContextVar("snowcatcher_work", default=None)
_effort: ContextVar[int] = ContextVar("snowcatcher_effort", default=1)


@contextlib.contextmanager
def effort(times: int) -> Iterator[None]:
    """Let the checks inside do `times` as much work (the background re-check)."""
    token = _effort.set(times)
    try:
        yield
    finally:
        _effort.reset(token)


@contextlib.contextmanager
def counting(data: Any) -> Iterator[Work]:
    """Count the work of one check of `data`; its bound grows with the size of the data."""
    times = _effort.get()
    work = Work((BASE_STEPS + STEPS_PER_BYTE * _json_size(data)) * times, times)
    token = _work.set(work)
    try:
        yield work
    finally:
        _work.reset(token)


def _json_size(data: Any) -> int:
    try:
        return len(orjson.dumps(data))
    except (TypeError, orjson.JSONEncodeError):
        try:
            return len(json.dumps(data))  # integers beyond 64 bits
        except (TypeError, ValueError, RecursionError):
            return 0


def show(text: str) -> str:
    """A pattern or key as JSON writes it, for messages."""
    return json.dumps(text, ensure_ascii=False)


# -- patterns ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    fast: Any = None  # an RE2 pattern
    slow: Any = None  # a `regex` pattern, for what RE2 cannot run


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> _Compiled | None:
    """The pattern compiled for RE2, else for `regex`; None when neither can compile it."""
    try:
        return _Compiled(fast=re2.compile(ecma_regex.for_re2(pattern), _RE2_OPTIONS))
    except (ecma_regex.Untranslatable, re2.error, ValueError, TypeError, OverflowError):
        pass
    try:
        return _Compiled(slow=regex.compile(ecma_regex.for_regex(pattern), regex.V0))
    except (ecma_regex.Untranslatable, regex.error, ValueError, OverflowError, RecursionError):
        return None


def matches(pattern: str, text: str) -> bool | None:
    """Whether `pattern` (ECMA-262) matches somewhere in `text`; None when that is unknown
    (the fallback engine ran out of time), which the current check records as unchecked."""
    compiled = _compile(pattern)
    if compiled is None:
        return True  # jsonschema's meta-schema check already reports an unusable pattern
    if compiled.fast is not None:
        try:
            return compiled.fast.search(text) is not None
        except UnicodeEncodeError:
            pass  # a lone surrogate, which RE2 (UTF-8) cannot take: the fallback can
    work = _work.get()
    times = work.effort if work is not None else _effort.get()
    if work is not None and pattern in work.stalled:
        return None
    slow = compiled.slow or regex.compile(ecma_regex.for_regex(pattern), regex.V0)
    try:
        return slow.search(text, timeout=FALLBACK_SECONDS * times) is not None
    except TimeoutError:
        if work is not None:
            work.stalled.add(pattern)
            work.note(f"the schema's pattern {show(pattern)} needs a backtracking regular expression "
                      "engine and did not finish on this data")
        return None


def _unknown_match(pattern: str, key: str) -> None:
    work = _work.get()
    if work is not None:
        work.note(f"whether the key {show(key[:80])} matches the pattern {show(pattern)} is unknown")


# -- jsonschema keywords -----------------------------------------------------------------------

Keyword = Callable[[JsonSchemaValidator, Any, Any, dict[str, Any]], Iterator[ValidationError]]


def _pattern(validator: JsonSchemaValidator, pattern: Any, instance: Any,
             schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and isinstance(pattern, str) \
            and matches(pattern, instance) is False:
        yield ValidationError(f"{show(instance)} does not match {show(pattern)}")


def _pattern_properties(validator: JsonSchemaValidator, patterns: Any, instance: Any,
                        schema: dict[str, Any]) -> Iterator[ValidationError]:
    if not (validator.is_type(instance, "object") and isinstance(patterns, dict)):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            found = matches(pattern, key)
            if found is None:
                _unknown_match(pattern, key)
            elif found:
                yield from validator.descend(  # type: ignore[attr-defined]
                    value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: JsonSchemaValidator, allowed: Any, instance: Any,
                           schema: dict[str, Any]) -> Iterator[ValidationError]:
    """jsonschema's additionalProperties with the patterns bounded (it would run them on `re`)."""
    if not validator.is_type(instance, "object"):
        return
    extras = sorted(extra_properties(schema, instance))
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)  # type: ignore[attr-defined]
    elif allowed is False and extras:
        shown = ", ".join(show(extra) for extra in extras)
        if "patternProperties" in schema:
            patterns = ", ".join(show(p) for p in sorted(schema["patternProperties"]))
            verb = "does" if len(extras) == 1 else "do"
            yield ValidationError(f"{shown} {verb} not match any of the patterns: {patterns}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({shown} {verb} unexpected)")


def extra_properties(schema: Any, instance: dict[str, Any]) -> list[str]:
    """The keys of `instance` that neither `properties` nor `patternProperties` cover; a key
    whose match is unknown is not called extra (the check is recorded as unchecked instead)."""
    if not isinstance(schema, dict):
        return list(instance)
    declared = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    found = []
    for key in instance:
        if key in declared:
            continue
        unknown = False
        for pattern in patterns if isinstance(patterns, dict) else ():
            answer = matches(pattern, key)
            if answer:
                break
            if answer is None:
                unknown = True
                _unknown_match(pattern, key)
        else:
            if not unknown:
                found.append(key)
    return found


def _unique_items(validator: JsonSchemaValidator, wanted: Any, instance: Any,
                  schema: dict[str, Any]) -> Iterator[ValidationError]:
    if wanted and validator.is_type(instance, "array") and not unique(instance):
        shown = repr(instance) if len(instance) <= 50 else f"[... {len(instance)} items]"
        yield ValidationError(f"{shown} has non-unique elements")


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


def _exact_multiple_of(validator: JsonSchemaValidator, divisor: Any, instance: Any,
                       schema: dict[str, Any]) -> Iterator[ValidationError]:
    """multipleOf in decimal, as Snowplow's pipeline checks it (0.07 is a multiple of 0.01);
    jsonschema divides in binary floating point and would call that valid value invalid."""
    if not (validator.is_type(instance, "number") and validator.is_type(divisor, "number")) or not divisor:
        return
    try:
        remainder = Decimal(str(instance)) % Decimal(str(divisor))
    except (InvalidOperation, ValueError, OverflowError):  # beyond decimals: jsonschema's own rule
        yield from validators.Draft4Validator.VALIDATORS["multipleOf"](validator, divisor, instance, schema)
        return
    if remainder:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


_KEYWORDS: dict[str, Keyword] = {"pattern": _pattern, "patternProperties": _pattern_properties,
                                 "additionalProperties": _additional_properties,
                                 "uniqueItems": _unique_items}


def _counted(keyword: Keyword) -> Keyword:
    """The keyword, counting one step per evaluation against the current check's bound."""
    def run(validator: JsonSchemaValidator, value: Any, instance: Any,
            schema: dict[str, Any]) -> Iterator[ValidationError]:
        work = _work.get()
        if work is not None:
            work.steps += 1
            if work.steps > work.limit:
                raise WorkExceeded
        return keyword(validator, value, instance, schema)
    return run


@cache
def bounded(draft: type[JsonSchemaValidator], *, exact_multiples: bool = False) -> type[JsonSchemaValidator]:
    """The draft's validator class with the bounded keywords in place of jsonschema's, every
    keyword counted; `exact_multiples`: multipleOf in decimal (Snowplow's pipeline), not in binary
    floating point (AJV, EventGate's validator)."""
    own = {**_KEYWORDS, "multipleOf": _exact_multiple_of} if exact_multiples else _KEYWORDS
    keywords = {name: _counted(own.get(name) or fn) for name, fn in draft.VALIDATORS.items()}
    extended: type[JsonSchemaValidator] = validators.extend(draft, keywords)  # type: ignore[no-untyped-call]
    return extended


# -- fastjsonschema ----------------------------------------------------------------------------


class _BoundedPattern:
    """Stands in for a compiled `re` pattern inside fastjsonschema's generated code."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def search(self, text: str) -> bool:
        answer = matches(self.pattern, text)
        if answer is None:
            raise PatternUnknown(self.pattern)
        return answer


def bound_fast(check: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
    """fastjsonschema's validator with its patterns bounded, or None when they cannot be reached."""
    patterns = getattr(check, "__globals__", {}).get("REGEX_PATTERNS")
    if not isinstance(patterns, dict):
        return None
    for name in list(patterns):
        # The keys are the schema's own patterns; fastjsonschema compiled them for `re`.
        patterns[name] = _BoundedPattern(str(name))
    return check
