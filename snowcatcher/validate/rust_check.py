"""The hot path's yes/no: a schema compiled by jsonschema-rs, with snowcatcher's formats and sources.

Chosen by measurement (homepagevisit 1.2.1 and its example, one core, this machine): jsonschema-rs
says "valid" in ~3 µs, fastjsonschema with the same Python format checks in ~11 µs, the bounded
jsonschema explainer in ~100 µs. Only its "valid" is a verdict: anything else (invalid, a regex
backtrack limit reached, data it cannot take such as lone surrogates) goes to the explainer,
which decides and writes the violations. So a difference between the engines can only ever
make a false "valid", and the schemas where one is known are not compiled here (see
`known_differences`; tests/test_fast_agreement.py checks the rest against the corpus).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import (
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    FormatChecker,
)
from jsonschema.protocols import Validator as JsonSchemaValidator

from snowcatcher.model import JsonDict, pointer_parts

#: Backtracking steps a pattern RE2-like matching cannot run may take on the hot path; past it
#: jsonschema-rs reports a failure, which sends the data to the explainer's bounded matcher.
BACKTRACK_LIMIT = 100_000

#: Subschemas a schema may have with its `$ref`s unfolded. jsonschema-rs counts no steps: a schema
#: whose `$ref`s or `allOf`s fan out exponentially (2^26 paths: 0.8 s per check) stays with the
#: explainer, which stops after a bounded number of steps and calls the data "not checked".
UNFOLDED_LIMIT = 50_000

#: jsonschema's draft -> jsonschema-rs's class name and the meta-schema URI it knows.
_CLASSES: dict[type[JsonSchemaValidator], tuple[str, str]] = {
    Draft4Validator: ("Draft4Validator", "http://json-schema.org/draft-04/schema#"),
    Draft6Validator: ("Draft6Validator", "http://json-schema.org/draft-06/schema#"),
    Draft7Validator: ("Draft7Validator", "http://json-schema.org/draft-07/schema#"),
    Draft201909Validator: ("Draft201909Validator", "https://json-schema.org/draft/2019-09/schema"),
    Draft202012Validator: ("Draft202012Validator", "https://json-schema.org/draft/2020-12/schema"),
}


def compile_fast(schema: JsonDict, draft: type[JsonSchemaValidator],
                 retrieve: Callable[[str], JsonDict | None],
                 formats: FormatChecker) -> Callable[[Any], bool] | None:
    """A function that returns True only when `data` is valid, or None when this schema stays
    with the explainer alone (an unsupported draft, a known difference, a `$ref` our sources
    cannot give, anything jsonschema-rs refuses to compile)."""
    known = _CLASSES.get(draft)
    if known is None or known_differences(schema) or unfolded_size(schema, retrieve) > UNFOLDED_LIMIT:
        return None
    # Imported on the first schema compiled, not at start-up (~40 ms on a busy core).
    import jsonschema_rs

    class_name, meta_schema = known
    cls = getattr(jsonschema_rs, class_name)

    def retriever(uri: str) -> JsonDict:
        # Only snowcatcher's own schema sources: with a retriever, jsonschema-rs asks nothing else.
        document = retrieve(uri)
        if document is None:
            raise LookupError(uri)
        return document

    # Every format the schema names gets jsonschema's answer through the same checker the
    # explainer uses (AJV's rules for Wikimedia, RFC 3339 for Iglu); a format that checker does
    # not know is not checked, as jsonschema does not check it.
    checks = {name: _conforms(formats, name) if name in formats.checkers else _anything
              for name in _format_names(schema)}
    try:
        validator = cls({**schema, "$schema": meta_schema}, formats=checks, validate_formats=True,
                        retriever=retriever,
                        pattern_options=jsonschema_rs.FancyRegexOptions(backtrack_limit=BACKTRACK_LIMIT))
    except Exception:  # a schema jsonschema-rs cannot compile is validated by the explainer alone
        return None
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


def _conforms(formats: FormatChecker, name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return formats.conforms(value, name)
    return check


def _anything(value: Any) -> bool:
    return True


def _format_names(schema: Any) -> set[str]:
    return {value for key, value in walk(schema) if key == "format" and isinstance(value, str)}


def known_differences(schema: Any) -> bool:
    """Whether the schema uses a keyword the engines are known to decide differently:
    `multipleOf` with a fraction. The explainer divides as production does: exactly for Iglu (0.07
    is a multiple of 0.01, as in Snowplow's pipeline), in floating point for Wikimedia (it is not,
    as in AJV); jsonschema-rs and fastjsonschema have one rule for both, so the explainer decides."""
    return any(key == "multipleOf" and isinstance(value, float) and not value.is_integer()
               for key, value in walk(schema))


def unfolded_size(schema: Any, retrieve: Callable[[str], JsonDict | None]) -> int:
    """How many JSON values the schema has with every `$ref` replaced by its target, counted up to
    just past UNFOLDED_LIMIT; a `$ref` back into itself counts once (the data's depth bounds it)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    documents: dict[str, Any] = {}

    def target(ref: str, root: Any) -> tuple[Any, Any]:
        address, _, pointer = ref.partition("#")
        if address:
            if address not in documents:
                documents[address] = retrieve(address)
            root = documents[address]
        node = root
        for part in pointer_parts(pointer):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = node.get(part) if isinstance(node, dict) else None
        return node, root

    def size(node: Any, root: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            return 1
        open_nodes.add(key)
        children: list[tuple[Any, Any]] = [(child, root) for child in
                                           (node.values() if isinstance(node, dict) else node)]
        ref = node.get("$ref") if isinstance(node, dict) else None
        if isinstance(ref, str):
            children.append(target(ref, root))
        total = 1
        for child, child_root in children:
            total += size(child, child_root)
            if total > UNFOLDED_LIMIT:
                break
        open_nodes.discard(key)
        sizes[key] = total
        return total

    try:
        return size(schema, schema)
    except (RecursionError, ValueError, IndexError):
        return UNFOLDED_LIMIT + 1


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document, depth first, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                yield key, value
                stack.append(value)
        elif isinstance(current, list):
            stack.extend(current)
