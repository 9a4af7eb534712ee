"""EventGate's edge answers, each derived from EventGate's own source, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from snowcatcher.model import JsonDict
from snowcatcher.runtime import Snowcatcher
from snowcatcher.validate.validator import FORMATS
from tests.wikimedia_support import PRIMARY, needs_corpus, running

pytestmark = needs_corpus

ONE_ERRORED = "1 out of 1 events had failures and were not accepted. (0 invalid and 1 errored)."


async def post(catcher: Snowcatcher, body: bytes, *, path: str = "/v1/events",
               headers: dict[str, str] | None = None) -> tuple[int, str, str, dict[str, str]]:
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession() as http, http.post(f"{catcher.url}{path}", data=body,
                                                          headers=sent) as answer:
        return answer.status, answer.reason or "", await answer.text(), dict(answer.headers)


def schema_test_event(dt: str = "2020-04-02T19:11:20.942Z", **more: Any) -> JsonDict:
    """An event of the primary repository's /test/event/1.0.0 (meta.dt is a date-time, meta.uri a
    uri-reference, both with maxLength as EventGate's secure-schema rule wants)."""
    return {"$schema": "/test/event/1.0.0", "meta": {"stream": "test.event", "dt": dt, **more}}


# -- the stream and the schema URI are extracted first ---------------------------------------------


async def test_a_missing_meta_stream_is_an_error_before_validation(tmp_path: Path) -> None:
    # lib/event-util.js makeExtractField: "Field(s) ${field} were missing from event and could not be
    # extracted." (MissingFieldError, an error status); eventgate-wikimedia extracts the stream
    # (stream_field: meta.stream) before it loads the schema or validates.
    event = {"$schema": "/test/event/1.0.0", "meta": {"dt": "2020-04-02T19:11:20Z"}}
    streams = tmp_path / "streams.yaml"
    streams.write_text("test.event: {schema_title: test/event}\n")
    for config in (None, streams):
        async with running(PRIMARY, streams=config) as catcher:
            status, reason, text, _ = await post(catcher, orjson.dumps(event))
            stored = catcher.store.window()
        assert (status, reason) == (500, ONE_ERRORED)
        item = json.loads(text)["error"][0]
        assert item["context"] == {
            "message": "Field(s) meta.stream were missing from event and could not be extracted."}
        assert "None" not in text
        assert stored[0].valid is False and stored[0].violations[0].keyword == "required"


async def test_a_missing_schema_uri_is_reported_in_eventgates_words() -> None:
    # config/config.wikimedia.yaml: schema_uri_field: [$schema, meta.schema_uri]; the array is written
    # into makeExtractField's template string as JavaScript joins it.
    async with running(PRIMARY) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps({"meta": {"stream": "test.event"}}))
    assert status == 500
    assert json.loads(text)["error"][0]["context"]["message"] == (
        "Field(s) $schema,meta.schema_uri were missing from event and could not be extracted.")


async def test_stream_messages_write_values_as_json_not_python(tmp_path: Path) -> None:
    # The stream check writes `${streamName}` as JavaScript does: null, not None.
    streams = tmp_path / "streams.yaml"
    streams.write_text("test.event: {schema_title: test/event}\n")
    event = schema_test_event()
    event["meta"]["stream"] = None
    event["meta"]["id"] = True
    async with running(PRIMARY, streams=streams) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps(event))
    message = json.loads(text)["error"][0]["context"]["message"]
    assert status == 500
    assert message == ("event true of schema at /test/event/1.0.0 destined to stream null is not "
                       "allowed in stream; null is not a configured stream.")


async def test_a_stream_without_schema_title_is_refused(tmp_path: Path) -> None:
    # eventgate-wikimedia refuses a configured stream that names no schema_title
    # (lib/factories/wikimedia-eventgate.js ensureEventAllowedInStream: "does not have a
    # configured schema_title").
    streams = tmp_path / "streams.yaml"
    streams.write_text("test.event: {destination_event_service: eventgate-main}\n")
    async with running(PRIMARY, streams=streams) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps(schema_test_event(id="e1")))
    assert status == 500
    assert json.loads(text)["error"][0]["context"]["message"] == (
        "event e1 of schema at /test/event/1.0.0 destined to stream test.event is not allowed in "
        "stream; test.event does not have a configured schema_title.")


# -- format: AJV 6 "fast" ------------------------------------------------------------------------------


