"""Wikimedia schema documents: safe YAML/JSON parsing, `$ref` inlining and `allOf` merging."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

from snowcatcher.model import JsonDict, pointer_parts

#: Loads the document at a repository-relative path (`fragment/common/1.0.0`), or None.
Loader = Callable[[str], JsonDict | None]

# Values under these keys are data, not schemas: a `$ref` inside them is left alone
# (Wikimedia examples hold `$schema: {$ref: '#/$id'}`, which only jsonschema-tools understands).
_DATA_KEYS = frozenset({"examples", "default", "enum", "const"})
_MAX_DEPTH = 64
#: The most values (objects, arrays, scalars) a schema may hold once YAML aliases are expanded or
#: `$ref`s inlined: Wikimedia's biggest materialized schemas hold a few thousand.
MAX_NODES = 200_000


@cache
def _no_timestamp_loader() -> Any:
    """yaml.safe_load's loader without the timestamp rule: `2020-04-02T19:11:20Z` must stay a
    string, as it would be in JSON, or `enum`/`default` values and examples stop matching events.
    PyYAML is imported with the first document parsed, not at start-up."""
    import yaml

    class NoTimestampLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
        pass

    NoTimestampLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return NoTimestampLoader


def or_yaml_error(*others: type[Exception]) -> tuple[type[Exception], ...]:
    """`others` and PyYAML's error class, for `except` clauses; PyYAML's only once it is imported:
    before, no YAML was parsed, so no YAML error can be raised."""
    yaml = sys.modules.get("yaml")
    return (*others, yaml.YAMLError) if yaml is not None else others


class MaterializeError(ValueError):
    """A schema whose `$ref`s cannot be resolved; the message names the reference."""


class SchemaTooLarge(MaterializeError):
    """A schema that would expand beyond MAX_NODES values (YAML aliases, fanned-out `$ref`s)."""


def parse_document(text: bytes) -> Any:
    """YAML (a superset of JSON) parsed safely: no Python objects, no timestamps.

    Raises SchemaTooLarge for a document whose aliases expand beyond MAX_NODES values (a
    "billion laughs" file loads small, since aliases share objects, but everything that walks
    it afterwards, materializing or validating, walks the expansion)."""
    import yaml

    document = yaml.load(text, Loader=_no_timestamp_loader())  # a SafeLoader subclass: safe
    expanded = expanded_size(document, MAX_NODES)
    if expanded > MAX_NODES:
        raise SchemaTooLarge(f"its YAML aliases expand to more than {MAX_NODES:,} values")
    return document


def expanded_size(value: Any, limit: int) -> int:
    """How many values `value` holds with shared (aliased) parts counted each time they appear;
    anything above `limit` (a recursive alias included) is reported as `limit + 1`."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in visiting:
            return limit + 1  # an alias to an enclosing node: infinite
        visiting.add(id(node))
        total = 1
        for child in node.values() if isinstance(node, dict) else node:
            total += size(child)
            if total > limit:
                break
        visiting.discard(id(node))
        sizes[id(node)] = total = min(total, limit + 1)
        return total

    try:
        return size(value)
    except RecursionError:
        return limit + 1


def materialize(schema: JsonDict, load: Loader, check_ref: Callable[[str], str | None]) -> JsonDict:
    """The schema with every `/`-rooted `$ref` inlined and every `allOf` merged into its parent,
    as jsonschema-tools materializes `current.yaml`. `check_ref` refuses unsafe references."""
    copied = copy.deepcopy(schema)
    inlined = _inline(copied, copied, load, check_ref, (), [0])
    merged: JsonDict = _merge_all_of(inlined)
    return merged


def _inline(node: Any, root: JsonDict, load: Loader, check_ref: Callable[[str], str | None],
            seen: tuple[str, ...], made: list[int]) -> Any:
    """`node` with its `$ref`s inlined; `made[0]` counts the values produced, up to MAX_NODES
    (a `$ref` fan-out of 2^24 would otherwise take minutes and gigabytes)."""
    made[0] += 1
    if made[0] > MAX_NODES:
        raise SchemaTooLarge(f"inlining its $refs makes more than {MAX_NODES:,} values")
    if len(seen) > _MAX_DEPTH:
        raise MaterializeError("schema references nest too deeply")
    if isinstance(node, list):
        return [_inline(item, root, load, check_ref, seen, made) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _resolve_ref(ref, root, load, check_ref, seen, made)
    return {key: value if key in _DATA_KEYS else _inline(value, root, load, check_ref, seen, made)
            for key, value in node.items()}


def _resolve_ref(ref: str, root: JsonDict, load: Loader, check_ref: Callable[[str], str | None],
                 seen: tuple[str, ...], made: list[int]) -> Any:
    if ref in seen:
        raise MaterializeError(f"$ref {ref} refers to itself")
    document_path, _, pointer = ref.partition("#")
    if not document_path:
        target = _pointer(root, pointer, ref)
        return _inline(copy.deepcopy(target), root, load, check_ref, (*seen, ref), made)
    refused = check_ref(document_path)
    if refused:
        raise MaterializeError(f"$ref {ref} refused: {refused}")
    document = load(document_path)
    if document is None:
        raise MaterializeError(f"$ref {ref} not found in any schema repository")
    document = copy.deepcopy(document)
    # An inlined document's own `$id`/`$schema` would change the base URI of what surrounds it.
    document.pop("$id", None)
    document.pop("id", None)
    document.pop("$schema", None)
    target = _pointer(document, pointer, ref)
    return _inline(target, document, load, check_ref, (*seen, ref), made)


def _pointer(document: Any, pointer: str, ref: str) -> Any:
    node = document
    for part in (p for p in pointer_parts(pointer) if p):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise MaterializeError(f"$ref {ref}: nothing at #{pointer}")
    return node


def _merge_all_of(node: Any) -> Any:
    """Merge `allOf` members into their parent, deepest first, so that `additionalProperties:
    false` in a fragment sees the properties the other members add."""
    if isinstance(node, list):
        return [_merge_all_of(item) for item in node]
    if not isinstance(node, dict):
        return node
    merged = {key: value if key in _DATA_KEYS else _merge_all_of(value) for key, value in node.items()}
    members = merged.pop("allOf", None)
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        if members is not None:
            merged["allOf"] = members
        return merged
    result: JsonDict = {}
    for member in members:
        result = merge_schemas(result, member)
    return merge_schemas(result, merged)


def merge_schemas(base: JsonDict, extra: JsonDict) -> JsonDict:
    """Two schemas as one: properties merged recursively, `required` lists joined, and for any
    other keyword the value seen last wins (parents come last, so they override fragments)."""
    result = dict(base)
    for key, value in extra.items():
        old = result.get(key)
        if key == "required" and isinstance(old, list) and isinstance(value, list):
            result[key] = old + [name for name in value if name not in old]
        elif key in ("properties", "definitions", "patternProperties") and isinstance(old, dict) \
                and isinstance(value, dict):
            result[key] = {**old, **{name: merge_schemas(old[name], sub)
                                     if isinstance(old.get(name), dict) and isinstance(sub, dict)
                                     else sub for name, sub in value.items()}}
        else:
            result[key] = value
    return result
