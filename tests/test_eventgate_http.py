"""EventGate's /v1/events over real HTTP on 127.0.0.1: EventGate's own spec cases and the seed schema."""

from __future__ import annotations

import copy
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from snowcatcher.headless import HeadlessPrinter
from snowcatcher.model import JsonDict
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from tests.wikimedia_support import (
    EVENTGATE_EVENTS,
    EVENTGATE_EXPECTED,
    PRIMARY,
    SCHEMA_EXAMPLES,
    SECONDARY,
    SEED,
    TEST_SCHEMAS,
    assert_subset,
    needs_corpus,
    running,
)

pytestmark = needs_corpus

UNPRODUCEABLE = "__throw_unproduceable_error__"
PRODUCEABLE = "__throw_produceable_error__"


def eventgate_test_factory(event: JsonDict, schema_uri: str, schema: JsonDict) -> str | None:
    """What EventGate's test factory (test/utils/eventgate_test_factory.js) does when it produces:
    two magic stream names throw. Production EventGate has no such streams, so snowcatcher does
    not either; the spec cases that use them plug this in as a stream check."""
    stream = event.get("meta", {}).get("stream")
    if stream == UNPRODUCEABLE:
        return (f"Event's topic was {stream}. This error should be handled, but not produced as an "
                "error event")
    if stream == PRODUCEABLE:
        return (f"Event's topic was {stream}. This error should be handled, and should be produced as "
                "an error event")
    return None


async def post(catcher: Snowcatcher, body: bytes, *, query: str = "",
               content_type: str = "application/json") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{catcher.url}/v1/events{query}", data=body,
            headers={"Content-Type": content_type}) as answer:
        return answer.status, answer.reason or "", await answer.text()


# -- EventGate's spec.test.yaml x-amples -------------------------------------------------------------


def _spec_cases() -> list[Path]:
    if not EVENTGATE_EXPECTED.is_dir():
        return []
    return sorted(EVENTGATE_EXPECTED.glob("[0-9][0-9]_*.expected.json"))


def test_all_twelve_spec_cases_are_present() -> None:
    assert len(_spec_cases()) == 12


@pytest.mark.parametrize("expected_file", _spec_cases(), ids=lambda p: p.name.split(".")[0])
async def test_eventgate_spec_case(expected_file: Path) -> None:
    case = json.loads(expected_file.read_text())
    body = (EVENTGATE_EVENTS / expected_file.name.replace(".expected.json", ".json")).read_bytes()
    query = "?hasty=true" if case["request"]["query"].get("hasty") else ""
    async with running(TEST_SCHEMAS) as catcher:
        catcher.ingestor.wikimedia_events.checks.append(eventgate_test_factory)
        status, reason, text = await post(catcher, body, query=query,
                                          content_type=case["request"]["headers"]["content-type"])
        stored = catcher.store.window(limit=100)
    expected = case["expected_response"]
    assert status == expected["status"], text
    assert reason == case["status_message_derived_from_routes_events_js"]
    if "body" in expected:
        assert_subset(expected["body"], json.loads(text) if expected["body"] != "" else text)
    # Whatever the answer, every event is in the store (a hasty answer included).
    events = orjson.loads(body) if body.strip() else []
    assert len(stored) == max(1, len(events) if isinstance(events, list) else 1)


async def test_invalid_event_errors_have_ajvs_shape() -> None:
    body = (EVENTGATE_EVENTS / "01_produce_a_single_invalid_event.json").read_bytes()
    async with running(TEST_SCHEMAS) as catcher:
        status, _, text = await post(catcher, body)
    item = json.loads(text)["invalid"][0]
    assert status == 400 and item["status"] == "invalid"
    assert item["context"]["errors"] == [{"keyword": "type", "dataPath": ".test",
                                          "schemaPath": "#/properties/test/type",
                                          "params": {"type": "string"}, "message": "should be string"}]
    assert item["event"]["test"] == 0.01 and item["event"]["meta"]["stream"] == "test.event"


