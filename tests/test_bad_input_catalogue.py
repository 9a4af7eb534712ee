"""A catalogue of malformed requests on every endpoint: each gets the protocol's answer, is recorded
as a bad event that says what is wrong, and the collector keeps accepting afterwards."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from snowcatcher.protocols.snowplow import base64url, samples
from snowcatcher.runtime import Settings, Snowcatcher
from tests.data import TP2

PD = samples.PAYLOAD_DATA
JSON = "application/json; charset=UTF-8"
ACME = "iglu:com.acme/thing/jsonschema/1-0-0"
NOT_IGLU = "not a valid Iglu URI"
EMPTY_EG = "Request body was empty"
GOOD_EVENT = {"e": "pv", "p": "web", "tv": "js-4.6.1", "url": "http://gdk.test/"}


@dataclass(frozen=True)
class Case:
    """One malformed request and what a user must see."""

    name: str
    method: str
    path: str
    status: int
    #: A regex that one of the recorded violations (keyword + message) must match; None when
    #: the input is odd but legal and the event must simply be stored intact.
    violation: str | None
    query: str = ""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: A regex the answer's body (or reason phrase) must match.
    answer: str | None = None


def tp2(name: str, body: bytes | object, violation: str | None, *, status: int = 200,
        content_type: str | None = JSON, answer: str | None = None) -> Case:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    return Case(f"tp2-{name}", "POST", TP2, status, violation, body=data, headers=headers, answer=answer)


def event(**fields: object) -> dict[str, object]:
    return {**GOOD_EVENT, **fields}


def payload(*events: object) -> dict[str, object]:
    return {"schema": PD, "data": list(events)}


def get(name: str, query: str, violation: str | None, *, path: str = "/i", status: int = 200) -> Case:
    return Case(f"get-{name}", "GET", path, status, violation, query=query)


def eventgate(name: str, body: bytes | object, status: int, violation: str | None, *,
              content_type: str = "application/json", answer: str | None = None) -> Case:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Case(f"eventgate-{name}", "POST", "/v1/events", status, violation, body=data,
                headers={"Content-Type": content_type}, answer=answer)


def beacon(name: str, query: str, violation: str, *, body: bytes = b"", status: int = 204) -> Case:
    return Case(f"beacon-{name}", "GET" if not body else "POST", "/beacon/event", status, violation,
                query=query, body=body)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def unstruct(schema: str, data: object = None) -> str:
    return json.dumps({"schema": samples.UNSTRUCT, "data": {"schema": schema, "data": data or {}}})


def contexts_of(count: int) -> str:
    return json.dumps({"schema": samples.CONTEXTS,
                       "data": [{"schema": "iglu:com.acme/c/jsonschema/1-0-0", "data": {}}] * count})


# Every tracker field the payload_data schema types as a string, sent as a number and as an object.
_FIELDS = ("e", "eid", "tv", "p", "aid", "dtm", "stm", "uid", "url", "res", "vp", "cd", "se_ca", "se_ac",
           "se_va", "ue_pr", "ue_px", "co", "cx", "tna", "duid", "sid", "vid", "lang")
WRONG_TYPES = [tp2(f"type-{name}-{kind}", payload(event(**{name: value})),
                   r"type: .* is not of type string")
               for name in _FIELDS for kind, value in (("number", 7), ("object", {"x": 1}))]

TP2_CASES = [
    tp2("truncated-json", b'{"schema": "' + PD.encode() + b'", "data": [{"e": "pv"',
        r"json: the body is not valid JSON"),
    tp2("invalid-json", b"{schema: 1}", r"json: the body is not valid JSON"),
    tp2("trailing-garbage", b'{"schema": "x", "data": []} x', r"json: the body is not valid JSON"),
    tp2("number", b"42", r"self-describing: the body is not a self-describing JSON"),
    tp2("string", b'"hello"', r"self-describing"),
    tp2("null", b"null", r"self-describing"),
    tp2("array", b"[1, 2]", r"self-describing"),
    tp2("schema-not-string", {"schema": 1, "data": []}, r"self-describing"),
    tp2("no-data", {"schema": PD}, r"self-describing"),
    tp2("not-payload-data", {"schema": ACME, "data": []}, r"payload_data: the body must be a payload_data"),
    tp2("data-not-array", {"schema": PD, "data": {"e": "pv"}}, r"type: .* is not of type array"),
    tp2("data-empty", payload(), r"minItems|should be non-empty|too short"),
    tp2("item-not-object", payload(1), r"is not of type object"),
    tp2("item-null", payload(None), r"is not of type object"),
    tp2("empty-body", b"", r"required: empty body"),
    tp2("whitespace-body", b"  \n ", r"required: empty body"),
    tp2("invalid-utf8", b'{"schema": "\xff\xfe"}', r"utf-8: the body is not UTF-8 at byte 12"),
    tp2("latin1-body", json.dumps(payload(event(aid="caf\u00e9"))).encode("latin-1", "replace")
        .replace(b"\\u00e9", b"\xe9"), r"utf-8: the body is not UTF-8"),
    tp2("nul-bytes", b"\x00\x00\x00", r"json: the body is not valid JSON"),
    tp2("nul-inside-string", payload(event(aid="a\u0000b")), None),
    tp2("nesting-10000", deep(10_000).encode(), r"json: .*depth"),
    tp2("nesting-300-in-field", b'{"schema": "' + PD.encode() + b'", "data": [{"e": "pv", "p": "web", '
        b'"tv": "x", "deep": ' + deep(300).encode() + b"}]}",
        r"storage: parts of this event could not be stored"),
    tp2("content-type-text", payload(event()), r'content-type: content type "text/plain"',
        content_type="text/plain"),
    tp2("content-type-missing", payload(event()), r"content-type: content type missing", content_type=None),
    tp2("content-type-form", payload(event()), r"content-type: .*x-www-form-urlencoded",
        content_type="application/x-www-form-urlencoded"),
    tp2("unknown-e", payload(event(e="zz")), r'enum: "zz" is not a valid event type'),
    tp2("missing-e", payload({"p": "web", "tv": "x"}), r'e is missing|required property "e" is missing'),
    tp2("bad-dtm", payload(event(dtm="yesterday")), r"format: dtm \(device created\) must be a time"),
    tp2("bad-eid", payload(event(eid="not-a-uuid")), r"format: eid \(event id\) must be a UUID"),
    tp2("bad-res", payload(event(res="big")), r"format: res .* must be WIDTHxHEIGHT"),
    tp2("bad-platform", payload(event(p="moon")), r'"moon" is not a supported platform'),
    tp2("cx-invalid-base64", payload(event(cx="!!!!")), r"base64: cx: invalid base64url at offset 0"),
    tp2("cx-truncated-base64", payload(event(cx=samples.encode({"schema": samples.CONTEXTS})[:-3] + "A")),
        r"cx: (invalid JSON|truncated|decoded bytes)"),
    tp2("cx-one-char", payload(event(cx="Q")), r"base64: cx: truncated base64url"),
    tp2("cx-padding-inside", payload(event(cx="QQ==QQ")), r'padding "=" inside'),
    tp2("cx-not-utf8", payload(event(cx=base64url.encode(b"\xff\xfe"))),
        r"utf-8: cx: decoded bytes are not UTF-8"),
    tp2("cx-not-json", payload(event(cx=base64url.encode(b"hello"))), r"json: cx: invalid JSON"),
    tp2("cx-array", payload(event(cx=base64url.encode(b"[]"))), r"cx is not a self-describing JSON"),
    tp2("ue-px-invalid-base64", payload(event(e="ue", ue_px="%%%")), r"base64: ue_px: invalid base64url"),
    tp2("ue-px-truncated", payload(event(e="ue", ue_px=samples.encode({"a": 1})[:-2])), r"ue_px: "),
    tp2("co-invalid-json", payload(event(co="{not json")), r"json: co: invalid JSON"),
    tp2("co-deep", payload(event(co=deep(10_000))), r"json: co: invalid JSON.*depth"),
    tp2("ue-without-event", payload(event(e="ue")), r"needs ue_pr or ue_px"),
    tp2("iglu-http", payload(event(e="ue", ue_pr=unstruct("http://evil.example/schema.json"))), NOT_IGLU),
    tp2("iglu-dotdot", payload(event(e="ue", ue_pr=unstruct("iglu:com.acme/../../etc/jsonschema/1-0-0"))),
        NOT_IGLU),
    tp2("iglu-file", payload(event(e="ue", ue_pr=unstruct("file:///etc/passwd"))), NOT_IGLU),
    tp2("iglu-dotted-version", payload(event(e="ue", ue_pr=unstruct("iglu:com.acme/x/jsonschema/1.0.0"))),
        NOT_IGLU),
    tp2("iglu-empty", payload(event(e="ue", ue_pr=unstruct(""))), NOT_IGLU),
    tp2("iglu-extra-segment", payload(event(e="ue", ue_pr=unstruct("iglu:com.acme/x/jsonschema/1-0-0/x"))),
        NOT_IGLU),
    tp2("iglu-absolute-path", payload(event(e="ue", ue_pr=unstruct("/etc/passwd"))), NOT_IGLU),
    tp2("schema-invalid-data", payload(event(e="ue", ue_pr=unstruct(ACME, {"count": "many"}))),
        r'type: "many" is not of type integer'),
    tp2("contexts-10000", payload(event(co=contexts_of(10_000))), r"schema not found: iglu:com.acme/c"),
    tp2("over-the-limit", b"{" + b" " * (1024 * 1024 + 10) + b"}", r"size: the body is larger than the limit",
        status=413, answer=r"payload too large"),
    *WRONG_TYPES,
]

GET_CASES = [
    get("empty-query", "", r"required: empty querystring"),
    get("no-e", "p=web&tv=x", r"e is missing"),
    get("unknown-e", "e=zz&p=web&tv=x", r'"zz" is not a valid event type'),
    get("cx-invalid", "e=pv&p=web&tv=x&cx=!!!!", r"base64: cx: invalid base64url"),
    get("cx-truncated", "e=pv&p=web&tv=x&cx=Q", r"truncated base64url"),
    get("ue-px-invalid", "e=ue&p=web&tv=x&ue_px=%25%25", r"base64: ue_px"),
    get("co-invalid", "e=pv&p=web&tv=x&co=%7Bx", r"json: co: invalid JSON"),
    get("bad-dtm", "e=pv&p=web&tv=x&dtm=abc", r"dtm .* must be a time"),
    get("bad-vid", "e=pv&p=web&tv=x&vid=first", r"vid .* must be an integer"),
    get("invalid-percent-utf8", "e=%ff%fe&p=web&tv=x", r"is not a valid event type"),
    get("nul-in-e", "e=p%00v&p=web&tv=x", r"is not a valid event type"),
    get("repeated-e", "e=zz&e=pv&p=web&tv=x", r'"zz" is not a valid event type'),
    get("ice-no-query", "", r"required: empty querystring", path="/ice.png"),
    # Enrich has no adapter for com.acme/v1: AdapterRegistry fails the request before reading `e`
    # (research snowplow.md §1.4, adapter_failures; issue 19).
    get("vendor-path-bad", "e=zz", r"adapter: vendor/version combination is not supported: com.acme/v1",
        path="/com.acme/v1"),
    get("tp2-get-bad", "e=zz", r"not a valid event type", path=TP2),
    get("deep-co", "e=pv&p=web&tv=x&co=" + "%5B" * 5000, r"json: co: invalid JSON"),
    get("huge-query", "e=pv&p=web&tv=x&aid=" + "a" * (1024 * 1024 + 100), r"size: the query string is",
        status=414),
    get("iglu-not-iglu", "e=ue&p=web&tv=x&ue_pr=" + quote(unstruct("ftp://x/y"), safe=""), NOT_IGLU),
]

EVENTGATE_CASES = [
    eventgate("empty", b"", 400, r"required: " + EMPTY_EG, answer=EMPTY_EG),
    eventgate("empty-object", {}, 400, EMPTY_EG),
    eventgate("empty-array", [], 400, EMPTY_EG),
    # Broken JSON: EventGate's error handler answers body-parser's SyntaxError with a 500.
    eventgate("invalid-json", b"{nope", 500, r"json: The request body is not valid JSON",
              answer="SyntaxError"),
    eventgate("truncated-json", b'[{"$schema": "/a/b/1.0.0"', 500, r"not valid JSON",
              answer="Unexpected end of JSON input"),
    # body-parser replaces bytes that are not UTF-8, then looks for meta.stream.
    eventgate("invalid-utf8", b'{"$schema": "\xff"}', 500, r"Field\(s\) meta.stream were missing"),
    eventgate("nul-bytes", b"\x00\x00", 500, r"not valid JSON.*starts with \"\\u0000\""),
    eventgate("text-plain-invalid", b"x", 500, r"not valid JSON", content_type="text/plain"),
    eventgate("wrong-content-type", b'{"$schema": "/a/1.0.0"}', 400, r"content-type: .*text/html",
              content_type="text/html"),
    eventgate("number", b"7", 500, r"json: .*wants an object or an array", answer="SyntaxError"),
    eventgate("array-of-numbers", [1, 2], 500, r"An event must be a JSON object"),
    eventgate("string", b'"event"', 500, r"json: .*starts with", answer="SyntaxError"),
    eventgate("array-of-strings", b'["event"]', 500, r"An event must be a JSON object, not a string"),
    eventgate("no-stream", {"$schema": "/a/1.0.0"}, 500, r"Field\(s\) meta.stream were missing"),
    eventgate("no-schema", {"meta": {"stream": "s"}}, 500,
              r"Field\(s\) \$schema,meta.schema_uri were missing"),
    eventgate("schema-dotdot", {"$schema": "/../../etc/passwd/1.0.0", "meta": {"stream": "s"}}, 500,
              r'"\.\." and "\." are not allowed'),
    eventgate("schema-absolute-file", {"$schema": "file:///etc/passwd", "meta": {"stream": "s"}}, 500,
              r"other hosts and URI schemes are not allowed"),
    eventgate("schema-other-host", {"$schema": "http://127.0.0.2:1/schema/1.0.0",
                                    "meta": {"stream": "s"}}, 500,
              r"other hosts and URI schemes are not allowed"),
    eventgate("schema-backslash", {"$schema": "/a\\..\\b/1.0.0", "meta": {"stream": "s"}}, 500,
              r"backslashes"),
    eventgate("schema-meta-uri", {"meta": {"schema_uri": "../../x", "stream": "s"}}, 500,
              r"not allowed"),
    eventgate("nesting-10000", deep(10_000).encode(), 400, r"depth: .*not valid JSON.*depth"),
    eventgate("nesting-300", ('{"$schema": "/a/1.0.0", "meta": {"stream": "s"}, "x": ' + deep(300)
                              + "}").encode(), 500, r"."),
    eventgate("over-the-limit", b"[" + b" " * (1024 * 1024 + 10) + b"]", 413, r"size: the body is larger"),
]

BEACON_CASES = [
    beacon("no-query", "", r"required: the beacon has no query string"),
    beacon("not-json", "hello;", r"json: the query string is not a URL-encoded JSON"),
    beacon("not-object", "%5B1%5D;", r"type: the beacon's capsule must be a JSON object"),
    beacon("no-schema", "%7B%22event%22%3A%7B%7D%7D;", r"the capsule needs \"schema\""),
    beacon("schema-dotdot", "%7B%22schema%22%3A%22..%2F..%2Fetc%22%7D;", r"the capsule needs \"schema\""),
    beacon("invalid-utf8", "%ff%fe;", r"utf-8: the query string is not UTF-8"),
    beacon("deep", "%5B" * 5000 + ";", r"json: .*depth|not a URL-encoded JSON"),
    beacon("body-instead-of-query", "", r"the beacon has no query string", body=b'{"schema": "X"}'),
]

UNKNOWN_CASES = [
    Case("unknown-root", "GET", "/", 404, r"endpoint: snowcatcher has no endpoint for GET /",
         answer="no endpoint"),
    Case("unknown-collect", "POST", "/collect", 404, r"no endpoint for POST /collect", body=b"hello"),
    Case("unknown-put", "PUT", "/i", 404, r"no endpoint for PUT /i"),
    Case("unknown-delete", "DELETE", "/v1/events", 404, r"no endpoint for DELETE /v1/events"),
    Case("unknown-get-eventgate", "GET", "/v1/events", 404, r"no endpoint for GET /v1/events"),
    Case("unknown-patch", "PATCH", TP2, 404, r"no endpoint for PATCH"),
    Case("unknown-dotdot", "GET", "/%2E%2E/%2E%2E/etc/passwd", 404, r"no endpoint for GET"),
    Case("unknown-three-segments", "GET", "/nothing/here/at-all", 404, r"no endpoint"),
    Case("vendor-path-empty", "GET", "/nothing/here", 200, r"adapter: vendor/version combination is not "
         r"supported: nothing/here"),
]

FLOOD_CASES = [
    Case("header-flood-count", "GET", "/i", 431, r"size: the request has 3\d\d headers",
         query="e=pv&p=web&tv=x", headers={f"X-Flood-{n}": "v" for n in range(300)},
         answer="request header fields too large"),
    Case("header-flood-size", "GET", "/i", 431, r"size: the request has .* headers of \d+ bytes",
         query="e=pv&p=web&tv=x", headers={"X-Big": "v" * 100_000}),
    Case("header-flood-tp2", "POST", TP2, 431, r"size: the request has",
         body=json.dumps(payload(event())).encode(),
         headers={"Content-Type": JSON, **{f"X-F-{n}": "v" * 200 for n in range(400)}}),
]

CASES = [*TP2_CASES, *GET_CASES, *EVENTGATE_CASES, *BEACON_CASES, *UNKNOWN_CASES, *FLOOD_CASES]


def test_the_catalogue_has_at_least_a_hundred_cases() -> None:
    assert len(CASES) >= 100
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("iglu")
    target = folder / "com.acme" / "thing" / "jsonschema" / "1-0-0"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"type": "object", "properties": {"count": {"type": "integer"}}}))
    return folder


@pytest.fixture
async def server(schemas: Path) -> AsyncIterator[Snowcatcher]:
    catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, schemas=[schemas]))
    await catcher.start()
    yield catcher
    await catcher.stop()


async def send(http: aiohttp.ClientSession, base: str, case: Case) -> tuple[int, str]:
    url = URL(base + case.path + ("?" + case.query if case.query else ""), encoded=True)
    headers = {"Content-Type": "", **case.headers} if case.body else case.headers
    headers = {key: value for key, value in headers.items() if value}
    async with http.request(case.method, url, data=case.body or None, headers=headers,
                            skip_auto_headers=("Content-Type",)) as answer:
        body = await answer.read()
        return answer.status, (answer.reason or "") + " " + body.decode("utf-8", "replace")


#: A Python repr in a message: a single-quoted value ('moon', '') or None/True/False, where JSON
#: says "moon", "", null, true and false.
_PYTHON_REPR = re.compile(r"(?<![\w'])'[^'\n]*'(?![\w'])|\b(?:None|True|False)\b")


def python_repr(message: str) -> bool:
    return _PYTHON_REPR.search(message) is not None


def test_the_repr_detector_tells_python_from_json() -> None:
    for python in ("'zz' is not a valid event type", "got 'a lot'", "value None", "is True", "got ''"):
        assert python_repr(python), python
    for voiced in ('"zz" is not a valid event type', "got null", "isn't it", "the pipeline's field",
                   'got ""', "Trueness"):
        assert not python_repr(voiced), voiced


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_malformed_request(server: Snowcatcher, case: Case) -> None:
    async with aiohttp.ClientSession() as http:
        status, answer = await send(http, server.url, case)
        assert status == case.status, answer[:300]
        if case.answer:
            assert re.search(case.answer, answer), answer[:300]
        events = server.store.window(limit=20_000)
        assert events, "the request was not recorded"
        recorded = [f"{v.keyword}: {v.message}" for e in events for v in e.violations]
        assert not [line for line in [answer, *recorded] if python_repr(line)], [answer, *recorded][:5]
        if case.violation is None:
            assert all(e.valid for e in events), recorded[:5]
        else:
            assert any(re.search(case.violation, line) for line in recorded), recorded[:5]
        # ... and the collector is still up and still stores good events.
        async with http.get(server.url + "/i", params={**GOOD_EVENT, "aid": "after"}) as after:
            assert after.status == 200
    assert server.store.window(newest_first=True, limit=1)[0].app_id == "after"


async def test_nul_bytes_survive_storage_intact(server: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        body = json.dumps(payload(event(aid="a\u0000b", se_la="\u202e\u001b[2J"))).encode()
        async with http.post(server.url + TP2, data=body, headers={"Content-Type": JSON}) as answer:
            assert answer.status == 200
    [stored] = server.store.window()
    assert stored.app_id == "a\u0000b" and stored.payload["se_la"] == "\u202e\u001b[2J"


RAW_REQUESTS = [
    (b"GET /i?e=pv&p=web&tv=x HTTP/1.1\r\nHost: x\r\nX-Bad: \xff\xfe\xfd\r\n"
     b"Connection: close\r\n\r\n", 200, 1),
    (b"POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 5\r\nConnection: close\r\n\r\n{\"a\":", 200, 1),
    # Raw non-ASCII bytes in the request line are refused by aiohttp's parser before any handler
    # runs: a clear 400, recorded by snowcatcher.capture.unparseable (trackers percent-encode).
    (b"GET /i?e=pv&aid=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, 1),
    (b"GET /\xc3\x28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, 1),
]


@pytest.mark.parametrize(("request_bytes", "status", "recorded"), RAW_REQUESTS,
                         ids=["header-not-utf8", "short-body", "query-raw-bytes", "path-raw-bytes"])
async def test_raw_bytes_that_no_client_library_would_send(server: Snowcatcher, request_bytes: bytes,
                                                           status: int, recorded: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request_bytes)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert re.match(rb"HTTP/1\.[01] %d " % status, answer), answer[:200]
    await server.unparseable.drain()  # a refusal by the parser is stored just after its answer
    assert server.store.counts().total == recorded
    async with aiohttp.ClientSession() as http, http.get(server.url + "/i", params=GOOD_EVENT) as after:
        assert after.status == 200


@pytest.mark.parametrize(("path", "reason"), [
    ("/snowcatcher/api/events?filter=" + "x" * 60_000, "characters long; at most 4,096"),
    ("/snowcatcher/api/events?filter=" + quote(" ".join("t" for n in range(1200))),
     "has 1,200 terms; at most 200"),
    ("/snowcatcher/api/events?after=" + "9" * 25, "after must be between 0 and 9223372036854775807"),
    ("/snowcatcher/api/events?offset=" + "9" * 25, "offset must be between 0"),
    ("/snowcatcher/api/wait?count=" + "9" * 25, "count must be between 0"),
    ("/snowcatcher/api/events/" + "9" * 25, "an event id is between 0 and 9223372036854775807"),
], ids=["filter-60kb", "filter-1200-terms", "after-past-64-bits", "offset-past-64-bits",
        "count-past-64-bits", "event-id-past-64-bits"])
async def test_the_read_api_names_the_callers_mistake(server: Snowcatcher, path: str, reason: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(URL(server.url + path, encoded=True)) as answer:
        assert answer.status == 400, await answer.text()
        assert reason in (await answer.json())["error"]
