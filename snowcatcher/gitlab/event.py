"""Where a captured Snowplow event keeps what GitLab's `track_event` put in it."""

from __future__ import annotations

from typing import Any

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, schema_name

#: Struct-event parameters and the additional properties they carry (InternalEvents#track_event).
BASE_PARAMETERS = (("se_la", "label"), ("se_pr", "property"), ("se_va", "value"))
#: `identifiers:` entries and the gitlab_standard field that carries each.
IDENTIFIER_FIELDS = {"user": "user_id", "project": "project_id", "namespace": "namespace_id",
                     "feature_enabled_by_namespace_ids": "feature_enabled_by_namespace_ids"}
#: The `unique:` of a metric rule and the gitlab_standard field that carries it.
UNIQUE_FIELDS = {"user.id": "user_id", "project.id": "project_id", "namespace.id": "namespace_id"}
DEFAULT_CATEGORY = "InternalEventTracking"


def context_data(event: CapturedEvent, name: str) -> dict[str, Any] | None:
    """The data of the event's first context called `name`, or None when it has none."""
    for entity in event.entities:
        if entity.role == "context" and schema_name(entity.schema) == name:
            return entity.data if isinstance(entity.data, dict) else {}
    return None


def standard_context(event: CapturedEvent) -> dict[str, Any] | None:
    return context_data(event, "gitlab_standard")


def service_ping(event: CapturedEvent) -> dict[str, Any] | None:
    return context_data(event, "gitlab_service_ping")


def is_gitlab_struct(event: CapturedEvent) -> bool:
    """A Snowplow struct event carrying gitlab_standard or gitlab_service_ping."""
    return (event.protocol == PROTOCOL_SNOWPLOW and event.event_type == "struct"
            and (standard_context(event) is not None or service_ping(event) is not None))


def action(event: CapturedEvent) -> str:
    value = event.payload.get("se_ac")
    return value if isinstance(value, str) else ""


def claims_internal(event: CapturedEvent) -> bool:
    """Whether it went through GitLab's InternalEvents (not the legacy Gitlab::Tracking.event): its
    service-ping context names the action itself, or it has the default internal-event category."""
    ping = service_ping(event)
    if ping is not None and ping.get("event_name") == action(event):
        return True
    return event.payload.get("se_ca") == DEFAULT_CATEGORY


def sent_properties(event: CapturedEvent) -> dict[str, Any]:
    """The additional properties the event carries: label/property/value from the struct fields,
    custom ones from gitlab_standard's `extra`."""
    found: dict[str, Any] = {}
    for parameter, key in BASE_PARAMETERS:
        value = event.payload.get(parameter)
        if value not in (None, ""):
            found[key] = _number(value) if key == "value" else value
    extra = (standard_context(event) or {}).get("extra")
    if isinstance(extra, dict):
        found.update(extra)
    return found


def identifier(event: CapturedEvent, field_name: str) -> Any:
    """A gitlab_standard field, None when absent or null."""
    return (standard_context(event) or {}).get(field_name)


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value