async def test_hasty_events_are_still_validated_and_stored() -> None:
    body = (EVENTGATE_EVENTS / "10_produce_batch_events_all_invalid_fire_and_forget.json").read_bytes()
    async with running(TEST_SCHEMAS) as catcher:
        status, _, text = await post(catcher, body, query="?hasty=true")
        stored = catcher.store.window()
    assert (status, text) == (202, "")
    assert [event.valid for event in stored] == [False, False]
    assert [v.path for v in stored[1].violations] == ["/test_default"]


async def test_text_plain_bodies_from_send_beacon_are_accepted() -> None:
    body = (EVENTGATE_EVENTS / "00_produce_a_single_valid_event.json").read_bytes()
    async with running(TEST_SCHEMAS) as catcher:
        status, _, _ = await post(catcher, body, content_type="text/plain;charset=UTF-8")
    assert status == 201


async def test_other_content_types_and_broken_json_are_refused_but_recorded() -> None:
    body = (EVENTGATE_EVENTS / "00_produce_a_single_valid_event.json").read_bytes()
    async with running(TEST_SCHEMAS) as catcher:
        form = await post(catcher, body, content_type="application/x-www-form-urlencoded")
        broken = await post(catcher, b'{"$schema": ', content_type="application/json")
        stored = catcher.store.window()
    assert form[:2] == (400, "Request body was empty. Must provide JSON encoded events.")
    assert broken[0] == 500  # tests/test_eventgate_edges.py has the body EventGate sends
    assert [v.keyword for event in stored for v in event.violations] == ["content-type", "json"]
    assert {event.protocol for event in stored} == {"eventgate"}


# -- EventValidator cases ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status"), [
    ("EventValidator_testEvent_draft4", 201), ("EventValidator_testEvent_draft6", 201),
    ("EventValidator_testEvent_v1_0", 201), ("EventValidator_testEvent_v1_1", 201),
    ("EventValidator_testEvent_v2_0", 201), ("EventValidator_testInvalidEvent", 400),
    ("EventValidator_testEvent_insecure", 500), ("test_event_0.0.2", 201),
])
async def test_event_validator_cases(name: str, status: int) -> None:
    outcome = json.loads((EVENTGATE_EXPECTED / f"{name}.expected.json").read_text()).get("outcome")
    assert outcome in (None, {201: "valid", 400: "invalid", 500: "schema_load_error"}[status])
    async with running(TEST_SCHEMAS) as catcher:
        got, _, text = await post(catcher, (EVENTGATE_EVENTS / f"{name}.json").read_bytes())
        stored = catcher.store.window()[0]
    assert got == status, text
    if status == 500:
        # lib/EventValidator.js: loadSchema throws "Schema at <uri> is not secure for compilation",
        # which validatorAt wraps in EventSchemaLoadError("Failed loading schema at <uri>").
        assert json.loads(text)["error"][0]["context"]["message"] == (
            "Failed loading schema at /test_insecure/0.0.1")
        assert stored.violations[0].message.startswith(
            "Schema at /test_insecure/0.0.1 is not secure for compilation")
    if name.endswith("v1_0"):  # EventGate validates with useDefaults: the default is filled
        assert stored.payload["test_default"] == "default_value"
        assert "test_default" in stored.filled


# -- server-filled fields ----------------------------------------------------------------------------


async def test_meta_id_and_dt_are_filled_when_missing_and_recorded() -> None:
    event = {"$schema": "/test/0.0.2", "meta": {"stream": "test.event"}, "test": "x"}
    async with running(TEST_SCHEMAS) as catcher:
        status, _, _ = await post(catcher, orjson.dumps(event))
        stored = catcher.store.window()[0]
    assert status == 201
    meta = stored.payload["meta"]
    assert len(meta["id"]) == 36 and meta["dt"].endswith("Z")
    assert {"meta.id", "meta.dt"} <= set(stored.filled)
    assert (stored.protocol, stored.event_type, stored.name, stored.schema) == (
        "eventgate", "event", "test.event", "/test/0.0.2")


# -- the seed: homepagevisit 1.2.1 against the real repositories -------------------------------------


def _homepagevisit() -> JsonDict:
    example: JsonDict = json.loads(
        (SCHEMA_EXAMPLES / "analytics_legacy_homepagevisit__1.2.1__example0.json").read_text())
    if SEED.is_file():  # the corpus copy is the seed's own example
        seed = SEED.read_text()
        assert example["meta"]["id"] in seed and example["event"]["homepage_pageview_token"] in seed
    return example


