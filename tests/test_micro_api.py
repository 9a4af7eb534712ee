"""The Snowplow Micro read API on a real loopback server, including GitLab's monitor.rb reading pattern."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from snowcatcher.protocols.snowplow.samples import encode as b64
from snowcatcher.runtime import Snowcatcher
from tests.conftest import CORPUS, needs_corpus, post_events, settings
from tests.data import struct

GITLAB_STANDARD = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"
WEB_PAGE = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
LINK_CLICK = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"


def gitlab_standard() -> dict[str, Any]:
    """The gitlab_standard data of GitLab's own payload documentation, read from the shared corpus."""
    path = CORPUS / "events/gitlab/internal_events_payload_doc/backend_structured_event.cx_decoded.json"
    contexts = json.loads(path.read_text())["data"]
    return next(c["data"] for c in contexts if c["schema"] == GITLAB_STANDARD)


def gitlab_event(action: str, dtm: str, **extra: str) -> dict[str, str]:
    cx = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
          "data": [{"schema": GITLAB_STANDARD, "data": gitlab_standard()},
                   {"schema": WEB_PAGE, "data": {"id": "90ea98bd-3bdb-48d2-935c-59a4d03a4710"}}]}
    return {"e": "se", "eid": "2e78c447-c18e-4087-a3a8-35723ecfb602", "tv": "rb-0.8.0", "tna": "gl",
            "p": "srv", "aid": "gitlab", "se_ca": "Users::ActivityService", "se_ac": action,
            "se_la": "redis_hll_counters.manage.unique_active_users_monthly", "se_pr": "project",
            "se_va": "2", "dtm": dtm, "stm": str(int(dtm) + 2), "cx": b64(cx), **extra}


def link_click(url: str) -> dict[str, str]:
    event = {"schema": UNSTRUCT, "data": {"schema": LINK_CLICK, "data": {"targetUrl": url}}}
    cx = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
          "data": [{"schema": WEB_PAGE, "data": {"id": "11111111-2222-3333-4444-555555555555"}}]}
    return {"e": "ue", "tv": "js-4.10.1", "p": "web", "aid": "shop", "ue_px": b64(event), "cx": b64(cx),
            "url": "https://shop.example:8443/cart?x=1#top", "duid": "d-1"}


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    method = "POST" if "json" in kwargs or "data" in kwargs else "GET"
    async with http.request(method, url, **kwargs) as answer:
        text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text


