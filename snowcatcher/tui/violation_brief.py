"""A violation in a few words for the list's narrow column (`realm: not in enum`)."""

from __future__ import annotations

import re

from snowcatcher.model import UNCHECKED, Violation, pointer_parts, schema_name

#: What is wrong, by the keyword that found it (schema keywords first, then the collector's own).
PHRASES = {
    "enum": "not in enum", "const": "not the constant", "pattern": "no pattern match",
    "maxLength": "too long", "minLength": "too short",
    "maximum": "too large", "exclusiveMaximum": "too large",
    "minimum": "too small", "exclusiveMinimum": "too small",
    "multipleOf": "not a multiple", "maxItems": "too many items", "minItems": "too few items",
    "maxProperties": "too many properties", "minProperties": "too few properties",
    "uniqueItems": "repeated items", "anyOf": "fits no anyOf", "oneOf": "fits not one oneOf",
    "not": "matches not", "contains": "no item fits", "propertyNames": "bad property name",
    "dependencies": "needs another property", "dependentRequired": "needs another property",
    "if": "fails if/then", "then": "fails if/then", "else": "fails if/else",
    "required": "missing", "additionalProperties": "not allowed", "unevaluatedProperties": "not allowed",
    "base64": "bad base64", "utf-8": "not UTF-8", "json": "not JSON",
    "self-describing": "not self-describing", "payload_data": "not payload_data",
    "content-type": "wrong content type", "endpoint": "unknown endpoint", "http": "bad HTTP",
    "adapter": "no adapter", "batch": "bad batch", "body": "body ignored", "storage": "partly stored",
    "internal": "could not decode", "depth": "nested too deep", "resolve": "schema not found",
    "schema": "bad schema", UNCHECKED: "not checked", "secure": "insecure schema",
    "stream": "stream refused", "definition": "not as defined",
}
#: The type a `type` violation expected: jsonschema's `is not of type integer`, AJV's `should be integer`.
_EXPECTED_TYPE = re.compile(r"(?:is not of type|^should be) ([\w ,]+)$")
#: The format a `format` violation expected: a quoted format name (`"date-time"`), or the tracker
#: field checks' `must be a UUID` (its first word after the article).
_QUOTED_FORMAT = re.compile(r'(?:valid|format) "([^"]+)"')
_MUST_BE = re.compile(r"must be (?:an? )?(\w+)")
#: AJV names the property in quotes at the end: `should have required property 'name'`,
#: `should NOT have additional properties ('colour')`.
_AJV_PROPERTY = re.compile(r"'((?:[^'\\]|\\.)*)'\)?$")


def brief(violation: Violation) -> str:
    """`subject: what is wrong` in a few words: the field (or the part of the request) and a
    phrase for the kind of violation; a kind without a phrase keeps its message."""
    subject = _subject(violation)
    phrase = _phrase(violation)
    return f"{subject}: {phrase}" if phrase else violation.short()


def _phrase(violation: Violation) -> str:
    keyword, message = violation.keyword, violation.message
    if keyword == "type":
        found = _EXPECTED_TYPE.search(message)
        return _not_a(found.group(1).replace(",", " or ")) if found else "wrong type"
    if keyword == "format":
        found = _QUOTED_FORMAT.search(message) or _MUST_BE.search(message)
        return _not_a(found.group(1)) if found else "wrong format"
    return PHRASES.get(keyword, "")


def _not_a(noun: str) -> str:
    if " or " in noun:
        return f"not {noun}"
    # "an integer", "an email", but "a uuid", "a uri" and "a UUID" (said you-you-id).
    article = "an" if noun[:1].lower() in "aeio" else "a"
    return f"not {article} {noun}"


def _subject(violation: Violation) -> str:
    """The property the violation is about: the one missing or undeclared (named in the message),
    else the last step of its path, else the part of the request or the entity's schema name."""
    if violation.keyword in ("required", "additionalProperties", "unevaluatedProperties"):
        names = violation.named_properties()
        ajv = _AJV_PROPERTY.search(violation.message)
        if names:
            return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")
        if ajv:
            return ajv.group(1)
    steps = pointer_parts(violation.path)
    if steps:
        last = steps[-1]
        return f"{steps[-2]}[{last}]" if last.isdigit() and len(steps) > 1 else last
    entity = violation.entity.split(" ", 1)
    return schema_name(entity[-1]) or entity[0] or "request"
