"""Which metrics an event feeds, and what the events of this capture contribute to each of them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from snowcatcher.gitlab import event as fields
from snowcatcher.gitlab.definitions import Definitions, MetricDefinition, SelectionRule
from snowcatcher.model import CapturedEvent


def metrics_needing(definitions: Definitions, name: str, identifier: str) -> list[str]:
    """Key paths of the metrics that count `name` by unique `identifier` (user -> user.id)."""
    wanted = f"{identifier}.id"
    return [metric.key_path for metric in definitions.metrics_for(name)
            if any(rule.event == name and rule.unique == wanted for rule in metric.rules)]


def rule_counts(rule: SelectionRule, event: CapturedEvent) -> tuple[bool, Any, str]:
    """Whether GitLab would count this event under the rule, what it adds (an identifier value, a
    number to sum, or 1), and why not when it would not."""
    sent = fields.sent_properties(event)
    for key, expected in rule.filter:
        if not _equal(sent.get(key), expected):
            return False, None, f"filter {key}={expected} does not match"
    if rule.operator:
        value = sent.get("value")
        if not isinstance(value, int | float):
            return False, None, "no numeric value to sum"
        return True, value, ""
    if rule.unique is None:
        return True, 1, ""
    column = fields.UNIQUE_FIELDS.get(rule.unique)
    value = fields.identifier(event, column) if column else sent.get(rule.unique)
    if value is None:
        return False, None, f"no {rule.unique.split('.')[0]} identifier"
    return True, value, ""


def feeds(metric: MetricDefinition, event: CapturedEvent) -> tuple[bool, str]:
    """Whether the event changes the metric's value, and why not."""
    if metric.legacy:
        return False, "legacy metric (options.events): not computed here"
    reasons = []
    for rule in metric.rules:
        if rule.event == fields.action(event):
            counted, _, reason = rule_counts(rule, event)
            if counted:
                return True, ""
            reasons.append(reason)
    return False, "; ".join(dict.fromkeys(reasons))


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and math.isclose(actual, expected)
    return bool(actual == expected)


@dataclass
class Contribution:
    """What the capture adds to one metric: a count, a sum, or a set of distinct values."""

    metric: MetricDefinition
    count: float = 0
    distinct: set[str] = field(default_factory=set)
    #: Event names of this capture the metric monitors (monitor.rb's "Monitored Events").
    events: set[str] = field(default_factory=set)

    @property
    def value(self) -> float | int | None:
        if self.metric.legacy:
            return None
        rule = self.metric.rules[0] if self.metric.rules else None
        if rule is not None and rule.unique is not None and not rule.operator:
            return len(self.distinct)
        return int(self.count) if float(self.count).is_integer() else self.count

    def add(self, event: CapturedEvent) -> None:
        name = fields.action(event)
        self.events.add(name)
        for rule in self.metric.rules:
            if rule.event != name or self.metric.legacy:
                continue
            counted, amount, _ = rule_counts(rule, event)
            if not counted:
                continue
            if rule.unique is not None and not rule.operator:
                self.distinct.add(str(amount))
            else:
                self.count += amount


class MetricTally:
    """This capture's contribution to every metric touched by one of its events, kept up to date by
    reading the new events from the store; started afresh when the definitions change."""

    def __init__(self) -> None:
        self.contributions: dict[str, Contribution] = {}
        self.last_id = 0
        self.epoch: tuple[int, int] = (-1, -1)

    def catch_up(self, definitions: Definitions, newer: Callable[[int], Sequence[CapturedEvent]],
                 store_generation: int = 0) -> set[str]:
        """Read the events after the last one seen (`newer(last_id)` gives a page); returns the key
        paths whose value changed. New definitions or a cleared store start the count afresh."""
        if (definitions.generation, store_generation) != self.epoch:
            self.contributions.clear()
            self.last_id = 0
            self.epoch = (definitions.generation, store_generation)
        changed: set[str] = set()
        while page := newer(self.last_id):
            for event in page:
                changed |= self.add(definitions, event)
            self.last_id = page[-1].id
        return changed

    def add(self, definitions: Definitions, event: CapturedEvent) -> set[str]:
        if not fields.is_gitlab_struct(event):
            return set()
        changed = set()
        for metric in definitions.metrics_for(fields.action(event)):
            contribution = self.contributions.get(metric.key_path)
            if contribution is None:
                contribution = self.contributions[metric.key_path] = Contribution(metric)
                changed.add(metric.key_path)
            before = contribution.value
            contribution.add(event)
            if contribution.value != before:
                changed.add(metric.key_path)
        return changed

    def rows(self) -> list[Contribution]:
        return sorted(self.contributions.values(), key=lambda c: c.metric.key_path)
