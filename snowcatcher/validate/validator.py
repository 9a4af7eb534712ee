"""JSON-schema validation with compiled, cached validators; problems become Violations, never exceptions."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import fastjsonschema
import jsonschema
import orjson
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import (
    Draft3Validator,
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    FormatChecker,
)
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator as JsonSchemaValidator

from snowcatcher.model import NOT_CHECKED, UNCHECKED, UNRESOLVED, JsonDict, Violation, json_pointer, transient
from snowcatcher.text import as_json
from snowcatcher.validate import explain, work_limits
from snowcatcher.validate.flat_records import flat_records_check
from snowcatcher.validate.iglu import Resolution
from snowcatcher.validate.rust_check import compile_fast, known_differences, walk
from snowcatcher.validate.work_limits import bound_fast

_MEMO_SIZE = 20_000
#: The memo also holds at most this many bytes of keys (the entities' JSON): 20,000 entities of
#: a few kilobytes would otherwise hold tens of megabytes for a capture of unique contexts.
_MEMO_BYTES = 4 * 1024 * 1024
_MESSAGE_LIMIT = 300
# The formats Iglu schemas use; rfc3339-validator, rfc3986-validator and fqdn (dependencies)
# provide the date-time, uri and hostname checks. (jsonschema[format-nongpl] would also bring
# rfc3987-syntax, which takes a second to import, for IRI formats no schema here uses.)
FORMATS = FormatChecker(["date-time", "date", "time", "uuid", "ipv4", "ipv6", "uri", "uri-reference",
                          "email", "hostname"])
# Iglu schemas name their own meta-schema, so the draft is looked up by a marker in `$schema`;
# Wikimedia writes `https://json-schema.org/draft-07/schema#`, which jsonschema does not know.
_DRAFTS: tuple[tuple[str, type[JsonSchemaValidator]], ...] = (
    ("draft-03", Draft3Validator), ("draft-04", Draft4Validator), ("draft-06", Draft6Validator),
    ("draft-07", Draft7Validator), ("2019-09", Draft201909Validator), ("2020-12", Draft202012Validator))
_FAST_DRAFTS: dict[type[JsonSchemaValidator], str] = {Draft4Validator: "http://json-schema.org/draft-04/schema#",
                Draft6Validator: "http://json-schema.org/draft-06/schema#",
                Draft7Validator: "http://json-schema.org/draft-07/schema#"}


class SchemaSource(Protocol):
    """Where a Validator finds schemas: the Iglu Registry or the Wikimedia repositories."""

    generation: int

    def lookup(self, uri: str) -> Resolution: ...

    def needs_fetch(self, uri: str) -> bool: ...

    def fetchable(self, uri: str) -> bool: ...


def draft_for(schema: JsonDict, default: type[JsonSchemaValidator]) -> type[JsonSchemaValidator]:
    """The validator class for the draft a schema's `$schema` names, else `default`."""
    declared = schema.get("$schema")
    if isinstance(declared, str):
        for marker, cls in _DRAFTS:
            if marker in declared:
                return cls
    return default


