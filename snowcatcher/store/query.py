"""The filter language shared by the TUI, the HTTP API and `snowcatcher expect`, compiled to SQL.

    free text            name, schema, app_id, payload or a decoded entity contains it
                         (case-insensitive)
    type:struct          event_type is exactly this
    name:i_code_*        name matches, `*` is a wildcard (case-insensitive)
    schema:gitlab_*      the event's schema or one of its contexts contains it
    app:gitlab           app_id matches
    stream:eventlogging_*  a Wikimedia event whose stream matches
    protocol:snowplow    snowplow, eventgate or eventlogging, or their short names (sp, eg, el)
                         when the caller passes the protocol registry
    invalid / valid      only events with a final verdict: with / without violations
    unchecked            only events whose check could not be finished yet (re-checked later)
    definition           events with a finding against their GitLab definition (--gitlab)
    definition:undeclared  ... whose finding's message or event name contains the text
    -term                negates any term

Terms are combined with AND; quote a value that holds spaces: `name:"my event"`.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from snowcatcher.model import INVALID, UNCHECKED_VERDICT, VALID

if TYPE_CHECKING:
    from snowcatcher.model import CapturedEvent

KEYS = ("type", "name", "schema", "app", "stream", "protocol", "definition")
#: Findings against GitLab definitions: violations with this keyword (snowcatcher.gitlab.findings).
DEFINITION_CLAUSE = "valid = 0 AND violations LIKE '%\"keyword\":\"definition\"%'"

#: A filter's test in Python, for events at hand (the live waiters match each new batch with it).
Match = Callable[["CapturedEvent"], bool]
#: Free text in the decoded entities: the matching sets found first (a scan of every stored set,
#: few next to the events, once per query), then their events. For a handful of events (a batch
#: the live waiters test) each event's own set is looked up instead (Filter.for_few_rows).
_IN_MATCHING_SETS = "entity_set IN (SELECT id FROM entity_sets WHERE entities LIKE ? ESCAPE '\\')"
_OWN_SET_MATCHES = ("EXISTS (SELECT 1 FROM entity_sets WHERE entity_sets.id = events.entity_set"
                    " AND entities LIKE ? ESCAPE '\\')")
#: SQLite's LIKE and COLLATE NOCASE fold ASCII letters only.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


#: The longest filter and the most terms it may have: each term is an SQL clause, and SQLite's
#: parser refuses a statement deep or long enough (which was a 500).
MAX_FILTER_CHARS = 4096
MAX_FILTER_TERMS = 200


class ProtocolNames(Protocol):
    """What the filter language needs of the protocols: which one a `protocol:` value means (the
    short names the lists show: `protocol:eg` is `protocol:eventgate`). The front ends pass the
    protocol registry (snowcatcher.protocols.PROTOCOLS); the store itself knows no protocol."""

    def name_of(self, word: str) -> str: ...


class FilterError(ValueError):
    """A filter expression that cannot be understood; the message says why."""


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter expression; the empty filter matches everything."""

    text: str = ""
    where: str = ""
    params: tuple[str, ...] = ()
    #: The same test as `where`, in Python; None when a term needs the database (free text,
    #: definition findings) or the filter was built by `exact`. Tested against SQL in test_query.
    match: Match | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, protocols: ProtocolNames | None = None) -> Filter:
        """`text` in the filter language; `protocols` reads a `protocol:` value (else taken as the
        protocol's name)."""
        if len(text) > MAX_FILTER_CHARS:
            raise FilterError(f"the filter is {len(text):,} characters long; at most "
                              f"{MAX_FILTER_CHARS:,} are read")
        try:
            terms = shlex.split(text)
        except ValueError as error:
            raise FilterError(f"cannot read filter {json.dumps(text)}: {error}") from None
        if len(terms) > MAX_FILTER_TERMS:
            raise FilterError(f"the filter has {len(terms):,} terms; at most {MAX_FILTER_TERMS} are read")
        clauses: list[str] = []
        params: list[str] = []
        tests: list[Match | None] = []
        for term in terms:
            negate = term.startswith("-") and len(term) > 1
            clause, values, test = _compile_term(term[1:] if negate else term, protocols)
            clauses.append(f"NOT ({clause})" if negate else f"({clause})")
            params.extend(values)
            tests.append(_negated(test) if negate and test else test)
        return cls(text.strip(), " AND ".join(clauses), tuple(params), _all_of(tests))

    @classmethod
    def exact(cls, *, protocol: str | None = None, valid: bool | None = None,
              event_type: str | None = None, schema: str | None = None,
              contexts: Sequence[str] = ()) -> Filter:
        """Exact matches on stored columns (the Micro API's filters); `contexts` must all be present."""
        clauses: list[str] = []
        params: list[str] = []
        for column, value in (("protocol", protocol), ("event_type", event_type), ("schema", schema)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if valid is not None:
            clauses.append(f"valid = {int(valid)}")
        for uri in contexts:
            # The column holds the URIs separated by spaces; pad it so each URI is matched whole.
            clauses.append("(' ' || contexts || ' ') LIKE ? ESCAPE '\\'")
            params.append(f"% {_like(uri, wildcard=False)[1:-1]} %")
        return cls("", " AND ".join(f"({c})" for c in clauses), tuple(params))

    def __and__(self, other: Filter) -> Filter:
        """Both filters at once."""
        if not other:
            return self
        if not self:
            return other
        text = " ".join(part for part in (self.text, other.text) if part)
        return Filter(text, f"({self.where}) AND ({other.where})", self.params + other.params,
                      _all_of([self.match, other.match]))

    def for_few_rows(self) -> Filter:
        """The same filter, its SQL tuned for reading a few id-ranged rows (a batch just stored):
        free text looks up each event's entity set instead of scanning every stored set."""
        return replace(self, where=self.where.replace(_IN_MATCHING_SETS, _OWN_SET_MATCHES))

    def sql(self) -> tuple[str, tuple[str, ...]]:
        """`WHERE ...` (or nothing) and its parameters."""
        return (f" WHERE {self.where}" if self.where else "", self.params)

    def __bool__(self) -> bool:
        return bool(self.where)


def _like(value: str, *, wildcard: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%") if wildcard else f"%{escaped}%"


def _compile_term(term: str, protocols: ProtocolNames | None) -> tuple[str, list[str], Match | None]:
    lowered = term.lower()
    if lowered in ("invalid", "is:invalid"):
        return "valid = 0", [], lambda event: event.verdict == INVALID
    if lowered in ("valid", "is:valid"):
        return "valid = 1", [], lambda event: event.verdict == VALID
    if lowered == "definition":
        return DEFINITION_CLAUSE, [], None
    if lowered in ("unchecked", "is:unchecked"):
        return "valid = -1", [], lambda event: event.verdict == UNCHECKED_VERDICT
    key, sep, value = term.partition(":")
    if not sep or key.lower() not in KEYS:
        if sep and key.isidentifier():
            close = difflib.get_close_matches(key.lower(), KEYS, n=1)
            hint = (f"did you mean {close[0]}:{value}? " if close else "") + (
                f"Keys: {', '.join(f'{known}:' for known in KEYS)}; also valid, invalid, "
                f"unchecked, or plain text such as {json.dumps(value or key)}")
            raise FilterError(f"unknown filter key {json.dumps(key)}: {hint}")
        text = _like(term, wildcard=False)
        # The decoded contexts too: entity sets are few, and the event rows leave out the cx they
        # came from (store_sets.py), so a value inside a base64 cx is found as well.
        return ("name LIKE ? ESCAPE '\\' OR schema LIKE ? ESCAPE '\\' OR app_id LIKE ? ESCAPE '\\'"
                f" OR payload LIKE ? ESCAPE '\\' OR {_IN_MATCHING_SETS}", [text] * 5, None)
    if not value:
        raise FilterError(f"{key}: needs a value, e.g. {key}:something")
    key = key.lower()
    pattern = _like(value, wildcard="*" in value)
    exact = value if "*" not in value else None
    if key == "type":
        if exact:
            return "event_type = ?", [value], lambda event: event.event_type == exact
        return "event_type LIKE ? ESCAPE '\\'", [pattern], _column_like("event_type", pattern)
    if key == "protocol":
        protocol = protocols.name_of(value) if protocols is not None else value.lower()
        return "protocol = ?", [protocol], lambda event: event.protocol == protocol
    if key in ("name", "app"):
        column = "name" if key == "name" else "app_id"
        if exact:
            return (f"{column} = ? COLLATE NOCASE", [value], _column_nocase(column, value))
        return f"{column} LIKE ? ESCAPE '\\'", [pattern], _column_like(column, pattern)
    if key == "definition":
        text = f"%{pattern}%" if "*" in value else pattern
        return (f"{DEFINITION_CLAUSE} AND EXISTS (SELECT 1 FROM json_each(violations) WHERE "
                "json_extract(value, '$.keyword') = 'definition' AND ("
                "json_extract(value, '$.message') LIKE ? ESCAPE '\\' OR "
                "json_extract(value, '$.entity') LIKE ? ESCAPE '\\'))", [text, text], None)
    if key == "stream":
        clause = "name = ? COLLATE NOCASE" if exact else "name LIKE ? ESCAPE '\\'"
        name = _column_nocase("name", value) if exact else _column_like("name", pattern)
        return (f"protocol != 'snowplow' AND {clause}", [value if exact else pattern],
                lambda event: event.protocol != "snowplow" and name(event))
    schema_like = f"%{pattern}%" if "*" in value else pattern
    in_schema = _like_test(schema_like)
    # The store keeps every distinct (schema, contexts) pair in schema_sets: the pattern is tested
    # on those few, and the events of the matching pairs are found in the events_by_schemas index.
    return ("(schema, contexts) IN (SELECT schema, contexts FROM schema_sets"
            " WHERE schema LIKE ? ESCAPE '\\' OR contexts LIKE ? ESCAPE '\\')", [schema_like, schema_like],
            lambda event: in_schema(event.schema) or in_schema(" ".join(event.contexts)))


# -- the same tests in Python ---------------------------------------------------------------------


def _like_test(pattern: str) -> Callable[[str], bool]:
    """SQLite's `LIKE pattern ESCAPE '\\'` as a Python test: `%` any text, `_` one character,
    a backslash quotes the next character, ASCII letters match either case."""
    parts: list[str] = []
    characters = iter(pattern.translate(_ASCII_LOWER))
    for character in characters:
        if character == "\\":
            parts.append(re.escape(next(characters, "")))
        elif character == "%":
            parts.append(".*")
        elif character == "_":
            parts.append(".")
        else:
            parts.append(re.escape(character))
    compiled = re.compile("".join(parts), re.DOTALL)
    return lambda text: compiled.fullmatch(text.translate(_ASCII_LOWER)) is not None


def _column_like(column: str, pattern: str) -> Match:
    test = _like_test(pattern)
    return lambda event: test(getattr(event, column))


def _column_nocase(column: str, value: str) -> Match:
    folded = value.translate(_ASCII_LOWER)
    return lambda event: getattr(event, column).translate(_ASCII_LOWER) == folded


def _negated(test: Match) -> Match:
    return lambda event: not test(event)


def _all_of(tests: Sequence[Match | None]) -> Match | None:
    if any(test is None for test in tests):
        return None
    every = tuple(test for test in tests if test is not None)
    return lambda event: all(test(event) for test in every)
