"""The collector over real HTTP on 127.0.0.1: answers, headers, CORS, cookies, limits, nothing lost."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import aiohttp

from snowcatcher.capture.collector import PIXEL
from snowcatcher.protocols.snowplow import samples
from snowcatcher.runtime import Settings, Snowcatcher
from tests.data import TP2

JSON = {"Content-Type": "application/json; charset=UTF-8"}


async def test_health(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    async with http.get(catcher.url + "/health") as answer:
        assert answer.status == 200 and await answer.text() == "ok"


async def test_get_answers_the_pixel_without_caching(catcher: Snowcatcher,
                                                      http: aiohttp.ClientSession) -> None:
    for path in ("/i", "/ice.png", TP2):
        async with http.get(catcher.url + path, params={"e": "pv", "tv": "js", "p": "web"}) as answer:
            assert answer.status == 200 and answer.content_type == "image/gif"
            assert await answer.read() == PIXEL
            assert answer.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert catcher.store.counts().total == 3


async def test_post_is_stored_before_the_answer(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    body = samples.body(samples.gitlab_struct_event("i_quickactions_approve"))
    async with http.post(catcher.url + TP2, data=body, headers=JSON) as answer:
        assert answer.status == 200 and await answer.text() == "ok"
        # No waiting, no polling: a 200 means the event is already in the store.
        [event] = catcher.store.window()
    assert event.name == "i_quickactions_approve" and event.valid
    stored = catcher.store.request(event.request_id)
    assert stored is not None and stored.request.body == body and stored.response.status == 200


async def test_query_parameters_on_a_post_win(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    body = samples.body(samples.page_view(), samples.page_view())
    async with http.post(catcher.url + TP2 + "?aid=from-query", data=body, headers=JSON) as answer:
        assert answer.status == 200
    assert [e.app_id for e in catcher.store.window()] == ["from-query", "from-query"]


async def test_custom_post_path_with_payload_data_is_accepted(catcher: Snowcatcher,
                                                               http: aiohttp.ClientSession) -> None:
    async with http.post(catcher.url + "/-/collect_events", data=samples.body(samples.page_view()),
                         headers=JSON) as answer:
        assert answer.status == 200
    assert catcher.store.window()[0].event_type == "page_view"


async def test_cors_echoes_the_origin_with_credentials(catcher: Snowcatcher,
                                                       http: aiohttp.ClientSession) -> None:
    origin = {"Origin": "http://gdk.test:3000"}
    async with http.options(catcher.url + TP2, headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"}) as answer:
        assert answer.status == 200
        assert answer.headers["Access-Control-Allow-Origin"] == "http://gdk.test:3000"
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        assert answer.headers["Access-Control-Allow-Headers"] == "Content-Type, SP-Anonymous"
        assert int(answer.headers["Access-Control-Max-Age"]) > 0
    async with http.post(catcher.url + TP2, data=samples.body(samples.page_view()),
                         headers={**JSON, **origin}) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == "http://gdk.test:3000"
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert catcher.store.counts().total == 1, "a preflight is not an event"


async def test_network_user_cookie(catcher: Snowcatcher) -> None:
    query = {"e": "pv", "tv": "js", "p": "web"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(catcher.url + "/i", params=query) as answer:
            cookie = answer.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=None" in cookie
        nuid = cookie.split(";")[0].removeprefix("sp=")
        assert uuid.UUID(nuid).version == 4 and str(uuid.UUID(nuid)) == nuid
        async with http.get(catcher.url + "/i", params=query, headers={"Cookie": f"sp={nuid}"}):
            pass
        async with http.get(catcher.url + "/i", params={**query, "nuid": "from-param"}):
            pass
        async with http.get(catcher.url + "/i", params=query, headers={"SP-Anonymous": "*"}) as answer:
            assert "Set-Cookie" not in answer.headers
    first, second, third, anonymous = catcher.store.window()
    assert first.payload["nuid"] == second.payload["nuid"] == nuid and "nuid" in first.filled
    assert third.payload["nuid"] == "from-param" and "nuid" not in third.filled
    assert anonymous.payload["nuid"] == "00000000-0000-0000-0000-000000000000"
    assert catcher.store.request(anonymous.request_id).request.remote == ""  # type: ignore[union-attr]


async def test_oversized_body_is_refused_and_still_recorded(iglu: Path, tmp_path: Path) -> None:
    server = Snowcatcher(Settings(port=0, offline=True, schemas=[iglu], max_body=2048, cache_dir=None))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            body = samples.body(*[samples.page_view() for _ in range(10)])
            async with http.post(server.url + TP2, data=body, headers=JSON) as answer:
                assert answer.status == 413
                assert "larger than the limit of 2048 bytes" in await answer.text()
        [event] = server.store.window()
        assert event.event_type == "bad_request" and event.violations[0].keyword == "size"
        assert len(server.store.request(event.request_id).request.body) == 2048  # type: ignore[union-attr]
    finally:
        await server.stop()


async def test_wrong_content_type_is_answered_ok_and_flagged(catcher: Snowcatcher,
                                                             http: aiohttp.ClientSession) -> None:
    # The real collector answers 200 and the pipeline rejects the event later; we say why at once.
    async with http.post(catcher.url + TP2, data=samples.body(samples.page_view()),
                         headers={"Content-Type": "text/plain"}) as answer:
        assert answer.status == 200
    [event] = catcher.store.window()
    assert not event.valid and event.violations[0].keyword == "content-type"


async def test_unknown_paths_get_a_clear_404_and_are_recorded(catcher: Snowcatcher,
                                                              http: aiohttp.ClientSession) -> None:
    async with http.post(catcher.url + "/collect", data=b"hello") as answer:
        assert answer.status == 404 and "no endpoint for POST /collect" in await answer.text()
    [event] = catcher.store.window()
    assert event.event_type == "bad_request" and "POST /collect" in event.violations[0].message


async def test_concurrent_posts_all_land(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    async def send(index: int) -> int:
        body = samples.body(samples.gitlab_struct_event(f"i_action_{index}"))
        async with http.post(catcher.url + TP2, data=body, headers=JSON) as answer:
            return answer.status

    statuses = await asyncio.gather(*(send(i) for i in range(200)))
    assert statuses == [200] * 200
    names = {event.name for event in catcher.store.window(limit=500)}
    assert names == {f"i_action_{i}" for i in range(200)}


async def test_contexts_repeated_on_every_event_are_stored_once(catcher: Snowcatcher,
                                                                http: aiohttp.ClientSession) -> None:
    # GitLab sends the same gitlab_standard + web_page contexts with each event of a page.
    contexts = samples.gitlab_struct_event()["cx"]
    for index in range(10):
        body = samples.body(samples.gitlab_struct_event(f"i_action_{index}"),
                            {**samples.link_click(), "cx": contexts})
        async with http.post(catcher.url + TP2, data=body, headers=JSON) as answer:
            assert answer.status == 200
    events = catcher.store.window(limit=100)
    assert len(events) == 20 and all(event.valid for event in events)
    assert {tuple(e.schema for e in event.entities) for event in events} == {
        (samples.GITLAB_STANDARD, samples.WEB_PAGE),
        (samples.LINK_CLICK, samples.GITLAB_STANDARD, samples.WEB_PAGE)}
    with sqlite3.connect(catcher.store.path) as db:
        assert db.execute("SELECT count(*) FROM entity_sets").fetchone()[0] == 2
