"""GitLab's event and metric definitions, loaded from a checkout the way GitLab loads them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snowcatcher.gitlab.files import DefinitionProblem, SchemaCheck, YamlFileError, read_yaml

#: Keyword arguments GitLab treats as identifiers, not additional properties (EventDefinition::IDENTIFIERS).
IDENTIFIER_KEYS = ("user", "namespace", "project")
BASE_PROPERTIES = ("label", "property", "value")
#: A metric is "available" (listed and counted) with these statuses.
AVAILABLE = ("active", "broken")
#: time_frame -> key path suffix when a metric file lists several time frames.
SUFFIXES = {"7d": "_weekly", "28d": "_monthly", "all": ""}
#: How often, at most, the files are checked for changes.
POLL_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """One `config/events/*.yml` file."""

    action: str
    path: Path
    description: str = ""
    #: `internal_events: true`; False for legacy Snowplow-only definitions (category + action).
    internal: bool = False
    status: str = "active"
    category: str = ""
    product_group: str = ""
    tiers: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    #: Declared additional properties (label, property, value, custom keys) -> description.
    properties: dict[str, str] = field(default_factory=dict)
    #: Properties only the extra trackers receive (`extra_trackers[].protected_properties`).
    protected: frozenset[str] = frozenset()
    milestone: str = ""
    milestone_removed: str = ""
    removed_by_url: str = ""

    @property
    def declared(self) -> frozenset[str]:
        """Every property name GitLab accepts for this event."""
        return frozenset(self.properties) | self.protected


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """One entry of a metric's `events:`: which event, counted how, under which filter."""

    event: str
    #: `user.id`, `project.id`, `namespace.id`, `label`, `property`, `value`; None counts every event.
    unique: str | None = None
    filter: tuple[tuple[str, Any], ...] = ()
    #: `sum(value)` or None.
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """One time frame of a `config/metrics/*/*.yml` file (GitLab splits time_frame arrays)."""

    key_path: str
    time_frame: str
    path: Path
    data_source: str = ""
    status: str = "active"
    description: str = ""
    rules: tuple[SelectionRule, ...] = ()
    #: Named by the legacy `options.events` list (e.g. RedisHLLMetric) rather than `events:`.
    legacy: bool = False
    instrumentation_class: str = ""

    @property
    def available(self) -> bool:
        return self.status in AVAILABLE

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.event for rule in self.rules))

    def counts(self) -> str:
        """What the metric counts, in words: `all events`, `unique users`, `sum of value`, ..."""
        rule = self.rules[0] if self.rules else SelectionRule("")
        if rule.operator:
            return f"{rule.operator.replace('(', ' of ').rstrip(')')}"
        if self.legacy:
            return "unique users" if self.data_source == "redis_hll" else "all events"
        if rule.unique is None:
            return "all events"
        noun = rule.unique.split(".")[0]
        return f"unique {noun}s" if rule.unique.endswith(".id") else f"distinct {noun} values"


