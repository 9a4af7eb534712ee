"""What MediaWiki's PHP sends through EventBus: a JSON array POSTed to /v1/events, answered and stored."""

from __future__ import annotations

import aiohttp
import orjson

from snowcatcher.model import JsonDict
from tests.wikimedia_support import PRIMARY, SECONDARY, needs_corpus, running

pytestmark = needs_corpus

# EventBus::send (mediawiki-extensions-EventBus includes/EventBus.php): one POST per batch, the
# body a JSON array of events, headers `content-type: application/json` and, with
# x_client_ip_forwarding_enabled, `x-client-ip`; MultiHttpClient adds its User-Agent.
EVENTBUS_HEADERS = {"content-type": "application/json", "x-client-ip": "172.18.0.1",
                    "User-Agent": "MediaWiki/1.44.0-alpha"}


def submitted_from_php() -> list[JsonDict]:
    """Two events as EventLogging's EventBusEventSubmitter::prepareEvent leaves them: meta.stream,
    meta.domain, http.request_headers.user-agent, and dt unless the event has client_dt."""
    agent = {"request_headers": {"user-agent": "Mozilla/5.0 (the user's browser)"}}
    submit = {"$schema": "/test/event/1.0.0", "test": "from PHP", "http": agent,
              "meta": {"domain": "localhost", "stream": "test.event"}, "dt": "2025-03-17T09:53:47Z"}
    homepagevisit = {  # EventLogging::logEvent of a schema migrated to a $schema URI
        "$schema": "/analytics/legacy/homepagevisit/1.2.1", "schema": "HomepageVisit",
        "wiki": "my_wiki", "webHost": "localhost", "client_dt": "2025-03-17T09:53:47.000Z",
        "http": agent, "meta": {"domain": "localhost", "stream": "eventlogging_HomepageVisit"},
        "event": {"is_mobile": False, "user_editcount": 3, "user_id": 1,
                  "impact_module_state": "unactivated", "start_email_state": "noemail",
                  "homepage_pageview_token": "0123456789abcdef"}}
    return [submit, homepagevisit]


async def test_an_eventbus_batch_is_answered_and_stored_like_eventgate() -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        async with aiohttp.ClientSession() as http, http.post(
                f"{catcher.url}/v1/events", data=orjson.dumps(submitted_from_php()),
                headers=EVENTBUS_HEADERS) as answer:
            status, reason, body = answer.status, answer.reason, await answer.read()
        stored = catcher.store.window()
        request = catcher.store.request(stored[0].request_id)
    # EventBus treats 207 and >= 300 as "Unable to deliver all events"; 201 is success.
    assert (status, reason, body) == (201, "All 2 out of 2 events were accepted.", b"")
    assert [(e.protocol, e.name, e.valid) for e in stored] == [
        ("eventgate", "test.event", True), ("eventgate", "eventlogging_HomepageVisit", True)]
    homepagevisit = stored[1].payload
    assert homepagevisit["http"]["request_headers"]["user-agent"] == "Mozilla/5.0 (the user's browser)"
    assert homepagevisit["client_dt"] == "2025-03-17T09:53:47.000Z"
    assert {"meta.id", "meta.dt", "dt"} <= set(stored[1].filled)  # EventGate fills them
    assert request is not None and dict(request.request.headers)["x-client-ip"] == "172.18.0.1"
    assert len({e.request_id for e in stored}) == 1, "one POST, one stored request"


async def test_a_refused_event_in_an_eventbus_batch_gets_207() -> None:
    events = submitted_from_php()
    del events[1]["event"]["user_id"]
    async with running(PRIMARY, SECONDARY) as catcher, aiohttp.ClientSession() as http, http.post(
            f"{catcher.url}/v1/events", data=orjson.dumps(events), headers=EVENTBUS_HEADERS) as answer:
        assert answer.status == 207
        invalid = orjson.loads(await answer.read())["invalid"]
    assert invalid[0]["context"]["errorsText"] == "'.event' should have required property 'user_id'"
