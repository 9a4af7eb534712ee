"""A captured Snowplow event as the canonical enriched event (Enrich's atomic field names, no enrichments)."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from snowcatcher import __version__
from snowcatcher.model import CapturedEvent, JsonDict, RawRequest, iso_time
from snowcatcher.protocols.snowplow.tracker_fields import ATOMIC_LIMITS
from snowcatcher.validate.iglu import SchemaKey

CONTEXTS_URI = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"
UNSTRUCT_URI = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
VERSION_TAG = f"snowcatcher-{__version__}"

#: Every atomic field of the enriched event, in Enrich's order; the ones we cannot know stay null.
_CANONICAL = (
    "app_id platform etl_tstamp collector_tstamp dvce_created_tstamp event event_id txn_id "
    "name_tracker v_tracker v_collector v_etl user_id user_ipaddress user_fingerprint domain_userid "
    "domain_sessionidx network_userid geo_country geo_region geo_city geo_zipcode geo_latitude "
    "geo_longitude geo_region_name ip_isp ip_organization ip_domain ip_netspeed page_url page_title "
    "page_referrer page_urlscheme page_urlhost page_urlport page_urlpath page_urlquery "
    "page_urlfragment refr_urlscheme refr_urlhost refr_urlport refr_urlpath refr_urlquery "
    "refr_urlfragment refr_medium refr_source refr_term mkt_medium mkt_source mkt_term mkt_content "
    "mkt_campaign contexts se_category se_action se_label se_property se_value unstruct_event "
    "tr_orderid tr_affiliation tr_total tr_tax tr_shipping tr_city tr_state tr_country ti_orderid "
    "ti_sku ti_name ti_category ti_price ti_quantity pp_xoffset_min pp_xoffset_max pp_yoffset_min "
    "pp_yoffset_max useragent br_name br_family br_version br_type br_renderengine br_lang "
    "br_features_pdf br_features_flash br_features_java br_features_director br_features_quicktime "
    "br_features_realplayer br_features_windowsmedia br_features_gears br_features_silverlight "
    "br_cookies br_colordepth br_viewwidth br_viewheight os_name os_family os_manufacturer "
    "os_timezone dvce_type dvce_ismobile dvce_screenwidth dvce_screenheight doc_charset doc_width "
    "doc_height tr_currency tr_total_base tr_tax_base tr_shipping_base ti_currency ti_price_base "
    "base_currency geo_timezone mkt_clickid mkt_network etl_tags dvce_sent_tstamp "
    "refr_domain_userid refr_dvce_tstamp derived_contexts domain_sessionid derived_tstamp "
    "event_vendor event_name event_format event_version event_fingerprint true_tstamp"
)
CANONICAL_FIELDS = tuple(_CANONICAL.split())

#: Tracker parameters whose value an atomic text field holds as sent: the ones the length checks know
#: (tracker_fields.ATOMIC_LIMITS, the one table of atomic text fields and their limits), except those
#: filled with a fallback below (network_userid, user_ipaddress, useragent).
_FILLED_WITH_FALLBACK = frozenset({"nuid", "tnuid", "ip", "ua"})
_TEXT = {name: field for name, (field, _limit) in ATOMIC_LIMITS.items() if name not in _FILLED_WITH_FALLBACK}
TEXT_PARAMETERS = _TEXT
#: Atomic column -> the tracker parameter it is read from first (`ti_name` from `ti_nm`, not its
#: legacy alias `ti_na`).
PARAMETER_OF_COLUMN = {column: name for name, column in reversed(_TEXT.items())}
_INTEGERS = {"tid": "txn_id", "vid": "domain_sessionidx", "ti_qu": "ti_quantity",
             "pp_mix": "pp_xoffset_min", "pp_max": "pp_xoffset_max", "pp_miy": "pp_yoffset_min",
             "pp_may": "pp_yoffset_max"}
_NUMBERS = {"se_va": "se_value", "tr_tt": "tr_total", "tr_tx": "tr_tax", "tr_sh": "tr_shipping",
            "ti_pr": "ti_price"}
_TIMES = {"dtm": "dvce_created_tstamp", "stm": "dvce_sent_tstamp", "ttm": "true_tstamp"}
_FLAGS = {"f_pdf": "br_features_pdf", "f_fla": "br_features_flash", "f_java": "br_features_java",
          "f_dir": "br_features_director", "f_qt": "br_features_quicktime",
          "f_realp": "br_features_realplayer", "f_wma": "br_features_windowsmedia",
          "f_gears": "br_features_gears", "f_ag": "br_features_silverlight", "cookie": "br_cookies"}
_SIZES = {"res": ("dvce_screenwidth", "dvce_screenheight"), "vp": ("br_viewwidth", "br_viewheight"),
          "ds": ("doc_width", "doc_height")}
#: Enrich's integers and decimals: digits only (no `1_000`, ` 5`, `NaN` or `inf`, which Python would read).
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
#: The namespace of the event ids made up for events sent without `eid`.
_EVENT_ID_NAMESPACE = uuid.UUID("5b0c8e2e-7a39-4f0c-9d3c-4c1d2f6a1e90")


def enriched_event(event: CapturedEvent, request: RawRequest | None = None) -> JsonDict:
    """The canonical enriched event for a decoded Snowplow event; values Enrich would add stay null."""
    params = {k: v for k, v in event.payload.items() if isinstance(v, str)}
    fields: JsonDict = dict.fromkeys(CANONICAL_FIELDS)
    fields.update(_converted(params))
    fields.update(event=event.event_type, collector_tstamp=iso_time(event.received_at),
                  etl_tstamp=iso_time(event.received_at), v_collector=VERSION_TAG, v_etl=VERSION_TAG)
    fields["network_userid"] = params.get("tnuid") or params.get("nuid")
    fields["user_ipaddress"] = params.get("ip") or (request.remote if request else None) or None
    fields["useragent"] = params.get("ua") or (request.header("User-Agent") if request else None) or None
    fields.update(_url_parts("page", params.get("url")))
    fields.update(_url_parts("refr", params.get("refr")))
    fields.update(_schema_parts(event.schema))
    fields["derived_tstamp"] = _derived_tstamp(params, event.received_at)
    if not fields["event_id"]:
        fields["event_id"] = generated_event_id(event)
    # The analytics SDK writes an empty context list as {} (there are no enrichments to add any).
    fields["derived_contexts"] = {}
    fields["contexts"] = {"schema": CONTEXTS_URI, "data": [
        {"schema": e.schema, "data": e.data} for e in event.entities if e.role == "context"]}
    unstruct = next((e for e in event.entities if e.role == "event"), None)
    fields["unstruct_event"] = None if unstruct is None else {
        "schema": UNSTRUCT_URI, "data": {"schema": unstruct.schema, "data": unstruct.data}}
    return fields


def generated_event_id(event: CapturedEvent) -> str:
    """The UUID Enrich would generate for an event sent without `eid`: made from the stored event's
    request, position and arrival time, so each read of the same stored event gives the same id."""
    name = f"{event.request_id}/{event.index}/{event.received_at!r}"
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))


def _converted(params: dict[str, str]) -> JsonDict:
    out: JsonDict = {}
    tables: tuple[tuple[dict[str, str], Callable[[str], Any]], ...] = (
        (_TEXT, str), (_INTEGERS, _integer), (_NUMBERS, _decimal), (_TIMES, _millis_to_iso),
        (_FLAGS, _flag))
    for table, convert in tables:
        for name, target in table.items():
            value = params.get(name)
            if value is not None and value != "" and out.get(target) is None:
                # Untrusted input: a value in the wrong format is kept out, as Enrich would reject it.
                with contextlib.suppress(ValueError, OverflowError, OSError):
                    out[target] = convert(value)
    for name, (width, height) in _SIZES.items():
        w, sep, h = params.get(name, "").partition("x")
        if sep and _INTEGER.fullmatch(w) and _INTEGER.fullmatch(h):
            out[width], out[height] = int(w), int(h)
    return out


def _integer(value: str) -> int:
    if not _INTEGER.fullmatch(value):
        raise ValueError(value)
    return int(value)


def _decimal(value: str) -> float:
    if not _DECIMAL.fullmatch(value):
        raise ValueError(value)
    return float(value)


def _millis_to_iso(value: str) -> str:
    return iso_time(_integer(value) / 1000)


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(value)
    return value == "1"


def _url_parts(prefix: str, url: str | None) -> JsonDict:
    if not url:
        return {}
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return {}
    return {f"{prefix}_urlscheme": parts.scheme or None, f"{prefix}_urlhost": parts.hostname,
            f"{prefix}_urlport": port, f"{prefix}_urlpath": parts.path or None,
            f"{prefix}_urlquery": parts.query or None, f"{prefix}_urlfragment": parts.fragment or None}


def _schema_parts(uri: str) -> JsonDict:
    key = SchemaKey.parse(uri)
    if key is None:
        return {}
    return {"event_vendor": key.vendor, "event_name": key.name, "event_format": key.format,
            "event_version": key.version}


def _derived_tstamp(params: dict[str, str], received_at: float) -> str:
    """Enrich's rule: the true timestamp if sent, else the collector time corrected for the device's
    sending delay (stm - dtm), else the collector time."""
    try:
        if params.get("ttm"):
            return _millis_to_iso(params["ttm"])
        if params.get("dtm") and params.get("stm"):
            delay = (int(params["stm"]) - int(params["dtm"])) / 1000
            return iso_time(received_at - delay)
    except (ValueError, OverflowError, OSError):
        pass
    return iso_time(received_at)
