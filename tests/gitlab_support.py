"""A small fake GitLab checkout built at test time from ../shared/corpus/gitlab, and GitLab-shaped events."""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.conftest import corpus_path

STANDARD = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"
SERVICE_PING = "iglu:com.gitlab/gitlab_service_ping/jsonschema/1-0-1"
#: The corpus's active g_project_management_issue_closed predates its removal; leave it out where
#: a test needs the removed one.
ACTIVE_ISSUE_CLOSED = "g_project_management_issue_closed.yml"


def fake_checkout(root: Path, *, leave_out: Iterable[str] = ()) -> Path:
    """config/events, config/events/removed, config/metrics/counts_*, their schemas and the legacy HLL
    list, copied from the corpus into `root` (never into the repository)."""
    corpus = corpus_path("gitlab")
    skipped = set(leave_out)
    events = root / "config/events"
    (events / "removed").mkdir(parents=True)
    for source in sorted((corpus / "events").glob("*.yml")):
        if source.name not in skipped:
            shutil.copy(source, events / source.name)
    for source in sorted((corpus / "events/removed").glob("*.yml")):
        shutil.copy(source, events / "removed" / source.name)
    for folder in ("counts_7d", "counts_28d", "counts_all"):
        shutil.copytree(corpus / "metrics" / folder, root / "config/metrics" / folder)
    shutil.copy(corpus / "schema/events/schema.json", events / "schema.json")
    shutil.copytree(corpus / "schema/events/schema", events / "schema")
    shutil.copytree(corpus / "schema/metrics/schema", root / "config/metrics/schema")
    counters = root / "lib/gitlab/usage_data_counters"
    counters.mkdir(parents=True)
    shutil.copy(corpus / "usage_data_counters/hll_redis_legacy_events.yml", counters)
    return root


def add_fixtures(root: Path) -> None:
    """GitLab's CLI spec fixtures: one `internal_events_cli_used` event and the filtered/sum metrics."""
    corpus = corpus_path("gitlab")
    shutil.copy(corpus / "events/spec_fixtures/event_with_all_additional_properties.yml",
                root / "config/events/internal_events_cli_used.yml")
    shutil.copytree(corpus / "metrics/spec_fixtures", root / "config/metrics/counts_fixtures")


def standard(**overrides: Any) -> dict[str, Any]:
    """gitlab_standard as Rails sends it in a GDK (the payload doc's backend sample)."""
    data: dict[str, Any] = {
        "environment": "development", "source": "gitlab-rails",
        "correlation_id": "01JPKMCRCBSMB07DPGVSJJ708F", "plan": None, "extra": {}, "user_id": 1,
        "global_user_id": "KaAjqePKpCsnc6P40up8ZOi4+BUwEUIyab6W5jWIg5M=",
        "is_gitlab_team_member": None, "namespace_id": 22, "project_id": 7,
        "feature_enabled_by_namespace_ids": None, "realm": "self-managed",
        "instance_id": "e1baa3de-7e45-4fbc-b17e-95995935cf09", "host_name": "gdk.test",
        "instance_version": "17.10.0", "context_generated_at": "2025-03-18 03:22:43 UTC"}
    data.update(overrides)
    return data


def internal_event(action: str, *, label: str | None = None, prop: str | None = None,
                   value: float | None = None, category: str = "InternalEventTracking",
                   ping_name: str | None = None, **standard_fields: Any) -> dict[str, str]:
    """One tp2 event as GitLab's InternalEvents.track_event sends it through the Ruby tracker."""
    contexts = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "data": [
        {"schema": STANDARD, "data": standard(**standard_fields)},
        {"schema": SERVICE_PING, "data": {"data_source": "redis_hll", "event_name": ping_name or action}}]}
    event = {"e": "se", "eid": str(uuid.uuid4()), "aid": "gitlab", "tna": "gl", "tv": "rb-0.8.0",
             "p": "srv", "dtm": "1742268163016", "stm": "1742268163018", "se_ca": category,
             "se_ac": action, "cx": base64.b64encode(json.dumps(contexts).encode()).decode()}
    for key, item in (("se_la", label), ("se_pr", prop), ("se_va", value)):
        if item is not None:
            event[key] = str(item)
    return event


def tp2_body(*events: dict[str, str]) -> bytes:
    return json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                       "data": list(events)}).encode()


def declare_key_kind(checkout: Path) -> None:
    """Declare a `key_kind` property in create_ssh_key.yml, as a developer fixing a finding would;
    the modification time moves on by 5 s so that even a coarse file system sees the change."""
    path = checkout / "config/events/create_ssh_key.yml"
    declared = "  key_kind:\n    description: k\n  usage_type:"
    path.write_text(path.read_text().replace("  usage_type:", declared))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
