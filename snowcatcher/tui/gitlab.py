"""GitLab internal events: the event name and the `gitlab_standard` context fields monitor.rb shows."""

from __future__ import annotations

from typing import Any

from snowcatcher.gitlab.event import service_ping, standard_context
from snowcatcher.model import CapturedEvent

STANDARD_FIELDS = ("user_id", "namespace_id", "project_id", "plan", "extra")
MORE_FIELDS = ("environment", "source", "realm", "deployment_type", "instance_version",
               "correlation_id", "host_name")


def is_gitlab(event: CapturedEvent) -> bool:
    """Whether the event looks like a GitLab internal event (it carries `gitlab_standard`)."""
    return standard_context(event) is not None


def internal_name(event: CapturedEvent) -> str:
    """The internal event name: `se_ac`, else `gitlab_service_ping`'s event_name, else the name."""
    action = event.payload.get("se_ac")
    if isinstance(action, str) and action:
        return action
    ping = service_ping(event)
    return str(ping.get("event_name", event.name)) if ping is not None else event.name


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


def service_ping_rows(event: CapturedEvent) -> list[tuple[str, Any]]:
    """gitlab_service_ping's event_name and data_source, when the event carries it."""
    ping = service_ping(event)
    return [] if ping is None else [(f"service ping {key}", ping.get(key))
                                    for key in ("event_name", "data_source")]