# package.json pins ajv ^6.8.1 and lib/EventValidator.js passes no `format` option, so AJV's default
# "fast" formats apply (ajv lib/compile/formats.js formats.fast['date-time'] and 'uri-reference').
@pytest.mark.parametrize(("dt", "accepted"), [
    ("2020-04-02T19:11:20.942Z", True),
    ("2020-04-02 19:11:20.942Z", True),    # [t\s]: a space for the T
    ("2020-02-30T10:00:00Z", True),        # [0-3]\d: no day-of-month check
    ("2020-19-39T10:00:00Z", True),        # [0-1]\d: months to 19
    ("2020-04-02T29:59:59Z", True),        # [0-2]\d: hours to 29
    ("2020-04-02T23:59:60Z", True),        # the leap second
    ("2020-04-02t10:00:00z", True),        # the /i flag
    ("2020-04-02T10:00:00+0100", True),    # (?::?\d\d)?: offsets without a colon
    ("2020-04-02T10:00:00+01", True),      # ... or without minutes
    ("2020-04-02T10:00:00", False),        # the offset is required
    ("2020-20-02T10:00:00Z", False),
    ("2020-04-02T10:60:00Z", False),
    ("2020-04-02T10:00:00Z\n", False),     # JavaScript's $ does not match before a newline
    ("2020-04-02_10:00:00Z", False),
])
async def test_date_time_is_exactly_as_strict_as_eventgates_ajv(dt: str, accepted: bool) -> None:
    async with running(PRIMARY) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps(schema_test_event(dt)))
    assert status == (201 if accepted else 400), text
    if not accepted:
        assert json.loads(text)["invalid"][0]["context"]["errorsText"] == (
            "'.meta.dt' should match format \"date-time\"")


@pytest.mark.parametrize(("uri", "accepted"), [
    ("/wiki/Special:Homepage?x=1#top", True),
    ("https://en.wikipedia.org/wiki/Foo", True),
    ("a b", False),            # no whitespace anywhere
    ("\\\\server/x", False),  # the first character may not be a backslash
    ("/x#a\\b", False),         # nor may the fragment hold one
])
async def test_uri_reference_follows_ajvs_fast_rule(uri: str, accepted: bool) -> None:
    async with running(PRIMARY) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps(schema_test_event(uri=uri)))
    assert status == (201 if accepted else 400), text


def test_snowplow_schemas_keep_jsonschemas_strict_date_time() -> None:
    # AJV's rules are for Wikimedia schemas only; Iglu schemas keep RFC 3339 as Snowplow checks it.
    assert not FORMATS.conforms("2020-04-02 19:11:20.942Z", "date-time")
    assert not FORMATS.conforms("2020-02-30T10:00:00Z", "date-time")


# -- body parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "detail"), [
    (b'{"$schema": ', "Unexpected end of JSON input"),
    (b'{"a": }', "Unexpected token } in JSON at position 6"),
    (b'"a string"', "Unexpected token \" in JSON at position 0"),  # body-parser is strict
    (b"null", "Unexpected token n in JSON at position 0"),
])
async def test_malformed_json_gets_eventgates_500_error_body(body: bytes, detail: str) -> None:
    # body-parser throws a SyntaxError; lib/util.js setErrorHandler turns a plain Error into
    # {status: 500, type: 'internal_error', title: err.name, detail: err.message, method, uri}.
    async with running(PRIMARY) as catcher:
        status, reason, text, headers = await post(catcher, body)
        stored = catcher.store.window()
    assert (status, reason) == (500, "Internal Server Error")
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(text) == {"status": 500, "type": "internal_error", "title": "SyntaxError",
                                "detail": detail, "method": "POST", "uri": "/v1/events"}
    assert [v.keyword for v in stored[0].violations] == ["json"]


@pytest.mark.parametrize("body", [b"", b"{}", b"[]"])
async def test_an_empty_body_gets_400_without_a_body(body: bytes) -> None:
    # routes/events.js: `if (_.isEmpty(req.body))` sets the status message and calls res.end().
    async with running(PRIMARY) as catcher:
        status, reason, text, _ = await post(catcher, body)
        stored = catcher.store.window()
    assert (status, reason, text) == (400, "Request body was empty. Must provide JSON encoded events.", "")
    assert len(stored) == 1


