"""Validation: violations name entity, path, rule; the fast path agrees with jsonschema on the corpus."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft4Validator

from snowcatcher.validate.iglu import Registry
from snowcatcher.validate.validator import CompiledSchema, Validator
from tests.conftest import corpus_path


def test_violations_carry_entity_path_keyword_and_message(iglu: Path) -> None:
    validator = Validator(Registry([iglu], offline=True))
    uri = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"
    violations = validator.check(uri, {"environment": "development", "source": "x", "realm": 3,
                                       "extra": {}, "user_id": None, "namespace_id": None,
                                       "project_id": None, "plan": None}, f"contexts[0] {uri}")
    assert {v.entity for v in violations} == {f"contexts[0] {uri}"}
    assert ("/realm", "type") in {(v.path, v.keyword) for v in violations}
    assert all(v.message for v in violations)


def test_formats_are_checked(tmp_path: Path) -> None:
    uri = "iglu:com.acme/formats/jsonschema/1-0-0"
    folder = tmp_path / "com.acme/formats/jsonschema"
    folder.mkdir(parents=True)
    formats = ("date-time", "uuid", "email", "ipv4", "ipv6", "uri")
    (folder / "1-0-0").write_text(json.dumps({"type": "object", "properties": {
        name: {"type": "string", "format": name} for name in formats}}))
    validator = Validator(Registry([tmp_path], offline=True))
    good = {"date-time": "2026-11-22T09:15:02.120Z", "uuid": "b1a5c0de-0000-4000-8000-000000000001",
            "email": "qa@example.com", "ipv4": "127.0.0.1", "ipv6": "::1", "uri": "https://gdk.test/"}
    assert validator.check(uri, good, "formats") == ()
    bad = dict.fromkeys(formats, "nope")
    violations = validator.check(uri, bad, "formats")
    assert sorted(v.path for v in violations) == sorted(f"/{name}" for name in formats)
    assert {v.keyword for v in violations} == {"format"}


def test_results_are_memoized_until_the_schemas_change(tmp_path: Path) -> None:
    uri = "iglu:com.acme/thing/jsonschema/1-0-0"
    folder = tmp_path / "com.acme/thing/jsonschema"
    folder.mkdir(parents=True)
    (folder / "1-0-0").write_text(json.dumps({"type": "object", "required": ["a"]}))
    registry = Registry([tmp_path], offline=True)
    validator = Validator(registry)
    assert validator.check(uri, {}, "thing")[0].keyword == "required"
    (folder / "1-0-0").write_text(json.dumps({"type": "object"}))
    assert validator.check(uri, {}, "thing") != (), "memoized until re-validation is asked for"
    registry.reload()
    assert validator.check(uri, {}, "thing") == ()


def test_fast_path_agrees_with_jsonschema_on_every_corpus_schema_and_example() -> None:
    """Where a fast path (jsonschema-rs, else fastjsonschema) decides validity, it must decide as
    jsonschema does."""
    iglu = corpus_path("iglu")
    samples = [json.loads(p.read_text()) for p in corpus_path("events").rglob("*decoded*.json")]
    entities = [item for sample in samples for item in (
        sample["data"] if isinstance(sample.get("data"), list) else [sample.get("data")])
        if isinstance(item, dict) and "schema" in item]
    values = [entity["data"] for entity in entities] + [{}, [], "x", 1, None, {"a": [1, {"b": "c"}]}]
    checked = 0
    for path in iglu.rglob("*"):
        if not path.is_file():
            continue
        schema = json.loads(path.read_text())
        compiled = CompiledSchema(schema)
        if compiled.compiled is None and compiled.fast is None:
            continue
        full = Draft4Validator(schema)
        for value in values:
            assert (compiled.errors(value) == ([], [])) == full.is_valid(value), (path, value)
            checked += 1
    assert checked > 100


def test_multiple_of_is_decimal_for_iglu_and_floating_point_for_wikimedia() -> None:
    # Snowplow's pipeline divides exactly (0.07 is a multiple of 0.01: a price in cents); EventGate's
    # AJV divides in floating point (0.07 / 0.01 = 7.000000000000001, not a multiple).
    schema = {"type": "number", "multipleOf": 0.01}
    iglu = CompiledSchema(schema, exact_multiples=True)
    wikimedia = CompiledSchema(schema, exact_multiples=False)
    assert iglu.errors(0.07) == ([], [])
    assert [error.validator for error in wikimedia.errors(0.07)[0]] == ["multipleOf"]
    assert [error.validator for error in iglu.errors(0.075)[0]] == ["multipleOf"]
