"""Atomic field lengths: a value longer than the pipeline's atomic event schema allows is a violation."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

from snowcatcher.protocols.snowplow.tracker_fields import ATOMIC_LIMITS
from snowcatcher.runtime import Snowcatcher
from tests.conftest import post_events
from tests.data import struct


async def _get_event(http: aiohttp.ClientSession, catcher: Snowcatcher, **params: str) -> Any:
    query = {"e": "se", "tv": "js-3", "p": "web", "se_ca": "c", "se_ac": "a", **params}
    async with http.get(URL(catcher.url + "/i").with_query(query)) as answer:
        assert answer.status == 200
    event = catcher.store.get(catcher.store.last_id())
    assert event is not None
    return event


async def test_a_label_longer_than_se_label_is_refused(catcher: Snowcatcher,
                                                       http: aiohttp.ClientSession) -> None:
    event = await _get_event(http, catcher, se_la="x" * 60_000)
    assert not event.valid
    [violation] = event.violations
    assert (violation.entity, violation.path, violation.keyword) == ("event", "/se_la", "maxLength")
    assert "60,000 characters" in violation.message and "4,096" in violation.message
    assert "se_label" in violation.message
    # at the limit exactly, the pipeline keeps it; code points count, not bytes
    assert (await _get_event(http, catcher, se_la="é" * 4096)).valid


async def test_url_parts_have_their_own_limits(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    url = "https://shop.example/" + "p" * 3500  # within page_url's 4096, over page_urlpath's 3000
    event = await _get_event(http, catcher, url=url)
    assert [(v.path, v.keyword) for v in event.violations] == [("/url", "maxLength")]
    assert "the path of url" in event.violations[0].message and "page_urlpath" in event.violations[0].message
    assert (await _get_event(http, catcher, url="https://shop.example/" + "p" * 2900)).valid


@pytest.mark.parametrize(("name", "field", "limit"), [(name, *rule) for name, rule in ATOMIC_LIMITS.items()
                                                      if name not in ("p", "eid", "sid", "cd")])
async def test_every_atomic_field_limit_is_checked(catcher: Snowcatcher, http: aiohttp.ClientSession,
                                                   name: str, field: str, limit: int) -> None:
    start = "https://shop.example/?q=" if name in ("url", "refr") else ""  # long in the query
    await post_events(http, catcher.url, struct("fits", **{name: start + "a" * (limit - len(start))}),
                      struct("too long", **{name: start + "a" * (limit + 1 - len(start))}))
    fits, too_long = catcher.store.after(catcher.store.last_id() - 2)
    assert not any(v.keyword == "maxLength" for v in fits.violations)
    assert [v.path for v in too_long.violations if v.keyword == "maxLength"] == [f"/{name}"]
    assert any(f"atomic field {field}:" in v.message for v in too_long.violations)