async def test_a_trailing_slash_reaches_the_intake_as_in_express() -> None:
    # Express routers are not strict: router.post('/events') also matches /v1/events/.
    async with running(PRIMARY) as catcher:
        status, _, _, _ = await post(catcher, orjson.dumps(schema_test_event()), path="/v1/events/")
        stored = catcher.store.window()
        report = await catcher.revalidate()
    assert status == 201
    assert stored[0].protocol == "eventgate" and stored[0].valid
    assert report.changed == 0


# -- errors in AJV's order -------------------------------------------------------------------------------


ORDER_SCHEMA = """\
title: test/order
$id: /test/order/1.0.0
$schema: https://json-schema.org/draft-07/schema#
type: object
additionalProperties: false
required: [mango, $schema, meta]
properties:
  zebra: {type: string}
  apple: {type: integer}
  list: {type: array, items: {type: integer}}
  mango: {type: string}
  $schema: {type: string}
  meta: {type: object}
"""


async def test_several_errors_come_in_ajvs_order(tmp_path: Path) -> None:
    # AJV 6 (lib/compile/rules.js, lib/dotjs/properties.js): `required`, then additionalProperties,
    # then each property in the schema's order, array items by index; errorsText joins them with
    # ", " (lib/error.js ValidationError).
    (tmp_path / "jsonschema" / "test" / "order").mkdir(parents=True)
    (tmp_path / "jsonschema" / "test" / "order" / "1.0.0.yaml").write_text(ORDER_SCHEMA)
    event = {"$schema": "/test/order/1.0.0", "meta": {"stream": "s"}, "zebra": 1, "apple": "a",
             "list": [0, 1, "two", 3, 4, 5, 6, 7, 8, 9, "ten"], "extra": True}
    async with running(tmp_path) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps(event))
    assert status == 400
    assert json.loads(text)["invalid"][0]["context"]["errorsText"] == (
        "'' should have required property 'mango', '' should NOT have additional properties, "
        "'.zebra' should be string, '.apple' should be integer, '.list[2]' should be integer, "
        "'.list[10]' should be integer")


async def test_an_invalid_schema_is_reported_without_python_reprs(tmp_path: Path) -> None:
    (tmp_path / "jsonschema" / "test" / "broken").mkdir(parents=True)
    (tmp_path / "jsonschema" / "test" / "broken" / "1.0.0.yaml").write_text(
        "title: test/broken\n$schema: https://json-schema.org/draft-07/schema#\ntype: object\n"
        "properties: {a: {type: strng}}\n")
    event = {"$schema": "/test/broken/1.0.0", "meta": {"stream": "s"}}
    async with running(tmp_path) as catcher:
        status, _, text, _ = await post(catcher, orjson.dumps(event))
    message = json.loads(text)["error"][0]["context"]["message"]
    assert status == 500
    assert message.startswith("schema is invalid: data.properties.a.type should")
    assert "'strng'" not in message


# -- CORS ---------------------------------------------------------------------------------------------------


EVENTGATE_CORS = {
    # app.js: app.all('*') sets these on every answer when conf.cors is its default '*'.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "accept, x-requested-with, content-type",
    "Access-Control-Allow-Methods": "post",
}


@pytest.mark.parametrize("path", ["/v1/events", "/beacon/event"])
async def test_wikimedia_routes_answer_with_eventgates_cors(path: str) -> None:
    origin = {"Origin": "http://wiki.local:8080"}
    async with running(PRIMARY) as catcher, aiohttp.ClientSession() as http:
        async with http.options(f"{catcher.url}{path}", headers={
                **origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type"}) as preflight:
            preflight_headers = dict(preflight.headers)
            assert preflight.status == 200
            assert "POST" in preflight.headers["Allow"]
        body = orjson.dumps(schema_test_event()) if path == "/v1/events" else b""
        async with http.post(f"{catcher.url}{path}", data=body, headers=origin) as answer:
            answer_headers = dict(answer.headers)
    for headers in (preflight_headers, answer_headers):
        for name, value in EVENTGATE_CORS.items():
            assert headers[name] == value
        assert "Access-Control-Allow-Credentials" not in headers


async def test_snowplow_routes_keep_echoing_the_origin_with_credentials() -> None:
    async with running(PRIMARY) as catcher, aiohttp.ClientSession() as http, http.post(
            f"{catcher.url}/com.snowplowanalytics.snowplow/tp2", data=b"{}",
            headers={"Origin": "http://app.local", "Content-Type": "application/json"}) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == "http://app.local"
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
