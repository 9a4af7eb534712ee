"""The answer each request got is stored as sent (status, reason phrase, headers) before it is sent,
and a capture file written before snowcatcher recorded headers opens with them "not recorded"."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import aiohttp
import orjson

from snowcatcher.model import Response, StoredRequest, reason_phrase
from snowcatcher.redact import REDACTED, redacted_stored
from snowcatcher.runtime import Snowcatcher
from snowcatcher.store.store import Store
from tests.data import TP2, body, capture_without_answer_headers, event, request, struct

#: What the HTTP server adds on the wire to every answer; the rest is the stored answer's.
_WIRE_ONLY = {"date", "server", "content-length"}


async def _exchange(catcher: Snowcatcher, http: aiohttp.ClientSession, method: str, path: str,
                    **options: object) -> tuple[aiohttp.ClientResponse, StoredRequest]:
    async with http.request(method, catcher.url + path, **options) as answer:  # type: ignore[arg-type]
        await answer.read()
    last = catcher.store.get(catcher.store.last_id())
    assert last is not None
    stored = catcher.store.request(last.request_id)
    assert stored is not None
    return answer, stored


def _sent(answer: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    return [(name, value) for name, value in answer.headers.items() if name.lower() not in _WIRE_ONLY]


async def test_every_kind_of_answer_is_stored_as_it_was_sent(plain_catcher: Snowcatcher,
                                                             http: aiohttp.ClientSession) -> None:
    capsule = {"schema": "HomepageVisit", "revision": 1, "wiki": "devwiki", "event": {"a": 1}}
    exchanges = [
        ("POST", TP2, {"json": body(struct("one")), "headers": {"Origin": "https://shop.example"}}),
        ("GET", "/i?e=pv&tv=js-3&p=web", {}),
        ("POST", "/v1/events", {"json": [{"$schema": "/test/0.0.1", "meta": {"stream": "test.event"}}]}),
        ("POST", "/v1/events", {"data": b"[{", "headers": {"Content-Type": "application/json"}}),
        ("GET", "/beacon/event?" + urllib.parse.quote(json.dumps(capsule)) + ";", {}),
        ("DELETE", "/nowhere", {}),
    ]
    seen = {}
    for method, path, options in exchanges:
        answer, stored = await _exchange(plain_catcher, http, method, path, **options)
        assert stored.response.headers is not None, path
        assert list(stored.response.headers) == _sent(answer), path
        assert reason_phrase(stored.response) == answer.reason, path
        seen[path] = dict(stored.response.headers)
    posted = seen[TP2]
    assert posted["Access-Control-Allow-Origin"] == "https://shop.example"
    assert posted["Set-Cookie"].startswith("sp=") and "SameSite=None" in posted["Set-Cookie"]
    assert seen["/i?e=pv&tv=js-3&p=web"]["Cache-Control"].startswith("no-cache")
    assert seen["/v1/events"]["Access-Control-Allow-Origin"] == "*"  # EventGate's, fixed
    assert "Requested-Event-Valid" in next(headers for path, headers in seen.items()
                                           if path.startswith("/beacon"))


async def test_a_capture_from_before_headers_were_recorded_opens_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    await capture_without_answer_headers(path)
    store = Store(path)
    try:
        old = store.request(1)
        assert old is not None and old.response.headers is None and old.response.body == b"ok"
        sent = Response(207, b"", "application/json", "1 out of 2 events were accepted",
                        (("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")))
        await store.append(request(), sent, [event("after")])
        assert store.request(2) == StoredRequest(store.request(2).request, sent)  # type: ignore[union-attr]
    finally:
        store.close()


def test_cookies_an_answer_set_are_redacted_like_the_requests_but_the_trackers() -> None:
    stored = StoredRequest(request(), Response(200, headers=(
        ("Set-Cookie", "session=abc123; Path=/; HttpOnly"),
        ("Set-Cookie", "sp=5e3a0c57-9d1b-4f2e-8c6a-7b4d2e1f0a93; Max-Age=31536000; Path=/"),
        ("Content-Type", "text/plain"))))
    shown = redacted_stored(stored)
    assert shown is not None and shown.response.headers == (
        ("Set-Cookie", f"session={REDACTED}; Path=/; HttpOnly"),
        ("Set-Cookie", "sp=5e3a0c57-9d1b-4f2e-8c6a-7b4d2e1f0a93; Max-Age=31536000; Path=/"),
        ("Content-Type", "text/plain"))
    assert orjson.dumps(shown.response.headers).count(b"abc123") == 0