@dataclass
class Definitions:
    """Every definition of a checkout, looked up the way GitLab does (by `action`, not file name)."""

    root: Path
    events: dict[str, EventDefinition] = field(default_factory=dict)
    #: Definitions moved to `config/events/removed/`: GitLab no longer loads them.
    removed: dict[str, EventDefinition] = field(default_factory=dict)
    metrics: list[MetricDefinition] = field(default_factory=list)
    #: Legacy Redis-HLL event names GitLab still accepts outside development.
    legacy_hll: frozenset[str] = frozenset()
    problems: list[DefinitionProblem] = field(default_factory=list)
    #: Bumped on every reload, so that callers can drop what they derived.
    generation: int = 0
    #: event name -> available metrics naming it; checked for every captured event, so indexed once.
    _by_event: dict[str, list[MetricDefinition]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for metric in self.metrics:
            if metric.available:
                for name in metric.events:
                    self._by_event.setdefault(name, []).append(metric)

    def find(self, name: str) -> EventDefinition | None:
        return self.events.get(name)

    def internal_event_exists(self, name: str) -> bool:
        definition = self.events.get(name)
        return definition is not None and definition.internal

    def metrics_for(self, name: str) -> list[MetricDefinition]:
        """monitor.rb's choice: available metrics naming the event, whatever their filter or unique."""
        return list(self._by_event.get(name, ()))

    def internal_names(self) -> list[str]:
        return sorted(name for name, definition in self.events.items() if definition.internal)


class NotAGitLabCheckout(ValueError):
    """The path given with --gitlab has no GitLab definitions."""


def check_checkout(root: Path) -> Path:
    """The checkout folder, or NotAGitLabCheckout saying what is missing."""
    if not root.is_dir():
        raise NotAGitLabCheckout(f"{root}: no such folder")
    for needed in ("config/events", "config/metrics"):
        if not (root / needed).is_dir():
            raise NotAGitLabCheckout(
                f"{root} is not a GitLab checkout: it has no {needed}/ folder (give the gitlab folder "
                "of your GDK, e.g. ~/gdk/gitlab)")
    return root


def event_files(root: Path) -> list[Path]:
    """`config/events/*.yml` and `ee/config/events/*.yml`, as GitLab globs them."""
    return _glob(root, "config/events/*.yml")


def removed_files(root: Path) -> list[Path]:
    return _glob(root, "config/events/removed/*.yml")


def metric_files(root: Path) -> list[Path]:
    """GitLab's `config/metrics/[^agg]*/*.yml`: every folder but those starting with a or g."""
    return [path for path in _glob(root, "config/metrics/*/*.yml")
            if not path.parent.name.startswith(("a", "g"))]


def _glob(root: Path, pattern: str) -> list[Path]:
    return sorted([*root.glob(pattern), *(root / "ee").glob(pattern)])


# -- parsing one file ----------------------------------------------------------------------------


def parse_event(path: Path, data: Any) -> EventDefinition | None:
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        return None
    raw_properties = data.get("additional_properties")
    properties = {str(key): _description(value) for key, value in (
        raw_properties.items() if isinstance(raw_properties, dict) else ())
        if key not in IDENTIFIER_KEYS}
    protected: set[str] = set()
    for tracker in data.get("extra_trackers") or ():
        if isinstance(tracker, dict) and isinstance(tracker.get("protected_properties"), dict):
            protected.update(map(str, tracker["protected_properties"]))
    return EventDefinition(
        action=data["action"], path=path, description=_text(data.get("description")),
        internal=data.get("internal_events") is True, status=_text(data.get("status")) or "active",
        category=_text(data.get("category")), product_group=_text(data.get("product_group")),
        tiers=_names(data.get("tiers")), identifiers=_names(data.get("identifiers")),
        properties=properties, protected=frozenset(protected), milestone=_text(data.get("milestone")),
        milestone_removed=_text(data.get("milestone_removed")),
        removed_by_url=_text(data.get("removed_by_url")))


def parse_metric(path: Path, data: Any) -> list[MetricDefinition]:
    """One definition per time frame; key paths get GitLab's _weekly/_monthly suffixes for arrays."""
    if not isinstance(data, dict) or not isinstance(data.get("key_path"), str):
        return []
    rules, legacy = _rules(data)
    frames = data.get("time_frame")
    several = isinstance(frames, list)
    metrics = []
    for item in (frames if isinstance(frames, list) else [frames]):
        frame = _text(item)
        key_path = data["key_path"] + (SUFFIXES.get(frame, f"_{frame}") if several else "")
        metrics.append(MetricDefinition(
            key_path=key_path, time_frame=frame, path=path, data_source=_text(data.get("data_source")),
            status=_text(data.get("status")) or "active", description=_text(data.get("description")),
            rules=rules, legacy=legacy, instrumentation_class=_text(data.get("instrumentation_class"))))
    return metrics


def _rules(data: dict[str, Any]) -> tuple[tuple[SelectionRule, ...], bool]:
    events = data.get("events")
    if isinstance(events, list):
        rules = []
        for item in events:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                unique = item.get("unique")
                found = item.get("filter")
                rules.append(SelectionRule(
                    item["name"], unique if isinstance(unique, str) else None,
                    tuple(sorted(found.items())) if isinstance(found, dict) else (),
                    item.get("operator") if isinstance(item.get("operator"), str) else None))
        return tuple(rules), False
    options = data.get("options")
    names = options.get("events") if isinstance(options, dict) else None
    if isinstance(names, list):
        return tuple(SelectionRule(str(name)) for name in names), True
    return (), False


def _description(value: Any) -> str:
    return _text(value.get("description")) if isinstance(value, dict) else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


# -- loading and reloading -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One file's stat signature and what it yielded."""

    signature: tuple[int, int]
    items: tuple[Any, ...]
    problems: tuple[DefinitionProblem, ...]


class DefinitionSource:
    """A checkout's definitions, re-read when their files change (checked at most once a second,
    and only the changed files are parsed again)."""

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = check_checkout(root)
        self._clock = clock
        self._cache: dict[Path, _Parsed] = {}
        self._checked_at = 0.0
        self._signature: tuple[tuple[Path, tuple[int, int]], ...] = ()
        self.definitions = Definitions(root)
        self._scan()

    def current(self) -> Definitions:
        """The definitions, reloaded first when a file was added, removed or changed."""
        now = self._clock()
        if now - self._checked_at >= POLL_INTERVAL:
            self._scan()
        return self.definitions

    def reload(self) -> Definitions:
        """Look at the files now (the `r` key's re-validation)."""
        self._scan()
        return self.definitions

    def _scan(self) -> None:
        self._checked_at = self._clock()
        groups = (event_files(self.root), removed_files(self.root), metric_files(self.root))
        schema_files = [self.root / "config/events/schema.json",
                        *sorted((self.root / "config/metrics/schema").glob("**/*.json"))]
        signature = tuple((path, _stat(path)) for group in (*groups, schema_files) for path in group)
        if signature == self._signature:
            return
        if not _same_schemas(signature, self._signature, schema_files):
            self._cache.clear()  # a schema changed: every file is checked again
        self._signature = signature
        self.definitions = self._build(*groups)

    def _build(self, events: list[Path], removed: list[Path], metrics: list[Path]) -> Definitions:
        event_schema = _schema(self.root / "config/events/schema.json")
        metric_schema = _schema(self.root / "config/metrics/schema/base.json")
        problems = [*event_schema[1], *metric_schema[1]]
        found: dict[str, EventDefinition] = {}
        gone: dict[str, EventDefinition] = {}
        for paths, into in ((events, found), (removed, gone)):
            for parsed in self._parse_all(paths, lambda p, d: _one(parse_event(p, d)), event_schema[0]):
                problems += parsed.problems
                for definition in parsed.items:
                    into.setdefault(definition.action, definition)  # GitLab's find: the first wins
        metric_list: list[MetricDefinition] = []
        for parsed in self._parse_all(metrics, parse_metric, metric_schema[0]):
            problems += parsed.problems
            metric_list += parsed.items
        return Definitions(self.root, found, gone, metric_list, _legacy_names(self.root), problems,
                           self.definitions.generation + 1)

    def _parse_all(self, paths: Iterable[Path], parse: Callable[[Path, Any], Iterable[Any]],
                   schema: SchemaCheck | None) -> Iterable[_Parsed]:
        for path in paths:
            signature = _stat(path)
            cached = self._cache.get(path)
            if cached is None or cached.signature != signature:
                cached = self._cache[path] = _parse_file(path, signature, parse, schema)
            yield cached


def _parse_file(path: Path, signature: tuple[int, int], parse: Callable[[Path, Any], Iterable[Any]],
                schema: SchemaCheck | None) -> _Parsed:
    try:
        data, text = read_yaml(path)
    except YamlFileError as error:
        return _Parsed(signature, (), (DefinitionProblem(path, error.line, str(error)),))
    items = tuple(parse(path, data))
    problems = tuple(schema.problems(path, data, text)) if schema is not None else ()
    if not items:
        problems += (DefinitionProblem(path, 1, "not a definition: no action (events) or key_path "
                                                "(metrics) at the top level"),)
    return _Parsed(signature, items, problems)


def _one(definition: EventDefinition | None) -> tuple[EventDefinition, ...]:
    return (definition,) if definition is not None else ()


def _schema(path: Path) -> tuple[SchemaCheck | None, list[DefinitionProblem]]:
    if not path.is_file():
        return None, []  # an old checkout without schemas: the definitions still count
    try:
        return SchemaCheck(path), []
    except (OSError, ValueError) as error:
        return None, [DefinitionProblem(path, 0, f"cannot use this schema: {error}")]


def _legacy_names(root: Path) -> frozenset[str]:
    try:
        data, _ = read_yaml(root / "lib/gitlab/usage_data_counters/hll_redis_legacy_events.yml")
    except YamlFileError:
        return frozenset()
    return frozenset(map(str, data)) if isinstance(data, list) else frozenset()


def _stat(path: Path) -> tuple[int, int]:
    try:
        result = os.stat(path)
    except OSError:
        return (0, -1)
    return (result.st_mtime_ns, result.st_size)


def _same_schemas(new: tuple[tuple[Path, tuple[int, int]], ...],
                  old: tuple[tuple[Path, tuple[int, int]], ...], schema_files: list[Path]) -> bool:
    wanted = set(schema_files)
    return {p: s for p, s in new if p in wanted} == {p: s for p, s in old if p in wanted}
