"""Metrics Platform events (product_metrics/web/base) over real HTTP, and how the TUI shows them."""

from __future__ import annotations

import copy
import io
import json

import aiohttp
import orjson
from rich.console import Console

from snowcatcher.model import JsonDict
from snowcatcher.runtime import Snowcatcher
from snowcatcher.tui import fields, views
from tests.wikimedia_support import PRIMARY, SECONDARY, needs_corpus, running

pytestmark = needs_corpus


def submit_interaction() -> JsonDict:
    """What the Metrics Platform client's submitInteraction('…', 'click', {…}) sends for a stream
    using the web base schema: the interaction fields plus the contextual attributes it adds."""
    return {
        "$schema": "/analytics/product_metrics/web/base/1.3.0",
        "dt": "2025-03-17T09:53:47.525Z",
        "meta": {"stream": "mediawiki.product_metrics.reading_list", "domain": "dev.wiki.local.wmftest.net"},
        "action": "click",
        "action_source": "toolbar",
        "action_context": "{\"button\":\"save\"}",
        "instrument_name": "ReadingListSaveButton",
        "agent": {"client_platform": "mediawiki_js", "client_platform_family": "desktop_browser",
                  "release_status": "dev"},
        "page": {"id": 1, "title": "Main_Page", "namespace_id": 0, "namespace_name": "",
                 "revision_id": 7, "content_language": "en", "is_redirect": False},
        "mediawiki": {"database": "my_wiki", "skin": "vector-2022", "version": "1.44.0-alpha",
                      "site_content_language": "en"},
        "performer": {"is_logged_in": True, "id": 1, "name": "Admin", "groups": ["*", "user", "sysop"],
                      "is_bot": False, "is_temp": False, "can_probably_edit_page": True,
                      "edit_count_bucket": "5-99 edits", "pageview_id": "a1b2c3d4e5f6a7b8c9d0",
                      "session_id": "0123456789abcdef0123"},
    }


async def post(catcher: Snowcatcher, events: object) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{catcher.url}/v1/events",
            data=orjson.dumps(events), headers={"Content-Type": "text/plain;charset=UTF-8"}) as answer:
        return answer.status, await answer.text()


async def test_a_submit_interaction_event_is_valid() -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        status, text = await post(catcher, [submit_interaction()])
        [stored] = catcher.store.window()
    assert status == 201, text
    assert stored.valid and stored.name == "mediawiki.product_metrics.reading_list"
    assert stored.schema == "/analytics/product_metrics/web/base/1.3.0"


async def test_a_broken_submit_interaction_event_is_invalid_with_ajvs_errors() -> None:
    event = copy.deepcopy(submit_interaction())
    event["agent"]["client_platform"] = "mediawiki_python"
    event["performer"]["is_logged_in"] = "yes"
    event["page"]["wiki"] = "my_wiki"       # page has additionalProperties: false
    del event["action"]                     # required by the base schema
    async with running(PRIMARY, SECONDARY) as catcher:
        status, text = await post(catcher, event)
        [stored] = catcher.store.window()
    assert status == 400
    item = json.loads(text)["invalid"][0]
    # AJV's order: the required list, then the properties in the schema's order (agent, page, performer).
    assert item["context"]["errorsText"] == (
        "'' should have required property 'action', "
        "'.agent.client_platform' should be equal to one of the allowed values, "
        "'.page' should NOT have additional properties, "
        "'.performer.is_logged_in' should be boolean")
    assert sorted(v.path for v in stored.violations) == [
        "", "/agent/client_platform", "/page", "/performer/is_logged_in"]


async def test_the_overview_shows_the_interaction_and_its_context_groups() -> None:
    async with running(PRIMARY, SECONDARY) as catcher:
        await post(catcher, submit_interaction())
        [stored] = catcher.store.window()
    groups = dict(fields.grouped(stored))
    assert list(groups)[:5] == ["interaction", "agent", "page", "mediawiki", "performer"]
    assert [row[0] for row in groups["interaction"]] == [
        "action", "action_source", "action_context", "instrument_name"]
    assert ("groups", "performer.groups", '["*", "user", "sysop"]') in groups["performer"]
    assert ("is_redirect", "page.is_redirect", "false") in groups["page"]
    console = Console(width=120, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(views.overview(stored))
    shown = capture.get()
    assert "ReadingListSaveButton" in shown and "vector-2022" in shown
    assert "True" not in shown and "False" not in shown  # JSON, not Python reprs
