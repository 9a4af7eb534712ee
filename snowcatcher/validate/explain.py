"""jsonschema errors written as sentences whose values are JSON (`"moon" is not one of "saas", null`)."""

from __future__ import annotations

import ast
import re
from typing import Any

from jsonschema.exceptions import ValidationError

from snowcatcher import text

#: A value longer than this is cut in a message: the Entities tree shows it whole.
VALUE_LIMIT = 80


def as_json(value: Any, limit: int = VALUE_LIMIT) -> str:
    """`value` as JSON text (`"moon"`, `null`, `true`, `[1, 2]`), cut to `limit` characters."""
    return text.as_json(value, limit)


def _listing(values: Any) -> str:
    return ", ".join(as_json(value) for value in values) if isinstance(values, list) else as_json(values)


def _types(expected: Any) -> str:
    return " or ".join(expected) if isinstance(expected, list) else str(expected)


def _missing(error: ValidationError) -> str:
    """The one required name this error is about (jsonschema reports each missing name apart)."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    required = error.validator_value if isinstance(error.validator_value, list) else []
    absent = [name for name in required if name not in instance]
    for name in absent:
        if error.message.startswith(repr(name)):
            return str(name)
    return str(absent[0]) if absent else ""


#: jsonschema's two ways of naming undeclared properties, without and with patternProperties.
_UNEXPECTED = (re.compile(r"\((.*) (?:was|were) unexpected\)$", re.DOTALL),
               re.compile(r"^(.*) (?:does|do) not match any of the regexes: ", re.DOTALL))


def _undeclared(error: ValidationError) -> list[str] | None:
    """The undeclared names jsonschema found, read from its message (never by matching the
    schema's patternProperties again: a hostile pattern would hang here, outside the bounds)."""
    found = _UNEXPECTED[0].search(error.message) or _UNEXPECTED[1].search(error.message)
    if found is None:
        return None
    try:
        names = ast.literal_eval(f"[{found.group(1)}]")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return [str(name) for name in names] if isinstance(names, list) else None


def sentence(error: ValidationError) -> str:
    """What is wrong, in one sentence with the value and what was expected written as JSON."""
    keyword, expected, value = str(error.validator), error.validator_value, as_json(error.instance)
    if keyword == "enum":
        return f"{value} is not one of {_listing(expected)}"
    if keyword == "const":
        return f"{value} is not {as_json(expected)}"
    if keyword == "type":
        return f"{value} is not of type {_types(expected)}"
    if keyword == "required":
        return f"required property {as_json(_missing(error))} is missing"
    names = _undeclared(error) if keyword == "additionalProperties" else None
    if names:
        noun = "property" if len(names) == 1 else "properties"
        return f"undeclared {noun} {_listing(names)} (the schema allows no others)"
    if keyword in ("maxLength", "minLength"):
        relation = "longer than" if keyword == "maxLength" else "shorter than"
        return f"{value} is {relation} {expected} characters"
    if keyword == "pattern":
        return f"{value} does not match the pattern {as_json(expected)}"
    if keyword == "format":
        return f"{value} is not a valid {as_json(expected)}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {"minimum": "less than the minimum", "maximum": "more than the maximum",
                    "exclusiveMinimum": "not above", "exclusiveMaximum": "not below"}[keyword]
        return f"{value} is {relation} {as_json(expected)}"
    return _json_voiced(error)


def _json_voiced(error: ValidationError) -> str:
    """jsonschema's own message, its leading value rewritten from Python's repr to JSON."""
    message = error.message
    shown = repr(error.instance)
    if message.startswith(shown):
        return as_json(error.instance) + message[len(shown):]
    return message

