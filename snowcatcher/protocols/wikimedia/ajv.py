"""What EventGate's validator (AJV 6) would say: error objects, errorsText and its schema-security rule."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from snowcatcher.model import JsonDict, json_pointer

if TYPE_CHECKING:  # jsonschema comes with the first schema checked, not at start-up
    from jsonschema import FormatChecker
    from jsonschema.exceptions import ValidationError

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


def ajv_errors(errors: Iterable[ValidationError], schema: Any = None) -> list[AjvError]:
    """AJV-shaped errors for jsonschema's, in the order AJV reports them when `schema` is given;
    `required` and `additionalProperties` give one error per property, as AJV does."""
    shaped: list[AjvError] = []
    seen: set[tuple[str, str]] = set()
    if schema is not None:
        errors = sorted(errors, key=lambda error: ajv_order(schema, error))
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


def js_string(value: Any) -> str:
    """A value as JavaScript writes it into a message: strings as they are, anything else as
    JSON (`null`, `true`, `{"a":1}`), never a Python repr."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def schema_invalid_text(schema: Any, meta_schema: JsonDict) -> str:
    """AJV's compile error for a schema its meta-schema refuses: `schema is invalid: data.type
    should be ...` (Ajv.validateSchema joins errorsText with the `data` prefix)."""
    from jsonschema.validators import validator_for

    validator = validator_for(meta_schema)(meta_schema)
    errors = ajv_errors(validator.iter_errors(schema), meta_schema)
    text = ", ".join(f"data{error.data_path} {error.message}" for error in errors)
    return f"schema is invalid: {text or 'it does not match its meta-schema'}"


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
    from snowcatcher.validate.work_limits import extra_properties

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


# -- AJV's order -------------------------------------------------------------------------------------

# AJV 6 (lib/compile/rules.js) checks a value's type, then the keywords of the group for its type,
# then the type-less group; within an object, `additionalProperties` runs before `properties`
# (lib/dotjs/properties.js), and properties in the schema's order.
_KEYWORD_RANK = {keyword: rank for rank, keyword in enumerate((
    "type",
    "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "multipleOf",
    "maxLength", "minLength", "pattern", "format",
    "maxItems", "minItems", "items", "additionalItems", "contains", "uniqueItems",
    "maxProperties", "minProperties", "required", "dependencies", "propertyNames",
    "additionalProperties", "properties", "patternProperties",
    "$ref", "const", "enum", "not", "anyOf", "oneOf", "allOf", "if", "then", "else"))}
_NAMED_CHILDREN = ("properties", "patternProperties", "dependencies", "definitions")
_INDEXED_CHILDREN = ("items", "allOf", "anyOf", "oneOf")


def ajv_order(schema: Any, error: ValidationError) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """A sort key placing jsonschema's error where AJV 6 would report it: by the keywords on its
    schema path (AJV's keyword order, properties in schema order), then by array index."""
    steps: list[tuple[int, int]] = []
    node, parts = schema, list(error.absolute_schema_path)
    index = 0
    while index < len(parts):
        keyword = str(parts[index])
        rank, position = _KEYWORD_RANK.get(keyword, len(_KEYWORD_RANK)), 0
        children = node.get(keyword) if isinstance(node, dict) else None
        if keyword in _NAMED_CHILDREN and isinstance(children, dict) and index + 1 < len(parts):
            name = parts[index + 1]
            position = list(children).index(name) if name in children else 0
            node, index = children.get(name), index + 2
        elif (keyword in _INDEXED_CHILDREN and isinstance(children, list) and index + 1 < len(parts)
              and isinstance(item := parts[index + 1], int)):
            position = item
            node = children[item] if item < len(children) else None
            index += 2
        else:
            node, index = children, index + 1
        steps.append((rank, position))
    return tuple(steps), tuple(part for part in error.absolute_path if isinstance(part, int))


# -- AJV 6's "fast" formats ------------------------------------------------------------------------

# EventGate (package.json: ajv ^6.8.1, resolved to 6.12) creates Ajv without a `format` option, so
# AJV's default "fast" mode applies (lib/compile/formats.js, formats.fast): regular expressions that
# accept a space for the `T`, any day 00-39 of any month 00-19, hours to 29 and offsets written
# +hh, +hhmm or +hh:mm. Production accepts those, so snowcatcher must too. JavaScript's \d is ASCII
# and its \s is the set below; `$` does not match before a final newline (fullmatch here).
_JS_SPACE = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_JS_NOT_SPACE = _JS_SPACE.replace("[", "[^", 1)
_TIME = "(?:[0-2][0-9]:[0-5][0-9]:[0-5][0-9]|23:59:60)(?:\\.[0-9]+)?"
_OFFSET = "(?:[zZ]|[+-][0-9][0-9](?::?[0-9][0-9])?)"
_AJV_FAST_FORMATS: dict[str, re.Pattern[str]] = {
    "date": re.compile("[0-9]{4}-[0-1][0-9]-[0-3][0-9]"),
    "time": re.compile(f"{_TIME}{_OFFSET}?"),
    "date-time": re.compile(f"[0-9]{{4}}-[0-1][0-9]-[0-3][0-9](?:[tT]|{_JS_SPACE}){_TIME}{_OFFSET}"),
    "uri": re.compile(f"[a-zA-Z][a-zA-Z0-9+\\-.]*:(?:/?/)?{_JS_NOT_SPACE}*"),
    "uri-reference": re.compile(
        f"(?:(?:[a-zA-Z][a-zA-Z0-9+\\-.]*:)?/?/)?(?:(?!{_JS_SPACE})[^\\\\#]"
        f"(?:(?!{_JS_SPACE})[^#])*)?(?:#(?:(?!{_JS_SPACE})[^\\\\])*)?"),
    "uuid": re.compile("(?:urn:uuid:)?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"),
    "ipv4": re.compile("(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\\.){3}"
                       "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"),
}


def _fast_check(pattern: re.Pattern[str]) -> Callable[[object], bool]:
    def check(instance: object) -> bool:
        return not isinstance(instance, str) or pattern.fullmatch(instance) is not None
    return check


def ajv_format_checker(base: FormatChecker) -> FormatChecker:
    """`base`'s format checks, with AJV 6's fast rules for the formats AJV defines that way."""
    from jsonschema import FormatChecker

    checker = FormatChecker(())
    checker.checkers = dict(base.checkers)
    for name, pattern in _AJV_FAST_FORMATS.items():
        checker.checks(name)(_fast_check(pattern))
    return checker
