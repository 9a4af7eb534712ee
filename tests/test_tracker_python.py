"""The official Python tracker (snowplow-tracker from PyPI) sending to a real snowcatcher."""

from __future__ import annotations

import asyncio

import pytest

from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import Snowcatcher

tracker = pytest.importorskip("snowplow_tracker", reason="pip install snowplow-tracker")


def send_with_tracker(url: str, method: str, encode_base64: bool) -> None:
    """Page view, structured event and a self-describing event with two contexts."""
    failures: list[object] = []
    emitter = tracker.Emitter(url, method=method, batch_size=1 if method == "get" else 3,
                              on_failure=lambda count, events: failures.append(events))
    track = tracker.Tracker(namespace="qa", emitters=emitter, app_id="snowcatcher-test",
                            encode_base64=encode_base64)
    contexts = [tracker.SelfDescribingJson("iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                                           {"id": "b1a5c0de-0000-4000-8000-000000000001"}),
                tracker.SelfDescribingJson("iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-1",
                                           {"userId": "b1a5c0de-0000-4000-8000-000000000002",
                                            "sessionId": "b1a5c0de-0000-4000-8000-000000000003",
                                            "sessionIndex": 2, "previousSessionId": None,
                                            "storageMechanism": "COOKIE_1"})]
    track.track(tracker.PageView(page_url="http://gdk.test:3000/explore", page_title="Explore"))
    track.track(tracker.StructuredEvent(category="InternalEventTracking", action="i_search_total",
                                        label="label", property_="prop", value=3))
    track.track(tracker.SelfDescribing(
        tracker.SelfDescribingJson("iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                                   {"targetUrl": "http://gdk.test:3000/help"}), context=contexts))
    track.flush()
    assert not failures, failures


@pytest.mark.parametrize("method", ["post", "get"])
@pytest.mark.parametrize("encode_base64", [True, False])
async def test_python_tracker_events_are_decoded(catcher: Snowcatcher, method: str,
                                                 encode_base64: bool) -> None:
    await asyncio.to_thread(send_with_tracker, catcher.url, method, encode_base64)
    events: list[CapturedEvent] = catcher.store.window()
    assert [e.event_type for e in events] == ["page_view", "struct", "unstruct"]
    assert all(e.valid for e in events), [e.violations for e in events]
    page_view, struct, link_click = events
    assert page_view.payload["url"] == "http://gdk.test:3000/explore" and page_view.name == "/explore"
    assert (struct.name, struct.payload["se_ca"], struct.payload["se_va"]) == (
        "i_search_total", "InternalEventTracking", "3")
    assert link_click.schema.endswith("/link_click/jsonschema/1-0-1")
    assert link_click.entities[0].data == {"targetUrl": "http://gdk.test:3000/help"}
    assert [e.schema.split("/")[1] for e in link_click.entities[1:]] == ["web_page", "client_session"]
    sources = {entity.source for entity in link_click.entities}
    assert sources == ({"ue_px", "cx"} if encode_base64 else {"ue_pr", "co"})
    assert all(e.app_id == "snowcatcher-test" and e.payload["tv"].startswith("py-") for e in events)
    request = catcher.store.request(struct.request_id)
    assert request is not None and request.request.method == method.upper()
    # POST batches all three events (batch_size=3) into one body; GET sends one request per event.
    assert len({e.request_id for e in events}) == (1 if method == "post" else 3)
    assert [e.index for e in events] == ([0, 1, 2] if method == "post" else [0, 0, 0])
