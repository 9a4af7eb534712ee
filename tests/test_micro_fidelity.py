"""Field-level fidelity of /micro/good, /micro/bad and /micro/iglu with Snowplow Micro (Enrich)."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from snowcatcher.api.micro import collector_payload
from snowcatcher.model import RawRequest
from snowcatcher.runtime import Snowcatcher
from tests.conftest import post_events
from tests.data import TP2, body, struct


def _words(text: str) -> list[str]:
    return text.split()


#: The type of every field of Snowplow's atomic event schema
#: (iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0 in iglu-central); each is also
#: nullable except collector_tstamp, event_id, v_collector and v_etl.
ATOMIC_TYPES = {
    **dict.fromkeys(_words(
        "app_id platform etl_tstamp collector_tstamp dvce_created_tstamp event event_id name_tracker "
        "v_tracker v_collector v_etl user_id user_ipaddress user_fingerprint domain_userid "
        "network_userid geo_country geo_region geo_city geo_zipcode geo_region_name ip_isp "
        "ip_organization ip_domain ip_netspeed page_url page_title page_referrer page_urlscheme "
        "page_urlhost page_urlpath page_urlquery page_urlfragment refr_urlscheme refr_urlhost "
        "refr_urlpath refr_urlquery refr_urlfragment refr_medium refr_source refr_term mkt_medium "
        "mkt_source mkt_term mkt_content mkt_campaign se_category se_action se_label se_property "
        "tr_orderid tr_affiliation tr_city tr_state tr_country ti_orderid ti_sku ti_name ti_category "
        "useragent br_name br_family br_version br_type br_renderengine br_lang br_colordepth os_name "
        "os_family os_manufacturer os_timezone dvce_type doc_charset tr_currency ti_currency "
        "base_currency geo_timezone mkt_clickid mkt_network etl_tags dvce_sent_tstamp "
        "refr_domain_userid refr_dvce_tstamp domain_sessionid derived_tstamp event_vendor event_name "
        "event_format event_version event_fingerprint true_tstamp"), "string"),
    **dict.fromkeys(_words(
        "txn_id domain_sessionidx page_urlport refr_urlport ti_quantity pp_xoffset_min pp_xoffset_max "
        "pp_yoffset_min pp_yoffset_max br_viewwidth br_viewheight dvce_screenwidth dvce_screenheight "
        "doc_width doc_height"), "integer"),
    **dict.fromkeys(_words(
        "geo_latitude geo_longitude se_value tr_total tr_tax tr_shipping ti_price tr_total_base "
        "tr_tax_base tr_shipping_base ti_price_base"), "number"),
    **dict.fromkeys(_words(
        "br_features_pdf br_features_flash br_features_java br_features_director br_features_quicktime "
        "br_features_realplayer br_features_windowsmedia br_features_gears br_features_silverlight "
        "br_cookies dvce_ismobile"), "boolean"),
}
REQUIRED = {"collector_tstamp", "event_id", "v_collector", "v_etl"}
#: The self-describing JSON columns beside the atomic ones.
JSON_COLUMNS = {"contexts", "unstruct_event", "derived_contexts"}
#: Every tracker parameter that fills an atomic field.
EVERY_PARAMETER = {
    "e": "se", "eid": "0b5c6b9e-1f0e-4a52-9a2a-1d0f4f3c7c11", "tv": "js-4.10.1", "tna": "sp", "aid": "shop",
    "p": "web", "tid": "412", "uid": "user-1", "fp": "123", "duid": "d-1", "vid": "3",
    "sid": "6c0a9a7e-2b51-4f6c-8a0e-0b0e4d3c2a11", "url": "https://shop.example:8443/a?b=1#c",
    "page": "Cart", "refr": "http://ref.example/x", "se_ca": "cat", "se_ac": "act", "se_la": "lab",
    "se_pr": "prop", "se_va": "2.5", "tr_id": "o1", "tr_af": "aff", "tr_tt": "10.5", "tr_tx": "1",
    "tr_sh": "2", "tr_ci": "Paris", "tr_st": "IDF", "tr_co": "FR", "tr_cu": "EUR", "ti_id": "o1",
    "ti_sk": "sku", "ti_nm": "thing", "ti_ca": "stuff", "ti_pr": "3.25", "ti_qu": "2", "ti_cu": "EUR",
    "pp_mix": "0", "pp_max": "10", "pp_miy": "-5", "pp_may": "100", "lang": "en-GB", "cs": "UTF-8",
    "tz": "Europe/Paris", "cd": "24", "res": "1920x1080", "vp": "1200x800", "ds": "1200x3000",
    "f_pdf": "1", "f_fla": "0", "f_java": "0", "f_dir": "0", "f_qt": "0", "f_realp": "0", "f_wma": "0",
    "f_gears": "0", "f_ag": "0", "cookie": "1", "dtm": "1742268163016", "stm": "1742268163018",
    "ttm": "1742268163010",
}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,),
                                              "number": (int, float), "boolean": (bool,)}


async def read(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request("POST" if "json" in kwargs else "GET", url, **kwargs) as answer:
        return answer.status, await answer.json(content_type=None)


async def test_every_enriched_field_has_its_atomic_schema_type(plain_catcher: Snowcatcher,
                                                               http: aiohttp.ClientSession) -> None:
    assert await post_events(http, plain_catcher.url, EVERY_PARAMETER) == 200
    _, good = await read(http, plain_catcher.url + "/micro/good")
    event = good[0]["event"]
    assert set(event) == set(ATOMIC_TYPES) | JSON_COLUMNS
    for name, kind in ATOMIC_TYPES.items():
        value = event[name]
        if value is None:
            assert name not in REQUIRED, f"{name} is required by the atomic schema"
            continue
        assert isinstance(value, _PYTHON_TYPES[kind]), f"{name} is {value!r}, the schema says {kind}"
        assert kind == "boolean" or not isinstance(value, bool), f"{name} is {value!r}, not a {kind}"
    # The ones the issue names, and values each table gives.
    assert event["br_colordepth"] == "24" and event["derived_contexts"] == {}
    assert (event["txn_id"], event["domain_sessionidx"], event["ti_quantity"]) == (412, 3, 2)
    assert (event["pp_yoffset_min"], event["dvce_screenwidth"], event["doc_height"]) == (-5, 1920, 3000)
    assert (event["se_value"], event["tr_total"], event["ti_price"]) == (2.5, 10.5, 3.25)
    assert event["br_features_pdf"] is True and event["br_features_flash"] is False
    assert event["page_urlport"] == 8443 and event["refr_urlport"] == 80


async def test_numbers_python_reads_but_enrich_does_not_stay_null(plain_catcher: Snowcatcher,
                                                                  http: aiohttp.ClientSession) -> None:
    await post_events(http, plain_catcher.url, struct("odd", vid="1_000", se_va="NaN", tid=" 7", res="²x3",
                                                cd="thirty"))
    _, events = await read(http, plain_catcher.url + "/snowcatcher/api/events")
    _, one = await read(http, plain_catcher.url + f"/snowcatcher/api/events/{events['events'][0]['id']}")
    enriched = one["enriched"]
    assert (enriched["domain_sessionidx"], enriched["se_value"], enriched["txn_id"]) == (None, None, None)
    assert enriched["dvce_screenwidth"] is None and enriched["br_colordepth"] == "thirty"


async def test_event_id_is_a_uuid_made_up_once_per_stored_event(plain_catcher: Snowcatcher,
                                                                 http: aiohttp.ClientSession) -> None:
    """Enrich generates an event_id for events sent without `eid`; the same read twice gives the same one."""
    await post_events(http, plain_catcher.url, struct("first"), struct("second"))
    _, once = await read(http, plain_catcher.url + "/micro/good")
    _, again = await read(http, plain_catcher.url + "/micro/good")
    ids = [item["event"]["event_id"] for item in once]
    assert ids == [item["event"]["event_id"] for item in again]
    assert len(set(ids)) == 2 and all(str(uuid.UUID(value)) == value for value in ids)
    assert all("eid" not in item["rawEvent"]["parameters"] for item in once)
    sent = "9a8b7c6d-1234-4abc-8def-0123456789ab"
    await post_events(http, plain_catcher.url, struct("third", eid=sent))
    _, newest = await read(http, plain_catcher.url + "/micro/good", json={"limit": 1})
    assert newest[0]["event"]["event_id"] == sent


async def test_a_path_enrich_has_no_adapter_for_is_an_adapter_failure(plain_catcher: Snowcatcher,
                                                                      http: aiohttp.ClientSession) -> None:
    """Micro: a querystring event on /com.acme/track fails in AdapterRegistry ("vendor/version
    combination is not supported", research snowplow.md §1.4); the collector still answers 200."""
    async with http.get(plain_catcher.url + "/com.acme/track?e=pp&tv=js-4&p=web&aid=shop") as answer:
        assert answer.status == 200 and answer.content_type == "image/gif"
    for path in ("/i", "/ice.png", TP2):
        async with http.get(plain_catcher.url + path + "?e=pv&tv=js-4&p=web&url=http%3A%2F%2Fx%2F") as answer:
            assert answer.status == 200
    async with http.post(plain_catcher.url + "/com.acme/custom", json=body(struct("custom path")),
                         headers={"Content-Type": "application/json"}) as answer:
        assert answer.status == 200
    _, summary = await read(http, plain_catcher.url + "/micro/all")
    assert summary == {"total": 5, "good": 4, "bad": 1}
    _, bad = await read(http, plain_catcher.url + "/micro/bad")
    assert bad[0]["errors"][0] == ("Error while extracting event(s) from collector payload and "
                                   "validating it/them.")
    assert "vendor/version combination is not supported" in bad[0]["errors"][1]
    assert bad[0]["rawEvent"] is None
    assert bad[0]["collectorPayload"]["api"] == {"vendor": "com.acme", "version": "track"}
    assert plain_catcher.store.count() == 5  # every request is stored


async def test_a_tracker_protocol_failure_reads_as_in_micro(plain_catcher: Snowcatcher,
                                                            http: aiohttp.ClientSession) -> None:
    """Enrich's Tp2Adapter rejects the payload before any event exists: errors[0] is the extraction
    sentence and rawEvent is null; the CollectorPayload's query is Enrich's parsed (decoded)
    name=value pairs and its context carries the network user id (research snowplow.md §1.3)."""
    nuid = "5d8a9c41-7e2b-4c3d-9f10-aa11bb22cc33"
    async with http.post(plain_catcher.url + TP2 + "?url=http%3A%2F%2Fa.example%2F%3Fq%3D1&x=a+b",
                         json=body(struct("numbers", se_va=5)),  # type: ignore[arg-type]
                         headers={"Content-Type": "application/json", "Cookie": f"sp={nuid}"}) as answer:
        assert answer.status == 200
    _, bad = await read(http, plain_catcher.url + "/micro/bad")
    item = bad[0]
    assert item["errors"][0] == ("Error while extracting event(s) from collector payload and "
                                 "validating it/them.")
    assert item["rawEvent"] is None
    payload = item["collectorPayload"]
    assert payload["querystring"] == ["url=http://a.example/?q=1", "x=a b"]
    assert payload["context"]["userId"] == nuid
    # A finding of Enrich's (not the adapter's) keeps its raw event and the validation sentence.
    await post_events(http, plain_catcher.url, struct("words", se_va="lots"), Cookie=f"sp={nuid}")
    _, bad = await read(http, plain_catcher.url + "/micro/bad")
    assert bad[0]["errors"][0] == "Error while validating the event."
    assert bad[0]["rawEvent"]["context"]["userId"] == nuid == bad[0]["collectorPayload"]["context"]["userId"]


def test_the_user_id_of_a_stored_request_is_read_from_its_sp_cookie_as_the_collector_reads_it() -> None:
    """Without a kept id, Micro's CollectorPayload names the `sp` cookie the collector took, and
    none for a cookie it would not take (it answered with a new id, which was not kept)."""
    def payload(cookie: str) -> object:
        raw = RawRequest(method="POST", path=TP2, query="", headers=(("Cookie", cookie),), body=b"{}",
                         received_at=0.0)
        return collector_payload(raw)["context"]["userId"]

    nuid = "5d8a9c41-7e2b-4c3d-9f10-aa11bb22cc33"
    assert payload(f"theme=dark; sp={nuid}") == nuid
    assert payload("sp=a.b") is None and payload("sp=") is None


async def test_iglu_answers_in_micros_shape(plain_catcher: Snowcatcher, http: aiohttp.ClientSession) -> None:
    status, missing = await read(http, plain_catcher.url + "/micro/iglu/com.acme/nothing/jsonschema/1-0-0")
    assert status == 404
    assert missing["value"] and all(
        entry["errors"] == [{"error": "NotFound"}] and entry["attempts"] >= 1
        and entry["lastAttempt"].endswith("Z") for entry in missing["value"].values())
    async with http.get(plain_catcher.url + "/micro/iglu/com.acme/nothing/jsonschema/one") as answer:
        assert answer.status == 404
        assert (await answer.text()).startswith(
            "Schema lookup should be in format iglu/{vendor}/{schemaName}/jsonschema/"
            "{model}-{revision}-{addition}")
