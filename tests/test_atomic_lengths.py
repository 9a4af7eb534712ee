"""Atomic field lengths: a value longer than the pipeline's atomic event schema allows is a violation."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent
from snowcatcher.protocols.snowplow.enriched import CANONICAL_FIELDS, enriched_event
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


#: Every parameter of the Snowplow tracker protocol that a tracker sends as text or a number.
TRACKER_PARAMETERS = (
    "e", "eid", "tid", "aid", "p", "tna", "tv", "dtm", "stm", "ttm", "tz", "uid", "duid", "nuid", "tnuid",
    "ip", "fp", "sid", "vid", "ua", "url", "page", "refr", "lang", "cs", "cd", "cookie", "res", "vp", "ds",
    "f_pdf", "f_fla", "f_java", "f_dir", "f_qt", "f_realp", "f_wma", "f_gears", "f_ag", "se_ca", "se_ac",
    "se_la", "se_pr", "se_va", "tr_id", "tr_af", "tr_tt", "tr_tx", "tr_sh", "tr_ci", "tr_st", "tr_co",
    "tr_cu", "ti_id", "ti_sk", "ti_nm", "ti_na", "ti_ca", "ti_pr", "ti_qu", "ti_cu", "pp_mix", "pp_max",
    "pp_miy", "pp_may",
)


def _carried_as_text() -> dict[str, str]:
    """parameter -> the atomic field Micro's enriched event holds its value in, as sent."""
    carried = {}
    for name in TRACKER_PARAMETERS:
        marker = f"https://example.test/?{name}"  # a URL, so that url and refr are carried whole
        captured = CapturedEvent(protocol=PROTOCOL_SNOWPLOW, event_type="struct", name="x", schema="",
                                 app_id="", payload={"e": "se", name: marker}, received_at=1742268163.5)
        fields = [field for field, value in enriched_event(captured).items() if value == marker]
        assert len(fields) <= 1, fields
        if fields:
            carried[name] = fields[0]
    return carried


def test_the_enriched_event_and_the_length_checks_read_one_table_of_atomic_text_fields() -> None:
    """A parameter the enriched event carries into an atomic text field has that field's limit checked
    (ti_na, Enrich's alias of ti_nm, was carried into ti_name unchecked), and every checked limit is
    for the field the parameter lands in."""
    carried = _carried_as_text()
    assert {name: field for name, (field, _limit) in ATOMIC_LIMITS.items()} == carried
    assert carried["ti_na"] == carried["ti_nm"] == "ti_name"
    assert set(carried.values()) <= set(CANONICAL_FIELDS)