class CompiledSchema:
    """A schema compiled once: a fast yes/no check where it is safe, jsonschema to explain failures."""

    def __init__(self, schema: JsonDict, draft: type[JsonSchemaValidator] = Draft4Validator,
                 retrieve: Callable[[str], JsonDict | None] | None = None,
                 formats: FormatChecker = FORMATS, *, exact_multiples: bool = False) -> None:
        self.schema = schema
        # A `$ref` to another document is resolved only through `retrieve` (our own schema
        # sources): jsonschema would otherwise fetch http:// and read file:// URIs itself.
        limited = work_limits.bounded(draft, exact_multiples=exact_multiples)
        self.full = limited(schema, format_checker=formats,
                            registry=_refs_registry(retrieve or _no_document, draft))
        #: jsonschema-rs's yes/no, formats and `$ref`s included; None where it cannot be trusted.
        self.compiled = compile_fast(schema, draft, retrieve or _no_document, formats)
        # fastjsonschema only for schemas jsonschema-rs does not take (no format, no `$ref`).
        self.fast = None if self.compiled is not None else _compile_fast(schema, draft)
        self.flat = flat_records_check(schema)
        #: Whether any property declares a `default` (EventGate fills them in; most schemas have none).
        self.declares_defaults = any(key == "default" for key, _ in walk(schema))

    def errors(self, data: Any) -> tuple[list[ValidationError], list[str]]:
        """Every error, sorted by path, and why parts of the data could not be checked (a
        pattern whose answer is unknown, a bound on work reached). An unfollowed `$ref` is an error.

        When anything went unchecked, only errors that cannot depend on it are kept: an error
        found under `not`, `oneOf`, `anyOf`, `if`/`then`/`else` or `contains` might be one only
        because an unknown answer was taken as "matches"."""
        if self.flat is not None and self.flat(data):
            return [], []
        if self.compiled is not None and self._compiled_valid(data):
            return [], []
        with work_limits.counting(data) as work:
            fast_failure = self._fast_failure(data)
            if fast_failure is False:
                return [], []
            found: list[ValidationError] = []
            try:
                for error in self.full.iter_errors(data):
                    found.append(error)
            except work_limits.WorkExceeded:
                # No number in the message: a re-check with a bigger bound that also runs out
                # leaves the event as it was, instead of reporting a change.
                work.note("validating against this schema takes more steps than snowcatcher allows "
                          "for data of this size (a schema whose $ref or allOf fan out exponentially?)")
            except referencing.exceptions.Unresolvable as error:
                message = (f"the schema's $ref {as_json(getattr(error, 'ref', ''))} cannot be followed: "
                           "snowcatcher reads schemas only from the --schemas folders, the bundled "
                           "schemas and the configured registries")
                found.append(ValidationError(message, validator="$ref"))
            unchecked = work.unchecked
        if unchecked:
            found = [error for error in found if _UNCERTAIN.isdisjoint(map(str, error.schema_path))]
        if not found and isinstance(fast_failure, fastjsonschema.JsonSchemaValueException):
            # fastjsonschema decided without any unknown answer: the data is invalid for sure.
            found = [ValidationError(fast_failure.message, validator=str(fast_failure.rule or "schema"))]
            unchecked = []
        return sorted(found, key=lambda e: list(map(str, e.absolute_path))), unchecked

    def _compiled_valid(self, data: Any) -> bool:
        """jsonschema-rs's "valid"; its "invalid" is not a verdict: the explainer decides."""
        try:
            return self.compiled is not None and self.compiled(data)
        except Exception:  # data it cannot take (a lone surrogate): the explainer decides
            return False

    def _fast_failure(self, data: Any) -> bool | fastjsonschema.JsonSchemaValueException | None:
        """False when fastjsonschema finds the data valid, its exception when it finds it invalid,
        None when it cannot tell (no fast check, or a pattern's answer unknown)."""
        if self.fast is None:
            return None
        try:
            self.fast(data)
            return False
        except fastjsonschema.JsonSchemaValueException as failure:
            return failure
        except (fastjsonschema.JsonSchemaException, work_limits.PatternUnknown):
            return None


#: Keywords under which an error may come from an unknown answer taken as "matches".
_UNCERTAIN = frozenset({"not", "oneOf", "anyOf", "if", "then", "else", "contains", "maxContains",
                        "minContains", "dependentSchemas", "dependencies"})


def _no_document(uri: str) -> JsonDict | None:
    return None


def _refs_registry(retrieve: Callable[[str], JsonDict | None],
                   draft: type[JsonSchemaValidator]) -> referencing.Registry[Any]:
    """A referencing registry that asks `retrieve` and nothing else (no network, no files)."""
    specification = referencing.jsonschema.specification_with(
        draft.META_SCHEMA.get("$schema", ""), default=referencing.jsonschema.DRAFT4)

    def lookup(uri: str) -> referencing.Resource[Any]:
        document = retrieve(uri)
        if document is None:
            raise referencing.exceptions.NoSuchResource(uri)
        return specification.create_resource(document)

    return referencing.Registry(retrieve=lookup)  # type: ignore[call-arg]


def _compile_fast(schema: JsonDict, draft: type[JsonSchemaValidator]) -> Callable[[Any], Any] | None:
    """fastjsonschema, only for schemas where it is known to agree with jsonschema.

    Its format checks differ from jsonschema's and it would fetch `$ref`s itself, so a schema
    that uses either stays with jsonschema alone (tests/test_validate.py checks the agreement).
    """
    # `self` (Iglu's vendor/name/format/version) is metadata, not a keyword.
    text = json.dumps({key: value for key, value in schema.items() if key != "self"})
    meta_schema = _FAST_DRAFTS.get(draft)
    if '"format"' in text or '"$ref"' in text or meta_schema is None or known_differences(schema):
        return None
    pinned = {**schema, "$schema": meta_schema}
    try:
        check: Callable[[Any], Any] = fastjsonschema.compile(pinned, use_default=False,
                                                             use_formats=False)
    except Exception:  # any schema it cannot compile is simply validated by jsonschema
        return None
    # Its patterns run on `re`, unbounded: swap in the bounded search, or do without it.
    return bound_fast(check) if '"pattern' in text else check