@needs_corpus
async def test_gitlab_monitor_reads_good_events(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    """Read /micro/good exactly the way gitlabhq scripts/internal_events/monitor.rb does."""
    assert await post_events(http, catcher.url, gitlab_event("i_code_review_user_approve_mr",
                                                               "1742268163016")) == 200
    assert await post_events(http, catcher.url, gitlab_event("other_event", "1742268164000")) == 200
    status, good = await get_json(http, catcher.url + "/micro/good")
    assert status == 200
    start = 1742268163000
    events = [d for d in good if d["event"]["se_action"] in ("i_code_review_user_approve_mr",)]
    events = [e for e in events if int(e["rawEvent"]["parameters"]["dtm"]) > start]
    assert len(events) == 1
    event = events[0]["event"]
    assert event["se_action"] == "i_code_review_user_approve_mr"
    assert event["se_category"] == "Users::ActivityService"
    assert event["se_label"] == "redis_hll_counters.manage.unique_active_users_monthly"
    assert event["se_property"] == "project"
    assert event["se_value"] == 2.0
    assert event["collector_tstamp"].endswith("Z") and event["collector_tstamp"][:2] == "20"
    assert events[0]["rawEvent"]["parameters"]["dtm"] == "1742268163016"
    standard = next(c for c in event["contexts"]["data"]
                    if c["schema"].startswith("iglu:com.gitlab/gitlab_standard/jsonschema"))
    expected = gitlab_standard()
    for key in ("user_id", "namespace_id", "project_id", "plan", "extra"):
        assert standard["data"][key] == expected[key]
    assert standard["data"]["user_id"] == 1


@needs_corpus
async def test_good_event_shape_and_enriched_names(catcher: Snowcatcher,
                                                   http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, link_click("https://example.com/a"), Origin="https://shop.example")
    _, good = await get_json(http, catcher.url + "/micro/good")
    item = good[0]
    assert item["eventType"] == "unstruct" and item["schema"] == LINK_CLICK
    assert item["contexts"] == [WEB_PAGE] and item["incomplete"] is False
    raw = item["rawEvent"]
    assert raw["api"] == {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2"}
    assert raw["parameters"]["e"] == "ue" and "nuid" not in raw["parameters"]
    assert raw["contentType"] == "application/json; charset=UTF-8"
    assert set(raw["context"]) == {"timestamp", "ipAddress", "useragent", "refererUri", "headers", "userId"}
    assert raw["context"]["ipAddress"] == "127.0.0.1" and raw["context"]["userId"]
    event = item["event"]
    for name in ("app_id", "platform", "event", "event_id", "collector_tstamp", "dvce_created_tstamp",
                 "name_tracker", "v_tracker", "domain_userid", "network_userid", "page_url",
                 "se_category", "se_action", "se_label", "se_property", "se_value", "contexts",
                 "unstruct_event", "event_vendor", "event_name", "event_format", "event_version"):
        assert name in event
    assert event["app_id"] == "shop" and event["platform"] == "web" and event["event"] == "unstruct"
    assert event["domain_userid"] == "d-1" and event["network_userid"] == raw["context"]["userId"]
    assert (event["page_urlhost"], event["page_urlport"], event["page_urlpath"]) == (
        "shop.example", 8443, "/cart")
    assert (event["event_vendor"], event["event_name"], event["event_version"]) == (
        "com.snowplowanalytics.snowplow", "link_click", "1-0-1")
    assert event["unstruct_event"]["data"] == {"schema": LINK_CLICK,
                                               "data": {"targetUrl": "https://example.com/a"}}


async def test_all_counts_good_and_bad(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("ok"), struct("broken", se_va="lots"))
    async with http.post(catcher.url + "/com.snowplowanalytics.snowplow/tp2", data=b"not json",
                           headers={"Content-Type": "application/json"}) as answer:
        assert answer.status == 200
    for method in ("GET", "POST"):
        async with http.request(method, catcher.url + "/micro/all") as answer:
            assert await answer.json() == {"total": 3, "good": 1, "bad": 2}


async def test_good_is_newest_first_and_filters(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    for action in ("first", "second", "third"):
        await post_events(http, catcher.url, struct(action))
    await post_events(http, catcher.url, {"e": "pv", "tv": "js", "p": "web", "url": "http://x/"})
    url = catcher.url + "/micro/good"
    _, everything = await get_json(http, url)
    assert [e["event"]["se_action"] for e in everything] == [None, "third", "second", "first"]
    _, structs = await get_json(http, url, json={"event_type": "struct", "limit": 2})
    assert [e["event"]["se_action"] for e in structs] == ["third", "second"]
    _, views = await get_json(http, url, json={
        "schema": "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0"})
    assert [e["eventType"] for e in views] == ["page_view"]
    _, none = await get_json(http, url, json={"event_type": "unstruct"})
    assert none == []
    status, error = await get_json(http, url, json={"limit": "ten"})
    assert status == 400 and "limit must be int" in error["error"]
    status, error = await get_json(http, url, data=b"{nope", headers={"Content-Type": "application/json"})
    assert status == 400 and "JSON object" in error["error"]


@needs_corpus
async def test_good_contexts_filter_needs_all(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, gitlab_event("both", "1742268163016"), struct("none"))
    url = catcher.url + "/micro/good"
    _, one = await get_json(http, url, json={"contexts": [GITLAB_STANDARD]})
    _, both = await get_json(http, url, json={"contexts": [WEB_PAGE, GITLAB_STANDARD]})
    _, missing = await get_json(http, url, json={"contexts": [GITLAB_STANDARD, LINK_CLICK]})
    assert [e["event"]["se_action"] for e in one] == ["both"]
    assert [e["event"]["se_action"] for e in both] == ["both"]
    assert missing == []


async def test_bad_events_read_as_sentences(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("broken", se_va="lots"))
    async with http.get(catcher.url + "/i?e=zz&tv=x&p=web") as answer:
        assert answer.status == 200
    async with http.post(catcher.url + "/com.acme/v9", data=b"{}",
                           headers={"Content-Type": "application/json"}) as answer:
        assert answer.status == 404
    _, bad = await get_json(http, catcher.url + "/micro/bad")
    assert len(bad) == 3
    newest, get_event, broken = bad
    assert newest["rawEvent"] is None and newest["collectorPayload"]["api"]["vendor"] == "com.acme"
    assert newest["errors"][0].startswith("Error while extracting event(s)")
    assert get_event["collectorPayload"]["api"] == {"vendor": "com.snowplowanalytics.snowplow",
                                                    "version": "tp1"}
    assert "e=zz" in get_event["collectorPayload"]["querystring"]
    assert broken["rawEvent"]["parameters"]["se_va"] == "lots"
    sentence = broken["errors"][1]
    assert sentence.startswith("event at /se_va: ") and "must be a number" in sentence
    assert sentence.endswith("(rule: format).")
    assert broken["violations"][0]["keyword"] == "format"
    _, tp1 = await get_json(http, catcher.url + "/micro/bad", json={"version": "tp1"})
    _, acme = await get_json(http, catcher.url + "/micro/bad", json={"vendor": "com.acme", "limit": 5})
    _, limited = await get_json(http, catcher.url + "/micro/bad", json={"limit": 1})
    assert len(tp1) == 1 and len(acme) == 1 and len(limited) == 1


@needs_corpus
async def test_schema_violation_names_entity_path_and_rule(catcher: Snowcatcher,
                                                           http: aiohttp.ClientSession) -> None:
    event = gitlab_event("x", "1742268163016")
    cx = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
          "data": [{"schema": GITLAB_STANDARD, "data": {**gitlab_standard(), "realm": "moon"}}]}
    await post_events(http, catcher.url, {**event, "cx": b64(cx)})
    _, bad = await get_json(http, catcher.url + "/micro/bad")
    sentence = bad[0]["errors"][1]
    assert sentence.startswith(f"contexts[0] {GITLAB_STANDARD} at /realm: ")
    assert "(rule: enum)" in sentence and "moon" in sentence


async def test_reset_empties_the_store(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    await post_events(http, catcher.url, struct("a"))
    for method in ("GET", "POST"):
        async with http.request(method, catcher.url + "/micro/reset") as answer:
            assert await answer.json() == {"total": 0, "good": 0, "bad": 0}
    _, good = await get_json(http, catcher.url + "/micro/good")
    assert good == []


@needs_corpus
async def test_iglu_lookup(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    iglu = catcher.url + "/micro/iglu"
    status, schema = await get_json(http, iglu + "/com.gitlab/gitlab_standard/jsonschema/1-1-1")
    assert status == 200 and schema["self"]["name"] == "gitlab_standard"
    status, missing = await get_json(http, catcher.url + "/micro/iglu/com.acme/nothing/jsonschema/1-0-0")
    assert status == 404 and "looked in" in missing["error"] and missing["lookedIn"]
    status, text = await get_json(http, catcher.url + "/micro/iglu/com.acme/nothing/jsonschema/one")
    assert status == 404 and "1-0-0" in text


async def test_unknown_micro_paths_list_endpoints(catcher: Snowcatcher,
                                                  http: aiohttp.ClientSession) -> None:
    for path in ("/micro/ui", "/micro/events", "/micro"):
        status, text = await get_json(http, catcher.url + path)
        assert status == 404 and "/micro/good" in text and "/micro/reset" in text
    assert catcher.store.count() == 0  # reading the API is never captured as an event


async def test_cors_on_micro_only_for_an_allowed_origin(http: aiohttp.ClientSession) -> None:
    """Micro dropped CORS on /micro/* in 2.1; snowcatcher grants it to the origins --allow-origin names."""
    origin = {"Origin": "http://localhost:3000"}
    running = Snowcatcher(settings(allow_origins=["http://localhost:3000"]))
    await running.start()
    try:
        async with http.get(running.url + "/micro/good", headers=origin) as answer:
            assert answer.status == 200
            assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        preflight = {**origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "Content-Type"}
        async with http.options(running.url + "/micro/good", headers=preflight) as answer:
            assert answer.status == 204
            assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
            assert "Content-Type" in answer.headers["Access-Control-Allow-Headers"]
    finally:
        await running.stop()
