"""What EventGate's validator (AJV 6) would say: error objects, errorsText and its schema-security rule."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError

from snowcatcher.bounded import extra_properties
from snowcatcher.model import JsonDict

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_COMPARISONS = {"maximum": "<=", "minimum": ">=", "exclusiveMaximum": "<", "exclusiveMinimum": ">"}


def data_path(parts: Iterable[Any]) -> str:
    """AJV 6's JavaScript-style dataPath: `.event.user_id`, `['odd-name']`, `[0]`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            text += f".{part}"
        else:
            text += "['" + str(part).replace("\\", "\\\\").replace("'", "\\'") + "']"
    return text


def json_pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True, slots=True)
class AjvError:
    """One error as AJV 6 reports it, plus the JSON pointer snowcatcher's violations use."""

    keyword: str
    data_path: str
    schema_path: str
    params: JsonDict
    message: str
    #: Where in the event, as a JSON pointer (`/event/user_id`).
    pointer: str

    def to_json(self) -> JsonDict:
        return {"keyword": self.keyword, "dataPath": self.data_path, "schemaPath": self.schema_path,
                "params": self.params, "message": self.message}

    def explained(self) -> str:
        """The message with what AJV leaves in `params`, for people reading the violation."""
        if self.keyword == "enum":
            allowed = ", ".join(json.dumps(v) for v in self.params.get("allowedValues", []))
            return f"{self.message}: {allowed}"
        if self.keyword == "additionalProperties":
            return f"{self.message} ('{self.params.get('additionalProperty')}')"
        return self.message


def ajv_errors(errors: Iterable[ValidationError]) -> list[AjvError]:
    """AJV-shaped errors for jsonschema's; `required` and `additionalProperties` give one
    error per property, as AJV does."""
    shaped: list[AjvError] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        path = data_path(error.absolute_path)
        schema_path = "#/" + "/".join(str(part) for part in error.absolute_schema_path)
        key = (path, schema_path)
        if error.validator in ("required", "additionalProperties"):
            if key in seen:
                continue  # jsonschema repeats these per property; the list is built once below
            seen.add(key)
        pointer = json_pointer(error.absolute_path)
        for params, message in _params_and_messages(error):
            shaped.append(AjvError(str(error.validator), path, schema_path, params, message, pointer))
    return shaped


def errors_text(errors: Iterable[AjvError]) -> str:
    """EventGate's errorsText: `'<dataPath>' <message>`, joined with `, `."""
    return ", ".join(f"'{error.data_path}' {error.message}" for error in errors)


def _params_and_messages(error: ValidationError) -> list[tuple[JsonDict, str]]:
    keyword, value, instance = str(error.validator), error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict) and isinstance(value, list):
        return [({"missingProperty": name}, f"should have required property '{name}'")
                for name in value if name not in instance]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        return [({"additionalProperty": name}, "should NOT have additional properties")
                for name in _extra_properties(error.schema, instance)]
    return [_one(keyword, value, instance)]


def _one(keyword: str, value: Any, instance: Any) -> tuple[JsonDict, str]:
    if keyword == "type":
        shown = ",".join(value) if isinstance(value, list) else str(value)
        return {"type": shown}, f"should be {shown}"
    if keyword == "enum":
        return {"allowedValues": value}, "should be equal to one of the allowed values"
    if keyword == "const":
        return {"allowedValue": value}, "should be equal to constant"
    if keyword in _COMPARISONS:
        comparison = _COMPARISONS[keyword]
        return ({"comparison": comparison, "limit": value, "exclusive": comparison in "<>"},
                f"should be {comparison} {value}")
    if keyword in ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"):
        more = keyword.startswith("max")
        unit = {"L": "characters", "I": "items", "P": "properties"}[keyword[3]]
        wording = f"longer than {value}" if keyword == "maxLength" else (
            f"shorter than {value}" if keyword == "minLength" else
            f"{'more' if more else 'fewer'} than {value}")
        return {"limit": value}, f"should NOT {'be ' if 'Length' in keyword else 'have '}{wording} {unit}"
    if keyword == "format":
        return {"format": value}, f'should match format "{value}"'
    if keyword == "pattern":
        return {"pattern": value}, f'should match pattern "{value}"'
    if keyword == "multipleOf":
        return {"multipleOf": value}, f"should be multiple of {value}"
    if keyword == "uniqueItems":
        return {}, "should NOT have duplicate items"
    if keyword in ("anyOf", "oneOf"):
        return {}, f"should match {'some' if keyword == 'anyOf' else 'exactly one'} schema in {keyword}"
    if keyword == "not":
        return {}, "should NOT be valid"
    return {}, f"should pass \"{keyword}\" keyword validation"


def _extra_properties(schema: Any, instance: JsonDict) -> list[str]:
    return extra_properties(schema, instance)


def insecure_reasons(schema: Any, path: str = "#") -> list[str]:
    """Where a schema breaks AJV's json-schema-secure rules, which EventGate enforces before it
    compiles a schema: a `pattern` or `format` string needs `maxLength`, `uniqueItems` needs
    `maxItems`. Values under `examples`, `default`, `enum` and `const` are data, not schemas."""
    found: list[str] = []
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found.extend(insecure_reasons(item, f"{path}/{index}"))
        return found
    if not isinstance(schema, dict):
        return found
    for keyword in ("pattern", "format"):
        if isinstance(schema.get(keyword), str) and "maxLength" not in schema:
            found.append(f"{path}: {keyword} {json.dumps(schema[keyword])} without maxLength")
    if schema.get("uniqueItems") is True and "maxItems" not in schema:
        found.append(f"{path}: uniqueItems without maxItems")
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            for name, sub in value.items():
                found.extend(insecure_reasons(sub, f"{path}/{key}/{name}"))
        elif key not in ("examples", "default", "enum", "const") and isinstance(value, dict | list):
            found.extend(insecure_reasons(value, f"{path}/{key}"))
    return found
