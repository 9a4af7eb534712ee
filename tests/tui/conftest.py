"""Fixtures for the TUI tests: local time in UTC, a GitLab schema folder, a running app with its collector."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.tui.app import SnowcatcherApp

os.environ["TZ"] = "UTC"
time.tzset()

GITLAB_STANDARD = {
    "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
    "self": {"vendor": "com.gitlab", "name": "gitlab_standard", "format": "jsonschema",
             "version": "1-1-1"},
    "type": "object", "additionalProperties": True, "required": ["environment"],
    "properties": {
        "environment": {"type": "string", "maxLength": 32},
        "realm": {"type": ["string", "null"], "enum": ["self-managed", "saas", "dedicated", None]},
        "user_id": {"type": ["string", "integer", "null"]},
        "namespace_id": {"type": ["integer", "null"], "minimum": 0},
        "project_id": {"type": ["integer", "null"], "minimum": 0},
        "plan": {"type": ["string", "null"], "maxLength": 32},
        "extra": {"type": ["object", "null"]},
    },
}


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    """An Iglu-layout folder holding gitlab_standard 1-1-1 and gitlab_service_ping 1-0-1."""
    folder = tmp_path / "schemas" / "com.gitlab"
    (folder / "gitlab_standard" / "jsonschema").mkdir(parents=True)
    (folder / "gitlab_standard" / "jsonschema" / "1-1-1").write_bytes(orjson.dumps(GITLAB_STANDARD))
    ping = {"$schema": GITLAB_STANDARD["$schema"], "type": "object",
            "self": {**GITLAB_STANDARD["self"], "name": "gitlab_service_ping", "version": "1-0-1"},
            "properties": {"data_source": {"type": "string"}, "event_name": {"type": "string"}}}
    (folder / "gitlab_service_ping" / "jsonschema").mkdir(parents=True)
    (folder / "gitlab_service_ping" / "jsonschema" / "1-0-1").write_bytes(orjson.dumps(ping))
    return tmp_path / "schemas"


@pytest.fixture
async def live(schemas: Path, tmp_path: Path) -> AsyncIterator[SnowcatcherApp]:
    """The real app with its collector on 127.0.0.1 and a free port (not yet running)."""
    settings = Settings(port=0, schemas=[schemas], offline=True, cache_dir=None)
    server = Snowcatcher(settings)
    yield SnowcatcherApp(server.store, server=server, export_dir=tmp_path)
