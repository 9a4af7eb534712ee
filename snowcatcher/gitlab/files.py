"""Reading GitLab's definition YAML and JSON-schema files, with the line a problem is on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # these are imported with the first file read or checked, not at start-up
    import yaml
    from jsonschema.exceptions import ValidationError
    from referencing import Resource



def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class DefinitionProblem:
    """A definition file GitLab would refuse: it does not parse or does not match its schema."""

    path: Path
    #: 1-based; 0 when the problem is about the whole file.
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class YamlFileError(ValueError):
    """A YAML file that cannot be read; carries the line of the problem."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def read_yaml(path: Path) -> tuple[Any, str]:
    """The parsed document and its text; raises YamlFileError with the line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise YamlFileError(f"cannot read: {error}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_loader()), text
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise YamlFileError(f"not valid YAML: {problem}", mark.line + 1 if mark else 0) from None


def line_of(text: str, location: Sequence[str | int]) -> int:
    """The 1-based line of the value at `location` (keys and indexes) in a YAML text; the nearest
    enclosing line when the location is not there (a missing required key: the mapping's line)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=_loader())
    except yaml.YAMLError:
        return 0
    line = 1
    for step in location:
        if node is None:
            break
        node = _child(node, step)
        if node is not None:
            line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(step):
                found: yaml.Node = value if value.start_mark.line == key.start_mark.line or \
                    not isinstance(value, yaml.ScalarNode) else key
                return found
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        child: yaml.Node = node.value[step]
        return child
    return None


class SchemaCheck:
    """One of GitLab's definition schemas (events/schema.json, metrics/schema/base.json) and the files
    its relative `$ref`s name, read from the checkout."""

    def __init__(self, schema_path: Path) -> None:
        from jsonschema import Draft202012Validator
        from referencing import Registry

        self.path = schema_path
        schema = orjson.loads(schema_path.read_bytes())
        base = schema_path.resolve().as_uri()
        registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
        self.validator = Draft202012Validator({**schema, "$id": base}, registry=registry)

    def problems(self, path: Path, data: Any, text: str) -> Iterable[DefinitionProblem]:
        """Every place `data` (read from `path`) breaks the schema, with its line."""
        errors = sorted(self.validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            yield DefinitionProblem(path, line_of(text, list(error.absolute_path)), _describe(error))


def _describe(error: ValidationError) -> str:
    where = "/".join(str(step) for step in error.absolute_path)
    best = error
    if error.context:  # anyOf/oneOf: the branch that came closest says more than "is not valid"
        best = min(error.context, key=lambda e: (len(e.context), -len(e.absolute_path)))
    message = best.schema.get("x-error") if isinstance(best.schema, dict) else None
    text = message or _in_json(best)
    return f"{where or '(top level)'}: {text} (GitLab's {error.validator} rule)"


def _in_json(error: ValidationError) -> str:
    """jsonschema's message for the usual rules, spoken in JSON rather than Python reprs."""
    instance, rule = error.instance, error.validator_value
    if error.validator == "required" and isinstance(instance, dict) and isinstance(rule, list):
        missing = [key for key in rule if key not in instance]
        return f"{_json(missing[0] if len(missing) == 1 else missing)} is required"
    if error.validator == "enum" and isinstance(rule, list):
        return f"{_json(instance)} is not one of the {len(rule)} values allowed here"
    if error.validator == "additionalProperties" and isinstance(instance, dict) \
            and isinstance(error.schema, dict):
        extra = sorted(set(instance) - set(error.schema.get("properties", {})))
        return f"{_json(extra)} not allowed here"
    return error.message


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _retrieve(uri: str) -> Resource[Any]:
    from referencing import Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012

    if not uri.startswith("file://"):
        raise NoSuchResource(uri)
    try:
        contents = orjson.loads(Path(uri.removeprefix("file://")).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        raise NoSuchResource(uri) from None
    if isinstance(contents, dict):
        contents = {**contents, "$id": uri}
    return Resource.from_contents(contents, default_specification=DRAFT202012)
