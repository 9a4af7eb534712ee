"""The compiled hot path (jsonschema-rs) and the explainer (bounded jsonschema) give the same verdicts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, Draft7Validator

from snowcatcher.protocols.wikimedia.ajv import ajv_format_checker
from snowcatcher.validate import work_limits
from snowcatcher.validate.iglu import Registry
from snowcatcher.validate.validator import FORMATS, CompiledSchema, Validator
from snowcatcher.validate.wikimedia_schemas import WikimediaSchemas, repo_root
from tests.wikimedia_support import CORPUS, PRIMARY, SCHEMA_EXAMPLES, SECONDARY, TEST_SCHEMAS

IGLU = CORPUS / "iglu"
_VERSION = re.compile(r"\d+\.\d+\.\d+")

needs_corpus = pytest.mark.skipif(
    not (IGLU.is_dir() and PRIMARY.is_dir() and SECONDARY.is_dir() and TEST_SCHEMAS.is_dir()),
    reason=f"the third-party test corpus is not at {CORPUS} (it lives in ../shared/corpus next to "
           "the repository and is never copied into it)")


def _iglu_uris() -> list[str]:
    if not IGLU.is_dir():
        return []
    return sorted(f"iglu:{path.relative_to(IGLU).as_posix()}" for path in IGLU.glob("*/*/jsonschema/*")
                  if path.is_file())


def _wikimedia_uris(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    root = repo_root(folder)
    found = {f"/{path.parent.relative_to(root).as_posix()}/{path.stem}" for path in root.rglob("*")
             if path.suffix in (".json", ".yaml") and _VERSION.fullmatch(path.stem)}
    return sorted(found)


SCHEMAS = ([("iglu", uri) for uri in _iglu_uris()]
           + [("wikimedia", uri) for folder in (PRIMARY, SECONDARY) for uri in _wikimedia_uris(folder)]
           + [("eventgate-test", uri) for uri in _wikimedia_uris(TEST_SCHEMAS)])

#: Schemas the hot path leaves to the explainer, and why. Anything else must compile.
EXPLAINER_ONLY: dict[str, str] = {}


def _validators() -> dict[str, Validator]:
    return {"iglu": Validator(Registry([IGLU], offline=True)),
            "wikimedia": Validator(WikimediaSchemas([PRIMARY, SECONDARY], offline=True),
                                   default_draft=Draft7Validator, formats=ajv_format_checker(FORMATS)),
            "eventgate-test": Validator(WikimediaSchemas([TEST_SCHEMAS], offline=True),
                                        default_draft=Draft7Validator, formats=ajv_format_checker(FORMATS))}


_VALIDATORS: dict[str, Validator] = {}


def compiled(source: str, uri: str) -> CompiledSchema:
    if not _VALIDATORS:
        _VALIDATORS.update(_validators())
    found = _VALIDATORS[source].compiled(uri)
    if not isinstance(found, CompiledSchema):
        pytest.skip(f"{uri} does not compile for either engine: {found.message}")
    return found


def explainer_valid(schema: CompiledSchema, data: Any) -> bool | None:
    """The explainer's verdict; None when part of the data could not be checked."""
    with work_limits.counting(data) as work:
        errors = list(schema.full.iter_errors(data))
    return None if work.unchecked else not errors


def assert_agree(schema: CompiledSchema, data: Any, where: str) -> None:
    assert schema.compiled is not None
    try:
        fast = schema.compiled(data)
    except Exception:  # data the hot path cannot take goes to the explainer anyway
        return
    slow = explainer_valid(schema, data)
    if slow is not None:
        shown = json.dumps(data)[:300]
        assert fast == slow, f"{where}: jsonschema-rs says {fast}, the explainer {slow} for {shown}"


@needs_corpus
def test_the_corpus_has_schemas_of_every_kind() -> None:
    kinds = {kind for kind, _ in SCHEMAS}
    assert kinds == {"iglu", "wikimedia", "eventgate-test"} and len(SCHEMAS) > 100


@needs_corpus
@pytest.mark.parametrize(("source", "uri"), SCHEMAS)
def test_every_schema_takes_the_hot_path_unless_named(source: str, uri: str) -> None:
    schema = compiled(source, uri)
    if uri in EXPLAINER_ONLY:
        assert schema.compiled is None, f"{uri} now compiles: drop it from EXPLAINER_ONLY"
    else:
        assert schema.compiled is not None, f"{uri} stays with the explainer; name it and say why"


