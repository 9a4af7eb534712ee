"""A captured GitLab internal event checked against its definition, the way GitLab checks `track_event`."""

from __future__ import annotations

import difflib
from typing import Any

import orjson

from snowcatcher.gitlab import event as fields
from snowcatcher.gitlab.definitions import BASE_PROPERTIES, Definitions, DefinitionSource, EventDefinition
from snowcatcher.gitlab.metrics import metrics_needing
from snowcatcher.model import CapturedEvent, Violation, json_pointer

#: The violation keyword of every finding (`definition:` in the filter language).
KEYWORD = "definition"


class DefinitionChecker:
    """Adds definition findings to GitLab internal events; the Ingestor calls `findings`."""

    def __init__(self, source: DefinitionSource) -> None:
        self.source = source

    def findings(self, event: CapturedEvent) -> tuple[Violation, ...]:
        if not fields.is_gitlab_struct(event):
            return ()
        return tuple(check(event, self.source.current()))

    def reload(self) -> None:
        self.source.reload()


def check(event: CapturedEvent, definitions: Definitions) -> list[Violation]:
    """Every finding for one GitLab struct event; empty when it is sent as its definition says."""
    name = fields.action(event)
    definition = definitions.find(name)
    if definition is None or (not definition.internal and fields.claims_internal(event)):
        return _unknown(event, name, definitions, definition)
    if not definition.internal:
        return []  # a legacy Snowplow event (Gitlab::Tracking.event) with its legacy definition
    found = []
    if definition.status != "active":
        found.append(_finding(name, "", f"inactive definition: {_file(definition, definitions)} has "
                                        f"status: {definition.status}"))
    found += _properties(event, definition, definitions)
    found += _identifiers(event, definition, definitions)
    return found


def _unknown(event: CapturedEvent, name: str, definitions: Definitions,
             legacy: EventDefinition | None) -> list[Violation]:
    removed = definitions.removed.get(name)
    if removed is not None:
        when = f" in {removed.milestone_removed}" if removed.milestone_removed else ""
        by = f" by {removed.removed_by_url}" if removed.removed_by_url else ""
        return [_finding(name, "", f"removed event: {name} was removed{when}{by} "
                                   f"({_file(removed, definitions)}); GitLab does not load "
                                   "config/events/removed/, so tracking it raises "
                                   f"UnknownEventError (\"Unknown event: {name}\") in development")]
    if legacy is None and not fields.claims_internal(event):
        return []  # a legacy Gitlab::Tracking.event call: not an internal event
    why = (f"only the legacy Snowplow definition {_file(legacy, definitions)} (no internal_events: "
           "true) defines it" if legacy else "no config/events/*.yml or ee/config/events/*.yml file "
           "has this action")
    message = (f"undefined event: {name}: {why}; GitLab raises Gitlab::Tracking::EventValidator::"
               f"UnknownEventError (\"Unknown event: {name}\") in development and test")
    if name in definitions.legacy_hll:
        message += " (it is a legacy Redis HLL event, accepted only outside development)"
    close = difflib.get_close_matches(name, definitions.internal_names(), n=3, cutoff=0.6)
    if close:
        message += f". Did you mean {', '.join(close)}?"
    return [_finding(name, "", message)]


def _properties(event: CapturedEvent, definition: EventDefinition,
                definitions: Definitions) -> list[Violation]:
    found = []
    name = definition.action
    for key, value in fields.sent_properties(event).items():
        if key in definition.declared:
            if key not in BASE_PROPERTIES and not _custom_type(value) and key not in definition.protected:
                found.append(_finding(name, _pointer(key), f"wrong type: {key} is {_json(value)}; GitLab "
                                      "raises InvalidPropertyTypeError in development (custom "
                                      "properties must be strings or numbers)"))
            continue
        where = f"additional_properties of {_file(definition, definitions)}"
        if key in BASE_PROPERTIES:
            consequence = (f"GitLab logs \"Tracking event: {name}, undocumented property: {key}\" and "
                           "drops it before Redis and Snowplow")
        else:
            consequence = (f"GitLab raises InvalidPropertyError (\"Unknown additional property: {key} "
                           f"for event_name: {name}\") in development")
        found.append(_finding(name, _pointer(key), f"undeclared property: {key} = {_json(value)} is "
                                                   f"sent but not declared in {where}; {consequence}"))
    return found


def _identifiers(event: CapturedEvent, definition: EventDefinition,
                 definitions: Definitions) -> list[Violation]:
    found = []
    standard = fields.standard_context(event)
    for identifier in definition.identifiers:
        field_name = fields.IDENTIFIER_FIELDS.get(identifier)
        if field_name is None or (standard is not None and standard.get(field_name) is not None):
            continue
        state = "there is no gitlab_standard context" if standard is None else (
            f"gitlab_standard {field_name} is {_json(standard.get(field_name))}"
            if field_name in standard else f"gitlab_standard has no {field_name}")
        message = (f"missing identifier: {_file(definition, definitions)} declares identifier "
                   f"{identifier}, but {state}")
        skipped = metrics_needing(definitions, definition.action, identifier)
        if skipped:
            message += (f"; GitLab skips this event for {', '.join(skipped)} and logs \"{definition.action}"
                        f" should be triggered with a named parameter '{identifier}'.\"")
        found.append(_finding(definition.action, f"/{field_name}", message))
    return found


def _custom_type(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _finding(name: str, path: str, message: str) -> Violation:
    return Violation(f"{KEYWORD} {name}", path, KEYWORD, message)


def _pointer(key: str) -> str:
    return f"/{key}" if key in BASE_PROPERTIES else json_pointer(("extra", key))


def _file(definition: EventDefinition, definitions: Definitions) -> str:
    try:
        return str(definition.path.relative_to(definitions.root))
    except ValueError:
        return str(definition.path)


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)
