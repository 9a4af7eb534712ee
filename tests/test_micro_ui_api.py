"""Snowplow Micro 4's UI API (/micro/events, /micro/columns, /micro/columnStats, /micro/timeline)
over real HTTP, in the shapes of research snowplow.md §1.3 and §1.4."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from snowcatcher.protocols.snowplow.samples import encode as b64
from snowcatcher.runtime import Snowcatcher
from tests.conftest import post_events
from tests.data import TP2, struct

FAILURE = "contexts_com_snowplowanalytics_snowplow_failure_1"
ACME_CONTEXT = "iglu:com.acme/shopCart/jsonschema/2-0-0"
ACME_EVENT = "iglu:com.acme/checkoutStep/jsonschema/1-0-0"


def acme_event() -> dict[str, str]:
    """A self-describing event with a context, both of schemas no registry has."""
    event = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
             "data": {"schema": ACME_EVENT, "data": {"step": 2}}}
    cx = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
          "data": [{"schema": ACME_CONTEXT, "data": {"items": 3}}]}
    return {"e": "ue", "tv": "js-4.10.1", "p": "web", "aid": "shop", "ue_px": b64(event), "cx": b64(cx)}


async def ask(http: aiohttp.ClientSession, url: str, body: Any = None) -> tuple[int, Any]:
    async with http.request("GET" if body is None else "POST", url, json=body) as answer:
        return answer.status, await answer.json(content_type=None)


async def capture(http: aiohttp.ClientSession, base: str) -> None:
    await post_events(http, base, struct("add", aid="shop"))
    await post_events(http, base, struct("broken", aid="Shop", se_va="lots"))
    await post_events(http, base, {"e": "pv", "tv": "js-4", "p": "web", "aid": "blog",
                                   "url": "https://blog.example/post"})
    await post_events(http, base, acme_event())
    async with http.post(base + TP2, data=b"not json", headers={"Content-Type": "text/plain"}) as answer:
        assert answer.status == 200  # stored, but no event: /micro/bad only


async def test_events_pages_newest_first_with_incomplete_events(plain_catcher: Snowcatcher,
                                                                http: aiohttp.ClientSession) -> None:
    await capture(http, plain_catcher.url)
    url = plain_catcher.url + "/micro/events"
    status, everything = await ask(http, url, {"filters": [], "page": 1, "pageSize": 50})
    assert status == 200 and everything["totalItems"] == 4 and everything["totalPages"] == 1
    events = everything["events"]
    assert [e["event"] for e in events] == ["unstruct", "page_view", "struct", "struct"]
    acme, view, broken, added = events
    # Flattened as the analytics SDK's lossy JSON: a column per schema, no nested contexts.
    assert acme["unstruct_event_com_acme_checkout_step_1"] == {"step": 2}
    assert acme["contexts_com_acme_shop_cart_2"] == [{"items": 3}]
    assert "contexts" not in acme and "unstruct_event" not in acme
    assert view["page_urlhost"] == "blog.example" and FAILURE not in view and FAILURE not in added
    # Schema-invalid events are there as incomplete events with Enrich's failure context.
    resolution = acme[FAILURE]
    assert {f["failureType"] for f in resolution} == {"ResolutionError"}
    assert {f["schema"] for f in resolution} == {ACME_EVENT, ACME_CONTEXT}
    enrichment = broken[FAILURE][0]
    error = enrichment["errors"][0]
    assert error["path"] == "$.se_va" and "must be a number" in error["message"]
    assert enrichment["timestamp"] == broken["collector_tstamp"]
    _, second = await ask(http, url, {"filters": [], "page": 2, "pageSize": 3})
    assert second["totalPages"] == 2 and [e["se_action"] for e in second["events"]] == ["add"]
    _, oldest = await ask(http, url, {"filters": [], "page": 1, "pageSize": 2,
                                      "sorting": {"column": "collector_tstamp", "desc": False}})
    assert [e["se_action"] for e in oldest["events"]] == ["add", "broken"]


async def test_events_filters(plain_catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await capture(http, plain_catcher.url)
    url = plain_catcher.url + "/micro/events"

    async def actions(**body: Any) -> list[Any]:
        status, answer = await ask(http, url, {"filters": [], "page": 1, "pageSize": 50, **body})
        assert status == 200, answer
        return [event["se_action"] or event["event"] for event in answer["events"]]

    assert await actions(validEvents=True) == ["page_view", "add"]
    assert await actions(validEvents=False) == ["unstruct", "broken"]
    # Case-insensitive exact matches, any of the values (Micro 4.5.2), and the older single value.
    assert await actions(filters=[{"column": "app_id", "values": ["SHOP"]}]) == ["unstruct", "broken", "add"]
    assert await actions(filters=[{"column": "app_id", "value": "blog"}]) == ["page_view"]
    assert await actions(filters=[{"column": "event", "values": ["Page_View", "unstruct"]}]) == [
        "unstruct", "page_view"]
    assert await actions(filters=[{"column": "event_vendor", "values": ["com.acme"]}]) == ["unstruct"]
    assert await actions(filters=[{"column": "se_action", "values": ["ADD"]}]) == ["add"]
    assert await actions(filters=[{"column": "platform", "values": ["srv"]}]) == ["broken", "add"]
    assert await actions(filters=[{"column": "app_id", "values": ["shop"]}], validEvents=True) == ["add"]
    now = time.time() * 1000
    assert await actions(timeRange={"start": now + 60_000}) == []
    assert len(await actions(timeRange={"start": now - 60_000, "end": "2999-01-01T00:00:00Z"})) == 4
    for body, message in (({"page": 0}, "page must be a whole number 1 or more, got 0"),
                          ({"pageSize": 5000}, "pageSize must be a whole number from 1 to 1000"),
                          ({"validEvents": "yes"}, "validEvents must be true, false or null"),
                          ({"filters": [{"column": "page_urlhost", "values": ["x"]}]}, "cannot be filtered"),
                          ({"sorting": {"column": "app_id", "desc": True}}, "events sort by"),
                          ({"timeRange": {"start": "yesterday"}}, "timeRange.start must be an ISO-8601")):
        status, error = await ask(http, url, body)
        assert status == 400 and message in error["error"], (body, error)


async def test_columns_and_their_stats(plain_catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await capture(http, plain_catcher.url)
    status, columns = await ask(http, plain_catcher.url + "/micro/columns")
    assert status == 200 and columns[:3] == ["app_id", "platform", "etl_tstamp"]
    assert {"unstruct_event_com_acme_checkout_step_1", "contexts_com_acme_shop_cart_2",
            FAILURE} <= set(columns)
    assert "contexts" not in columns
    status, stats = await ask(http, plain_catcher.url + "/micro/columnStats", {
        "columns": ["app_id", "event_name", "collector_tstamp", "page_urlhost"]})
    assert status == 200
    assert stats["app_id"] == {"sortable": False, "filterable": True, "values": ["shop", "Shop", "blog"]}
    assert stats["event_name"]["values"] == ["checkoutStep", "event", "page_view"]
    assert stats["collector_tstamp"] == {"sortable": True, "filterable": False}
    assert stats["page_urlhost"] == {"sortable": False, "filterable": False}
    status, error = await ask(http, plain_catcher.url + "/micro/columnStats", {"columns": "app_id"})
    assert status == 400 and "columns must be a list" in error["error"]


async def test_timeline_counts_valid_and_failed_events_per_bucket(plain_catcher: Snowcatcher,
                                                                  http: aiohttp.ClientSession) -> None:
    await capture(http, plain_catcher.url)
    now = time.time() * 1000
    buckets = [{"start": now - 7_200_000, "end": now - 3_600_000},
               {"start": now - 3_600_000, "end": now + 60_000}]
    status, timeline = await ask(http, plain_catcher.url + "/micro/timeline", {"buckets": buckets})
    assert status == 200
    assert [(p["validEvents"], p["failedEvents"]) for p in timeline["points"]] == [(0, 0), (2, 2)]
    assert timeline["points"][1]["bucket"]["start"].endswith("Z")
    status, recent = await ask(http, plain_catcher.url + "/micro/timeline")
    assert status == 200 and len(recent["points"]) == 30
    assert sum(p["validEvents"] + p["failedEvents"] for p in recent["points"]) == 4
    status, error = await ask(http, plain_catcher.url + "/micro/timeline", {"buckets": [{"start": "x"}]})
    assert status == 400 and "buckets[0].start" in error["error"]


async def test_the_ui_api_is_guarded_like_the_rest_of_micro(plain_catcher: Snowcatcher,
                                                            http: aiohttp.ClientSession) -> None:
    async with http.post(plain_catcher.url + "/micro/events", json={},
                         headers={"Origin": "https://evil.example"}) as answer:
        assert answer.status == 403
    assert plain_catcher.store.count() == 0