def _examples() -> list[Path]:
    return sorted(SCHEMA_EXAMPLES.glob("*.json")) if SCHEMA_EXAMPLES.is_dir() else []


@needs_corpus
def test_schema_examples_agree() -> None:
    checked = 0
    for source, uri in SCHEMAS:
        schema = compiled(source, uri)
        for example in schema.schema.get("examples") or []:
            assert_agree(schema, example, uri)
            checked += 1
    assert checked > 20


@needs_corpus
@pytest.mark.parametrize("path", _examples(), ids=lambda path: path.stem)
def test_corpus_examples_agree(path: Path) -> None:
    example = json.loads(path.read_text())
    uri = example.get("$schema") if isinstance(example, dict) else None
    if not isinstance(uri, str):
        pytest.skip(f"{path.name} names no $schema")
    assert_agree(compiled("wikimedia", uri), example, uri)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["2020-04-02T19:11:20.942Z", "2020-04-02",
                                                           "not a date", "-1", "", "a" * 300]))


def _mutated(value: Any, draw: Any) -> Any:
    """The value with one of its parts (maybe itself) replaced by another JSON value."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutated(value[key], draw)}
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], _mutated(value[index], draw), *value[index + 1:]]
    if isinstance(value, dict) and draw(st.booleans()):
        return {**value, draw(st.text(max_size=6)): draw(scalars)}
    return draw(scalars)


@needs_corpus
@pytest.mark.parametrize(("source", "uri"), SCHEMAS)
@settings(max_examples=15, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_generated_instances_agree(source: str, uri: str, data: st.DataObject) -> None:
    schema = compiled(source, uri)
    if schema.compiled is None:
        return
    instance = data.draw(instances(schema.schema))
    if data.draw(st.booleans()):
        instance = _mutated(instance, data.draw)
    assert_agree(schema, instance, uri)


_DATE_TIMES = ["2020-04-02T19:11:20.942Z", "2020-04-02T19:11:20Z", "2020-04-02T19:11:20+02:00",
               "2020-04-02 19:11:20", "2020-04-02T19:11Z", "2020-02-30T00:00:00Z"]
_FORMAT_VALUES = {"date-time": _DATE_TIMES, "date": ["2020-04-02", "2020-02-30", "20200402"],
                  "uri": ["https://example.org/a?b=c", "relative/path", "http://[::1]:80/"],
                  "uuid": ["b0caf18d-6c7f-4403-947d-2712bbe28610", "b0caf18d6c7f4403947d2712bbe28610"],
                  "email": ["a@example.org", "not an email"], "ipv4": ["127.0.0.1", "256.1.1.1"],
                  "hostname": ["example.org", "-bad-.example"]}


def instances(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Data shaped by the schema's properties, types, enums, bounds and formats (mostly valid),
    written here because hypothesis-jsonschema 0.23 fails on this hypothesis version when it
    draws objects ('many' object has no attribute 'more')."""
    if not isinstance(schema, dict) or depth > 6:
        return scalars
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    choices = [sub for key in ("anyOf", "oneOf") for sub in schema.get(key) or [] if isinstance(sub, dict)]
    if choices:
        return st.one_of(*(instances(sub, depth + 1) for sub in choices))
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) and kinds else []
    if not kinds:
        kinds = ["object"] if "properties" in schema else []
    if not kinds:
        return scalars
    return st.one_of(*(_typed(kind, schema, depth) for kind in kinds))


def _typed(kind: str, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "object":
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [key for key in schema.get("required") or [] if isinstance(key, str)]
        return st.fixed_dictionaries(
            {key: instances(properties.get(key), depth + 1) for key in required},
            optional={key: instances(value, depth + 1) for key, value in properties.items()
                      if key not in required})
    if kind == "array":
        items = schema.get("items")
        return st.lists(instances(items, depth + 1), max_size=3)
    if kind == "string":
        if schema.get("format") in _FORMAT_VALUES:
            return st.sampled_from(_FORMAT_VALUES[schema["format"]])
        texts = st.text(min_size=min(int(schema.get("minLength", 0)), 20),
                        max_size=max(min(int(schema.get("maxLength", 20)), 40), 1))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
                return st.one_of(st.from_regex(pattern), texts)
            except re.error:
                return texts
        return texts
    if kind == "integer":
        return st.integers(min_value=int(low) if isinstance(low, (int, float)) else None,
                           max_value=int(high) if isinstance(high, (int, float)) else None)
    if kind == "number":
        return st.one_of(st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False),
                         st.integers(min_value=int(low) if isinstance(low, (int, float)) else None))
    return {"boolean": st.booleans(), "null": st.none()}.get(kind, scalars)


