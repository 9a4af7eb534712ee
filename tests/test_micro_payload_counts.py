"""/micro/all and /micro/bad count a payload the pipeline rejects as a whole once, as Micro does."""

from __future__ import annotations

import json

import aiohttp

from snowcatcher.runtime import Snowcatcher
from tests.conftest import post_events
from tests.data import TP2, body, struct


async def test_a_rejected_payload_is_one_bad_row(catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    # A tracker-protocol violation (the content type) rejects the whole two-event payload.
    async with http.post(catcher.url + TP2, data=json.dumps(body(struct("a"), struct("b"))),
                         headers={"Content-Type": "text/plain"}) as answer:
        assert answer.status == 200
    async with http.get(catcher.url + "/micro/all") as answer:
        assert await answer.json() == {"total": 1, "good": 0, "bad": 1}
    # Events invalid on their own are one bad row each; a valid one beside them stays good.
    await post_events(http, catcher.url, struct("c", se_va="x"), struct("d", se_va="y"), struct("e"))
    async with http.get(catcher.url + "/micro/all") as answer:
        assert await answer.json() == {"total": 4, "good": 1, "bad": 3}
    async with http.get(catcher.url + "/micro/bad") as answer:
        bad = await answer.json()
    assert len(bad) == 3
    assert catcher.store.counts().invalid == 4  # every event is still stored and shown