async def test_the_seed_homepagevisit_example_is_accepted() -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        status, reason, _ = await post(catcher, orjson.dumps(_homepagevisit()))
        stored = catcher.store.window()[0]
    assert (status, reason) == (201, "All 1 out of 1 events were accepted.")
    assert stored.valid and stored.name == "eventlogging_HomepageVisit"
    assert stored.filled == ()  # the example sets meta.id, meta.dt and dt itself



async def test_each_event_is_stored_once_and_reads_back_as_its_own_entity(tmp_path: Path) -> None:
    """An EventGate event is its one entity: the capture file keeps its JSON once (in the event's
    row), and reading it back gives the entity the event's data, as a reader of the file sees it."""
    events = []
    for number in range(3):
        event = _homepagevisit()
        event["meta"]["id"] = _uuid(number)
        event["event"]["user_editcount"] = number
        events.append(event)
    db = tmp_path / "capture.sqlite"
    catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, schemas=[PRIMARY, SECONDARY],
                                   db=db))
    await catcher.start()
    try:
        status, _, _ = await post(catcher, orjson.dumps(events))
    finally:
        await catcher.stop()
    assert status == 201
    with sqlite3.connect(db) as connection:
        sets = connection.execute("SELECT entities FROM entity_sets").fetchall()
    assert len(sets) == 1  # one set for every event of the schema
    assert "user_editcount" not in sets[0][0]
    reopened = Store(db)
    try:
        stored = reopened.window()
    finally:
        reopened.close()
    assert [event.payload for event in stored] == events
    for event in stored:
        (entity,) = event.entities
        assert entity.data == event.payload and entity.role == "event"
        assert entity.schema == events[0]["$schema"]


def _broken(change: str) -> JsonDict:
    event = copy.deepcopy(_homepagevisit())
    if change == "enum":
        event["event"]["impact_module_state"] = "broken"
    elif change == "required":
        del event["event"]["user_id"]
    else:
        event["event"]["user_editcount"] = "123"
    return event


@pytest.mark.parametrize(("change", "error"), [
    ("enum", {"keyword": "enum", "dataPath": ".event.impact_module_state",
              "schemaPath": "#/properties/event/properties/impact_module_state/enum",
              "params": {"allowedValues": ["activated", "unactivated", "notrendered"]},
              "message": "should be equal to one of the allowed values"}),
    ("required", {"keyword": "required", "dataPath": ".event", "schemaPath": "#/properties/event/required",
                  "params": {"missingProperty": "user_id"},
                  "message": "should have required property 'user_id'"}),
    ("integer", {"keyword": "type", "dataPath": ".event.user_editcount",
                 "schemaPath": "#/properties/event/properties/user_editcount/type",
                 "params": {"type": "integer"}, "message": "should be integer"}),
])
async def test_broken_homepagevisit_events_get_400_with_the_path(change: str, error: JsonDict) -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        status, _, text = await post(catcher, orjson.dumps(_broken(change)))
        stored = catcher.store.window()[0]
    assert status == 400
    context = json.loads(text)["invalid"][0]["context"]
    assert context["errors"] == [error]
    assert context["errorsText"] == f"'{error['dataPath']}' {error['message']}"
    pointer = "/" + error["dataPath"].lstrip(".").replace(".", "/")
    assert [(v.path, v.keyword) for v in stored.violations] == [(pointer, error["keyword"])]


async def test_a_batch_of_mixed_events_gets_207() -> None:
    batch = [_homepagevisit(), _broken("enum")]
    async with running(PRIMARY, SECONDARY) as catcher:
        status, reason, text = await post(catcher, orjson.dumps(batch))
    assert status == 207
    assert reason == "1 out of 2 events were accepted, but 1 failed (1 invalid and 0 errored)."
    assert set(json.loads(text)) == {"invalid", "error"}


# -- schema safety -------------------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["/../../../../etc/passwd", "../eventgate-test-schemas/test/0.0.1",
                                 "file:///etc/passwd", "https://evil.example/test/0.0.1"])