class Validator:
    """Validates data against the schema a URI names, memoizing results per (schema, data)."""

    def __init__(self, registry: SchemaSource,
                 default_draft: type[JsonSchemaValidator] = Draft4Validator,
                 formats: FormatChecker = FORMATS, *, exact_multiples: bool = True) -> None:
        self.registry = registry
        #: multipleOf in decimal as Snowplow's pipeline checks it (Iglu), or in floating point as
        #: AJV does (Wikimedia).
        self.exact_multiples = exact_multiples
        #: The format rules: jsonschema's by default, AJV's for Wikimedia (EventGate's validator).
        self.formats = formats
        #: The draft for schemas whose `$schema` names none: 4 for Iglu, 7 for Wikimedia.
        self.default_draft = default_draft
        self._compiled: dict[str, CompiledSchema | Violation] = {}
        self._memo: OrderedDict[tuple[str, bytes], tuple[Violation, ...]] = OrderedDict()
        #: The bytes of the memo's keys, bounded by _MEMO_BYTES.
        self.memo_bytes = 0
        self._generation = registry.generation

    def check(self, uri: str, data: Any, entity: str, *, memo: bool = True) -> tuple[Violation, ...]:
        """Every violation of `data` against the schema `uri`, labelled with `entity`.

        `memo=False` for data that never repeats (a POST body), to keep the memo for entities.
        """
        self._drop_stale()
        if not memo:
            return self._check(uri, data, entity)
        try:
            memo_key = (uri + "\0" + entity, orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
        except (TypeError, orjson.JSONEncodeError):
            memo_key = None
        if memo_key is not None:
            known = self._memo.get(memo_key)
            if known is not None:
                self._memo.move_to_end(memo_key)
                return known
        result = self._check(uri, data, entity)
        # Nothing transient is remembered: an unchecked result may be a verdict next time.
        if memo_key is not None and not transient(result):
            # A copy the size of the JSON: orjson's own bytes keep their whole output buffer
            # (4 KB for a 13-byte object, 500 KB for a 40 KB one).
            memo_key = (memo_key[0], bytes(memoryview(memo_key[1])))
            self._memo[memo_key] = result
            self.memo_bytes += _key_bytes(memo_key)
            while len(self._memo) > _MEMO_SIZE or self.memo_bytes > _MEMO_BYTES:
                oldest, _ = self._memo.popitem(last=False)
                self.memo_bytes -= _key_bytes(oldest)
        return result

    def compiled(self, uri: str) -> CompiledSchema | Violation:
        """The compiled validator for `uri`, or the violation saying why there is none."""
        known = self._compiled.get(uri)
        if known is not None:
            return known
        resolution = self.registry.lookup(uri)
        if resolution.unusable:
            # The schema exists but cannot be evaluated within bounds: no verdict on the data.
            unusable = Violation("", "", UNCHECKED, _clip(NOT_CHECKED + resolution.explain()))
            self._compiled[uri] = unusable
            return unusable
        if resolution.schema is None:
            if self.registry.fetchable(uri):
                # A remote registry may still have it: the violation names it (unresolved_uris).
                return Violation("", "", UNCHECKED, f"{UNRESOLVED}{resolution.explain()}; snowcatcher "
                                 "keeps asking the registries and validates the event again when "
                                 "the schema arrives")
            return Violation("", "", "resolve", resolution.explain())
        draft = draft_for(resolution.schema, self.default_draft)
        try:
            draft.check_schema(resolution.schema)
            compiled: CompiledSchema | Violation = CompiledSchema(
                resolution.schema, draft, self._retrieve, self.formats, exact_multiples=self.exact_multiples)
        except jsonschema.SchemaError as error:
            compiled = Violation("", "", "schema", f"the schema {uri} is itself invalid: "
                                 f"{_clip(error.message)}")
        self._compiled[uri] = compiled
        return compiled

    def _retrieve(self, uri: str) -> JsonDict | None:
        """A `$ref`ed document: an Iglu URI from the schema sources; anything else is refused."""
        if not uri.startswith("iglu:"):
            return None
        return self.registry.lookup(uri.partition("#")[0]).schema

    def _check(self, uri: str, data: Any, entity: str) -> tuple[Violation, ...]:
        compiled = self.compiled(uri)
        if isinstance(compiled, Violation):
            return (Violation(entity, "", compiled.keyword, compiled.message),)
        try:
            errors, unchecked = compiled.errors(data)
        except RecursionError:
            return (Violation(entity, "", "depth", "the data is nested too deeply to validate"),)
        return (*(_violation(entity, error) for error in errors),
                *(Violation(entity, "", UNCHECKED, _clip(NOT_CHECKED + reason)) for reason in unchecked))

    def _drop_stale(self) -> None:
        if self._generation != self.registry.generation:
            self._compiled.clear()
            self._memo.clear()
            self.memo_bytes = 0
            self._generation = self.registry.generation


def _key_bytes(memo_key: tuple[str, bytes]) -> int:
    return len(memo_key[0]) + len(memo_key[1])


def _violation(entity: str, error: ValidationError) -> Violation:
    return Violation(entity, json_pointer(error.absolute_path), str(error.validator),
                     _clip(explain.sentence(error)))


def _clip(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"
