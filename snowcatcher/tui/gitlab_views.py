"""The GitLab tab's definition and metrics sections, and the metrics view's table, from cleaned Text."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from snowcatcher.gitlab import event as gitlab_event
from snowcatcher.gitlab.definitions import Definitions, EventDefinition
from snowcatcher.gitlab.findings import KEYWORD
from snowcatcher.gitlab.metrics import Contribution, feeds
from snowcatcher.model import CapturedEvent
from snowcatcher.tui.inert_text import clean, text

CONTRIBUTION_NOTE = ("This capture's contributions, computed from the captured events (every one, whatever "
                     "its age): not the GitLab instance's totals, which Redis holds.")


def definition_sections(event: CapturedEvent, definitions: Definitions) -> list[RenderableType]:
    """The event's definition, its findings and the metrics that count it."""
    name = gitlab_event.action(event)
    definition = definitions.find(name) or definitions.removed.get(name)
    parts: list[RenderableType] = [Text(""), Text("Definition", style="bold underline")]
    if definition is None:
        parts.append(Text(f"No definition of {clean(name)} in config/events/.", style="dim"))
    else:
        parts.append(_definition(definition, definitions))
    findings = [v for v in event.violations if v.keyword == KEYWORD]
    for finding in findings:
        parts.append(Text("✗ ", style="bold red") + text(finding.message))
    parts += [Text(""), Text("Metrics counting this event", style="bold underline"),
              _metrics(event, definitions)]
    return parts


def _definition(definition: EventDefinition, definitions: Definitions) -> Table:
    table = _grid()
    try:
        where = str(definition.path.relative_to(definitions.root))
    except ValueError:
        where = str(definition.path)
    kind = "internal event" if definition.internal else "legacy Snowplow event (no internal_events: true)"
    rows = [("file", where), ("kind", kind), ("status", definition.status),
            ("description", definition.description), ("product group", definition.product_group),
            ("tiers", ", ".join(definition.tiers) or "-"),
            ("identifiers", ", ".join(definition.identifiers) or "none")]
    if definition.category:
        rows.append(("category", definition.category))
    for key, value in rows:
        table.add_row(key, text(value))
    if definition.properties:
        table.add_row("additional properties", Text(""))
        for key, description in definition.properties.items():
            table.add_row(text(f"  {key}"), text(description or "(no description)"))
    else:
        table.add_row("additional properties", Text("none", style="dim"))
    return table


def _metrics(event: CapturedEvent, definitions: Definitions) -> RenderableType:
    metrics = definitions.metrics_for(gitlab_event.action(event))
    if not metrics:
        return Text("No active metric names this event (GitLab still keeps its built-in total "
                    "and weekly counters).", style="dim")
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for column in ("key path", "time frame", "data source", "counts", "this event"):
        table.add_column(column, overflow="fold")
    for metric in metrics:
        counted, why = feeds(metric, event)
        verdict = (Text("✓ counted", style="green") if counted
                   else Text(f"not counted: {clean(why)}", style="dim"))
        table.add_row(text(metric.key_path), text(metric.time_frame), text(metric.data_source),
                      text(metric.counts()), verdict)
    return table


def contributions_table(rows: list[Contribution], initial: dict[str, float | int | None],
                        changed: set[str]) -> Table:
    """monitor.rb's RELEVANT METRICS: key path, monitored events, what it counts, the value when the
    view opened and now; rows changed by the last events are highlighted."""
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    for column in ("key path", "monitored events", "time frame", "counts", "when opened", "now"):
        numeric = column in ("when opened", "now")
        table.add_column(column, overflow="fold", justify="right" if numeric else "left")
    for row in rows:
        key = row.metric.key_path
        now, before = row.value, initial.get(key, 0)
        style = "bold yellow" if key in changed else ("bold" if now != before else "")
        table.add_row(text(key), text(", ".join(sorted(row.events))), text(row.metric.time_frame),
                      text(row.metric.counts()), Text(_number(before), style="dim"),
                      Text(_number(now), style=style))
    return table


def _number(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table
