"""explain: jsonschema errors as sentences whose values are JSON, never Python reprs."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft7Validator

from snowcatcher.model import Violation
from snowcatcher.validate.explain import sentence


def _sentences(schema: dict[str, Any], instance: Any) -> list[str]:
    return sorted(sentence(error) for error in Draft7Validator(schema).iter_errors(instance))


@pytest.mark.parametrize(("schema", "instance", "expected"), [
    ({"enum": ["self-managed", "saas", "dedicated", None]}, "moon",
     '"moon" is not one of "self-managed", "saas", "dedicated", null'),
    ({"type": "integer"}, "two", '"two" is not of type integer'),
    ({"type": ["string", "null"]}, True, "true is not of type string or null"),
    ({"const": False}, None, "null is not false"),
    ({"maxLength": 3}, "abcd", '"abcd" is longer than 3 characters'),
    ({"pattern": "^a$"}, "b", '"b" does not match the pattern "^a$"'),
    ({"minimum": 0}, -1, "-1 is less than the minimum 0"),
])
def test_values_are_written_as_json(schema: dict[str, Any], instance: Any, expected: str) -> None:
    assert _sentences(schema, instance) == [expected]


def test_each_missing_required_name_is_its_own_sentence() -> None:
    found = _sentences({"required": ["name", "size", "kept"]}, {"kept": 1})
    assert found == ['required property "name" is missing', 'required property "size" is missing']
    assert [Violation("", "", "required", message).named_properties() for message in found] == [
        ["name"], ["size"]]


def test_undeclared_properties_are_named() -> None:
    schema = {"properties": {"name": {}}, "patternProperties": {"^x_": {}},
              "additionalProperties": False}
    [found] = _sentences(schema, {"name": 1, "x_ok": 2, "colour": "red", 'say "hi"': 3})
    assert found == 'undeclared properties "colour", "say \\"hi\\"" (the schema allows no others)'
    assert Violation("", "", "additionalProperties", found).named_properties() == ["colour", 'say "hi"']


def test_long_values_are_cut() -> None:
    [found] = _sentences({"type": "integer"}, "x" * 500)
    assert found.startswith('"xxx') and "…" in found and len(found) < 120
