"""GitLab internal events: the event name and the `gitlab_standard` context fields monitor.rb shows."""

from __future__ import annotations

from typing import Any

from snowcatcher.model import CapturedEvent, schema_name

STANDARD_FIELDS = ("user_id", "namespace_id", "project_id", "plan", "extra")
MORE_FIELDS = ("environment", "source", "realm", "deployment_type", "instance_version",
               "correlation_id", "host_name")


def standard_context(event: CapturedEvent) -> dict[str, Any] | None:
    """The data of the event's `gitlab_standard` context, or None when it has none."""
    for entity in event.entities:
        if entity.role == "context" and schema_name(entity.schema) == "gitlab_standard":
            return entity.data if isinstance(entity.data, dict) else {}
    return None


def is_gitlab(event: CapturedEvent) -> bool:
    """Whether the event looks like a GitLab internal event (it carries `gitlab_standard`)."""
    return standard_context(event) is not None


def internal_name(event: CapturedEvent) -> str:
    """The internal event name: `se_ac`, else `gitlab_service_ping`'s event_name, else the name."""
    action = event.payload.get("se_ac")
    if isinstance(action, str) and action:
        return action
    for entity in event.entities:
        if schema_name(entity.schema) == "gitlab_service_ping" and isinstance(entity.data, dict):
            return str(entity.data.get("event_name", event.name))
    return event.name


def summary(event: CapturedEvent) -> list[tuple[str, Any]]:
    """monitor.rb's columns for one event: name, category, ids, plan, label, property, value, extra."""
    standard = standard_context(event) or {}
    rows: list[tuple[str, Any]] = [("event name", internal_name(event)),
                                   ("category", event.payload.get("se_ca", ""))]
    rows += [(field, standard.get(field)) for field in STANDARD_FIELDS]
    rows += [("label", event.payload.get("se_la")), ("property", event.payload.get("se_pr")),
             ("value", event.payload.get("se_va"))]
    rows += [(field, standard[field]) for field in MORE_FIELDS if field in standard]
    return rows
