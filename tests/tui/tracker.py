"""Sends events to a running collector the way GitLab's Ruby tracker does: a tp2 POST over real HTTP."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import orjson

from tests.tui.samples import CONTEXTS, PAYLOAD_DATA, SERVICE_PING, STANDARD, standard_context


def _b64(value: Any) -> str:
    return base64.b64encode(orjson.dumps(value)).decode()


def gitlab_event(action: str, *, realm: str = "saas", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tracker parameters of a GitLab backend internal event."""
    contexts = [{"schema": STANDARD, "data": {**standard_context(realm), **(extra or {})}},
                {"schema": SERVICE_PING, "data": {"data_source": "redis_hll", "event_name": action}}]
    return {"e": "se", "se_ca": "Projects::MergeRequestsController", "se_ac": action,
            "se_la": "merge_request", "eid": "12c18f54-ef65-489e-99f8-00922f9c3249", "tv": "rb-0.8.0",
            "tna": "gl", "aid": "gitlab", "p": "srv", "dtm": "1742205227525", "stm": "1742205227528",
            "cx": _b64({"schema": CONTEXTS, "data": contexts})}


async def post(url: str, *events: dict[str, Any]) -> int:
    """POST the events in one tp2 request; returns the HTTP status."""
    body = orjson.dumps({"schema": PAYLOAD_DATA, "data": list(events)})
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/com.snowplowanalytics.snowplow/tp2", data=body,
            headers={"Content-Type": "application/json; charset=utf-8"}) as response:
        return response.status