async def test_path_traversal_in_schema_is_refused(uri: str) -> None:
    event = {"$schema": uri, "meta": {"stream": "test.event"}, "test": "x"}
    async with running(TEST_SCHEMAS) as catcher:
        status, _, text = await post(catcher, orjson.dumps(event))
        stored = catcher.store.window()[0]
    assert status == 500
    assert json.loads(text)["error"][0]["context"]["message"] == f"Failed loading schema at {uri}"
    assert stored.violations[0].keyword == "resolve"
    assert "not allowed" in stored.violations[0].message


# -- streams -------------------------------------------------------------------------------------------


def _uuid(number: int) -> str:
    return f"5e1dd101-641c-11e8-ab6c-b083fecf128{number}"


async def test_stream_configuration_refuses_unknown_streams_and_wrong_titles() -> None:
    events = [
        {"$schema": "/test/0.0.1", "meta": {"stream": "test.event", "id": _uuid(1)}, "test": "ok"},
        {"$schema": "/test/0.0.1", "meta": {"stream": "nope", "id": _uuid(2)}, "test": "x"},
        {"$schema": "/test/0.0.1", "meta": {"stream": "test_draft4.x", "id": _uuid(3)}, "test": "x"},
        {"$schema": "/test_draft4/0.0.1", "meta": {"stream": "test_draft4.x", "id": _uuid(4)}, "test": "x"},
    ]
    async with running(TEST_SCHEMAS, streams=TEST_SCHEMAS / "stream-config.test.yaml") as catcher:
        status, reason, text = await post(catcher, orjson.dumps(events))
        stored = catcher.store.window()
    assert status == 207
    assert reason == "2 out of 4 events were accepted, but 2 failed (0 invalid and 2 errored)."
    messages = [item["context"]["message"] for item in json.loads(text)["error"]]
    assert messages == [
        f"event {_uuid(2)} of schema at /test/0.0.1 destined to stream nope is not allowed in "
        "stream; nope is not a configured stream.",
        f"event {_uuid(3)} of schema at /test/0.0.1 destined to stream test_draft4.x is not allowed "
        "in stream; schema title must be test_draft4."]
    assert [event.valid for event in stored] == [True, False, False, True]
    assert stored[1].violations[0].keyword == "stream"


# -- the rest of snowcatcher sees Wikimedia events ---------------------------------------------------


async def test_headless_ndjson_and_the_stream_filter_show_wikimedia_events() -> None:
    out = io.StringIO()
    async with running(PRIMARY, SECONDARY) as catcher:
        catcher.store.subscribe(HeadlessPrinter(as_json=True, out=out))
        await post(catcher, orjson.dumps([_homepagevisit(), _broken("enum")]))
        matching = catcher.store.window(Filter.parse("stream:eventlogging_*"))
        none = catcher.store.window(Filter.parse("stream:other"))
    lines: list[Any] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["protocol"], line["event_type"], line["name"], line["valid"]) for line in lines] == [
        ("eventgate", "event", "eventlogging_HomepageVisit", True),
        ("eventgate", "event", "eventlogging_HomepageVisit", False)]
    assert lines[1]["schema"] == "/analytics/legacy/homepagevisit/1.2.1"
    assert lines[1]["violations"][0]["path"] == "/event/impact_module_state"
    assert "activated" in lines[1]["violations"][0]["message"]
    assert len(matching) == 2 and none == []


async def test_an_oversized_body_gets_413_and_is_recorded_as_eventgate() -> None:
    from snowcatcher.runtime import Settings

    catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, max_body=100))
    await catcher.start()
    try:
        status, _, _ = await post(catcher, b"[" + b'{"a": 1},' * 50 + b"{}]")
        stored = catcher.store.window()
    finally:
        await catcher.stop()
    assert status == 413
    assert [(event.protocol, event.violations[0].keyword) for event in stored] == [("eventgate", "size")]


def test_hasty_is_any_non_empty_value_like_javascripts_truthiness() -> None:
    from snowcatcher.protocols.wikimedia.eventgate_protocol import is_hasty

    assert [is_hasty(v) for v in (None, "", "true", "1", "false")] == [False, False, True, True, True]
