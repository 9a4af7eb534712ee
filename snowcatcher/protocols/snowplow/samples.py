"""Realistic tracker payloads (GitLab internal events, page views) for demos, tests and benchmarks."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from snowcatcher.protocols.snowplow import base64url

PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
GITLAB_STANDARD = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"
WEB_PAGE = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
LINK_CLICK = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"


def gitlab_standard(**overrides: Any) -> dict[str, Any]:
    """The gitlab_standard context a local GDK sends with every internal event."""
    data: dict[str, Any] = {
        "environment": "development",
        "source": "gitlab-rails",
        "correlation_id": "01JQ3ZB4R7M2D5XK9V8N6T1Y0C",
        "plan": "free",
        "extra": {},
        "user_id": 1,
        "global_user_id": "n4Xv0rR2o9yqYc3bW8kz1tQ5mLh7sD6eF0aG2iJ4uKo=",
        "is_gitlab_team_member": False,
        "namespace_id": 24,
        "project_id": 7,
        "feature_enabled_by_namespace_ids": None,
        "realm": "self-managed",
        "instance_id": "3f1c9d2e-8b7a-4e6f-9c5d-1a2b3c4d5e6f",
        "host_name": "gdk.test",
        "instance_version": "18.6.0",
        "context_generated_at": "2026-11-22T09:15:02.120Z",
    }
    data.update(overrides)
    return data


def contexts(*entities: tuple[str, Any]) -> dict[str, Any]:
    return {"schema": CONTEXTS, "data": [{"schema": schema, "data": data} for schema, data in entities]}


def encode(value: Any) -> str:
    """base64url without padding, as the JS tracker encodes `cx` and `ue_px`."""
    return base64url.encode(orjson.dumps(value))


def gitlab_struct_event(action: str = "i_code_review_user_approve_mr", *, realm: str = "self-managed",
                        page_id: str = "c0ffee00-1d6f-4a6a-b4fd-93e8cbd8b57f") -> dict[str, str]:
    """A GitLab internal event from the backend: `se` with gitlab_standard + web_page in `cx`."""
    now = int(time.time() * 1000)
    cx = contexts((GITLAB_STANDARD, gitlab_standard(realm=realm)), (WEB_PAGE, {"id": page_id}))
    return {"e": "se", "se_ca": "InternalEventTracking", "se_ac": action, "eid": str(uuid.uuid4()),
            "tv": "rb-0.8.0", "tna": "gl", "aid": "gitlab", "p": "srv", "dtm": str(now),
            "stm": str(now + 3), "cx": encode(cx)}


def page_view(url: str = "http://gdk.test:3000/dashboard/projects", **extra: str) -> dict[str, str]:
    """A browser page view with the web_page context, sent in plain `co` as JS tracker v4 does."""
    now = int(time.time() * 1000)
    co = contexts((WEB_PAGE, {"id": str(uuid.uuid4())}),
                  (GITLAB_STANDARD, gitlab_standard(source="gitlab-javascript")))
    return {"e": "pv", "url": url, "page": "Projects · GitLab", "eid": str(uuid.uuid4()),
            "tv": "js-4.6.1", "tna": "gl", "aid": "gitlab", "p": "web", "dtm": str(now),
            "stm": str(now + 5), "co": orjson.dumps(co).decode(), **extra}


def link_click(target: str = "http://gdk.test:3000/help") -> dict[str, str]:
    """A self-describing link_click event in `ue_px`."""
    now = int(time.time() * 1000)
    event = {"schema": UNSTRUCT, "data": {"schema": LINK_CLICK, "data": {"targetUrl": target}}}
    return {"e": "ue", "eid": str(uuid.uuid4()), "tv": "js-4.6.1", "aid": "gitlab", "p": "web",
            "dtm": str(now), "ue_px": encode(event)}


def body(*events: dict[str, str]) -> bytes:
    """A tp2 POST body holding `events`."""
    return orjson.dumps({"schema": PAYLOAD_DATA, "data": list(events)})
