"""The official Node tracker (@snowplow/node-tracker) sending batched POST bodies to a real snowcatcher."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import Snowcatcher
from tests.js_support import JS, find_node, require_node_modules

SCRIPT = JS / "node" / "send.mjs"
RUN_TIMEOUT = 60.0


async def run_node_tracker(catcher: Snowcatcher, base64: bool) -> dict[str, list[object]]:
    """tests/js/node/send.mjs in a subprocess; returns the report it prints."""
    node = find_node()
    require_node_modules("@snowplow/node-tracker")
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), str(catcher.port), "true" if base64 else "false", cwd=JS,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")
    report: dict[str, list[object]] = json.loads(out)
    return report


@pytest.mark.parametrize("base64", [False, True])
async def test_node_tracker_batches_are_decoded_event_by_event(catcher: Snowcatcher, base64: bool) -> None:
    report = await run_node_tracker(catcher, base64)
    assert report == {"batches": [3, 3], "failures": []}

    events: list[CapturedEvent] = catcher.store.window()
    assert [e.event_type for e in events] == ["struct", "unstruct"] * 3
    assert all(e.valid for e in events), [e.violations for e in events]
    assert [e.payload["se_la"] for e in events if e.event_type == "struct"] == [
        "pipeline-1", "pipeline-2", "pipeline-3"]
    assert [e.entities[0].data["emailAddress"] for e in events if e.event_type == "unstruct"] == [
        "user1@example.com", "user2@example.com", "user3@example.com"]
    assert all(e.contexts == ["iglu:com.gitlab/gitlab_standard/jsonschema/1-1-8"] for e in events)
    assert all(e.app_id == "snowcatcher-node" and e.payload["p"] == "srv" for e in events)
    assert all(e.payload["tv"].startswith("node-") for e in events)
    assert {en.source for e in events for en in e.entities} == (
        {"ue_px", "cx"} if base64 else {"ue_pr", "co"})

    # Two POST bodies of three events each, every event numbered within its body.
    per_request = Counter(e.request_id for e in events)
    assert sorted(per_request.values()) == [3, 3]
    assert [e.index for e in events] == [0, 1, 2, 0, 1, 2]
    for request_id in per_request:
        request = catcher.store.request(request_id)
        assert request is not None and request.request.method == "POST"
        assert request.request.path == "/com.snowplowanalytics.snowplow/tp2"
        body = json.loads(request.request.body)
        assert body["schema"].endswith("/payload_data/jsonschema/1-0-4") and len(body["data"]) == 3