# -- the cases where the engines differ: the explainer decides --------------------------------


def test_a_fractional_multiple_of_is_left_to_the_explainer() -> None:
    # jsonschema (like AJV) divides in floating point: 0.07 / 0.01 is 7.000000000000001, not a
    # multiple; jsonschema-rs calls it one. The hot path would say valid where the explainer does not.
    schema = CompiledSchema({"type": "object", "properties": {"price": {"multipleOf": 0.01}}})
    assert schema.compiled is None
    assert schema.errors({"price": 0.07})[0]
    assert CompiledSchema({"properties": {"n": {"multipleOf": 2}}}).compiled is not None


def test_formats_follow_the_explainers_rules_on_the_hot_path() -> None:
    # AJV's "fast" date-time (EventGate) takes a space for the "T"; Iglu's RFC 3339 check does not.
    # Each hot path asks its own validator's format rules, so both engines agree per source.
    schema = {"type": "object", "properties": {"dt": {"type": "string", "format": "date-time"}}}
    iglu = CompiledSchema(schema, Draft4Validator)
    wikimedia = CompiledSchema(schema, Draft7Validator, formats=ajv_format_checker(FORMATS))
    assert iglu.compiled is not None and wikimedia.compiled is not None
    for value in ["2020-04-02T19:11:20.942Z", "2020-04-02T19:11:20Z", "2020-04-02 19:11:20", "nope",
                  "2020-02-30T00:00:00Z", "2020-04-02T19:11Z"]:
        for compiled_schema in (iglu, wikimedia):
            assert_agree(compiled_schema, {"dt": value}, value)
    assert wikimedia.errors({"dt": "2020-04-02 19:11:20Z"}) == ([], [])
    assert iglu.errors({"dt": "2020-04-02 19:11:20Z"})[0]


def test_a_pattern_the_hot_path_cannot_finish_is_decided_by_the_explainer() -> None:
    # A catastrophic pattern: jsonschema-rs's backtracking stops at its step limit and reports a
    # failure, which is never a verdict; the explainer runs the pattern on RE2 and finds it valid.
    schema = CompiledSchema({"type": "string", "pattern": "^(a+)+$"})
    text = "a" * 40
    assert schema.errors(text) == ([], [])
    assert schema.errors(text + "b")[0]


def test_refs_are_followed_only_through_the_schema_sources() -> None:
    asked: list[str] = []

    def retrieve(uri: str) -> dict[str, Any] | None:
        asked.append(uri)
        return {"type": "string"} if uri.startswith("iglu:") else None

    inner = {"properties": {"a": {"$ref": "iglu:com.acme/x/jsonschema/1-0-0#"}}}
    schema = CompiledSchema(inner, Draft4Validator, retrieve)
    assert schema.compiled is not None
    assert schema.errors({"a": "s"}) == ([], []) and schema.errors({"a": 1})[0]
    remote = CompiledSchema({"properties": {"a": {"$ref": "http://127.0.0.1:9/x.json"}}}, Draft4Validator,
                            retrieve)
    assert remote.compiled is None  # the explainer reports the $ref it cannot follow
    assert remote.errors({"a": 1})[0][0].validator == "$ref"
    assert "http://127.0.0.1:9/x.json" in asked


def test_a_schema_whose_refs_fan_out_exponentially_is_left_to_the_step_counted_explainer() -> None:
    # jsonschema-rs counts no steps: 2^26 paths through these definitions take it 0.8 s per check.
    levels: dict[str, Any] = {"l0": {"type": "string"}}
    for level in range(1, 27):
        below = {"$ref": f"#/definitions/l{level - 1}"}
        levels[f"l{level}"] = {"allOf": [below, below]}
    schema = CompiledSchema({"type": "object", "definitions": levels,
                             "properties": {"s": {"$ref": "#/definitions/l26"}}})
    assert schema.compiled is None
    errors, unchecked = schema.errors({"s": "x"})
    assert not errors and unchecked
    recursive = CompiledSchema({"definitions": {"node": {"type": "object", "properties": {
        "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}}}},
        "$ref": "#/definitions/node"}, Draft7Validator)
    assert recursive.compiled is not None  # a tree's recursion is bounded by the data
    assert recursive.errors({"children": [{"children": []}]}) == ([], [])
    assert recursive.errors({"children": [{"children": 1}]})[0]
