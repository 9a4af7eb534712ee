"""The official browser tracker in headless Chromium, on a page of another origin, by POST and by GET."""

from __future__ import annotations

import pytest

from snowcatcher.model import CapturedEvent
from snowcatcher.runtime import Snowcatcher
from tests.browser_support import Page, send_from_browser


@pytest.mark.parametrize("method", ["post", "get"])
async def test_browser_tracker_events_are_stored_once_and_valid(
        catcher: Snowcatcher, page: Page, page_url: str, method: str) -> None:
    report = await send_from_browser(page, page_url, catcher.url, method)
    assert report["failures"] == [], (report, page.console())
    assert report["sent"] == 4

    events: list[CapturedEvent] = catcher.store.window()
    assert [(e.event_type, e.name) for e in events] == [
        ("page_view", "/"), ("struct", "add-to-basket"), ("unstruct", "email_sent"),
        ("unstruct", "link_click")], page.console()
    assert all(e.valid for e in events), [e.violations for e in events]
    assert len({e.payload["eid"] for e in events}) == 4, "an event was stored twice"
    # The v4 emitter may put events queued during a request into the next one: compare requests.
    to_collector = page.requests(lambda r: r.url.startswith(catcher.url) and r.method != "OPTIONS")
    assert len(to_collector) == len({e.request_id for e in events}), "the tracker sent a request again"

    page_view, struct, email_sent, link_click = events
    assert all(e.app_id == "snowcatcher-browser" and e.payload["p"] == "web" for e in events)
    assert all(e.payload["tv"].startswith("js-") for e in events)
    assert page_view.payload["url"] == page_url and page_view.payload["page"] == "Real clients"
    assert (struct.payload["se_ca"], struct.payload["se_la"], struct.payload["se_pr"],
            struct.payload["se_va"]) == ("shop", "sku-42", "red", "2.5")

    # Every event carries the web_page context with the page view's id.
    web_page_ids = {next(en.data["id"] for en in e.entities if en.schema.split("/")[1] == "web_page")
                    for e in events}
    assert len(web_page_ids) == 1
    assert email_sent.entities[0].data == {"emailAddress": "ada@example.com",
                                           "emailAddress2": "grace@example.com"}
    assert [en.schema.split("/")[1] for en in email_sent.entities[1:]] == [
        "gitlab_standard", "geolocation_context", "web_page"]
    assert email_sent.entities[2].data == {"latitude": 52.52, "longitude": 13.405}

    click = link_click.entities[0]
    assert link_click.schema.endswith("/link_click/jsonschema/1-0-1")
    assert click.data["targetUrl"] == f"{page_url}help/tracking#clients"
    assert (click.data["elementId"], click.data["elementClasses"]) == ("help", ["docs-link"])

    encoded = method == "get"  # v4: base64 by default for GET only
    assert {en.source for e in events for en in e.entities} == (
        {"ue_px", "cx"} if encoded else {"ue_pr", "co"})


@pytest.mark.parametrize("method", ["post", "get"])
async def test_cors_with_credentials_is_answered_for_the_page_origin(
        catcher: Snowcatcher, page: Page, page_url: str, method: str) -> None:
    await send_from_browser(page, page_url, catcher.url, method)
    origin = page_url.rstrip("/")
    stored = catcher.store.window()
    requests = [catcher.store.request(event.request_id) for event in stored]
    assert all(r is not None for r in requests)
    for request in requests:
        assert request is not None
        assert request.request.method == method.upper()
        assert request.request.path == ("/i" if method == "get" else "/com.snowplowanalytics.snowplow/tp2")
        assert request.request.header("Origin") == origin
        assert request.response.status == 200
