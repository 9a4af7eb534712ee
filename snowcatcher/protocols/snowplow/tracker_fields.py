"""The Snowplow tracker-protocol parameters: event types, human names and the formats Enrich enforces."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from snowcatcher.model import Violation
from snowcatcher.text import as_json

#: `e` -> Snowplow Micro's event_type.
EVENT_TYPES = {
    "pv": "page_view",
    "pp": "page_ping",
    "se": "struct",
    "ev": "struct",
    "ue": "unstruct",
    "tr": "transaction",
    "ti": "transaction_item",
    "ad": "ad_impression",
}

#: The schema Enrich gives events that are not self-describing (event_vendor/name/format/version).
BUILTIN_SCHEMAS = {
    "page_view": "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0",
    "page_ping": "iglu:com.snowplowanalytics.snowplow/page_ping/jsonschema/1-0-0",
    "struct": "iglu:com.google.analytics/event/jsonschema/1-0-0",
    "transaction": "iglu:com.snowplowanalytics.snowplow/transaction/jsonschema/1-0-0",
    "transaction_item": "iglu:com.snowplowanalytics.snowplow/transaction_item/jsonschema/1-0-0",
    "ad_impression": "iglu:com.snowplowanalytics.snowplow/ad_impression/jsonschema/1-0-0",
}

PLATFORMS = ("web", "mob", "pc", "srv", "app", "tv", "cnsl", "iot")

#: The legacy `ev_*` names of structured-event fields.
LEGACY_ALIASES = {"ev_ca": "se_ca", "ev_ac": "se_ac", "ev_la": "se_la", "ev_pr": "se_pr",
                  "ev_va": "se_va"}

_INTEGER = re.compile(r"^-?[0-9]+\Z")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_DIMENSIONS = re.compile(r"^[0-9]+x[0-9]+\Z")

_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    **{name: (_INTEGER, "a time in milliseconds since the epoch") for name in ("dtm", "stm", "ttm")},
    **{name: (_INTEGER, "an integer") for name in ("pp_mix", "pp_max", "pp_miy", "pp_may", "vid",
                                                    "cd", "ti_qu")},
    **{name: (_UUID, "a UUID") for name in ("eid", "sid")},
    **{name: (_DIMENSIONS, "WIDTHxHEIGHT") for name in ("res", "vp", "ds")},
    **{name: (_DECIMAL, "a number") for name in ("se_va", "tr_tt", "tr_tx", "tr_sh", "ti_pr")},
}

#: Tracker parameter -> (the atomic text field Enrich puts it in as sent, that field's maxLength in
#: iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0): the one table of atomic text fields
#: (enriched.py's mapping is read from it; `ti_na` is Enrich's legacy alias of `ti_nm`). The
#: pipeline rejects an event with a longer value (an enrichment failure), so we report it. Lengths
#: are counted in code points, never more than Java's UTF-16 units: a value we pass is never one the
#: pipeline drops.
ATOMIC_LIMITS: dict[str, tuple[str, int]] = {
    "aid": ("app_id", 255), "p": ("platform", 255), "eid": ("event_id", 36),
    "tna": ("name_tracker", 128), "tv": ("v_tracker", 100), "uid": ("user_id", 255),
    "ip": ("user_ipaddress", 128), "fp": ("user_fingerprint", 128), "duid": ("domain_userid", 128),
    "nuid": ("network_userid", 128), "tnuid": ("network_userid", 128), "sid": ("domain_sessionid", 128),
    "url": ("page_url", 4096), "page": ("page_title", 2000), "refr": ("page_referrer", 4096),
    "se_ca": ("se_category", 1000), "se_ac": ("se_action", 1000), "se_la": ("se_label", 4096),
    "se_pr": ("se_property", 1000), "tr_id": ("tr_orderid", 255), "tr_af": ("tr_affiliation", 255),
    "tr_ci": ("tr_city", 255), "tr_st": ("tr_state", 255), "tr_co": ("tr_country", 255),
    "tr_cu": ("tr_currency", 3), "ti_id": ("ti_orderid", 255), "ti_sk": ("ti_sku", 255),
    "ti_nm": ("ti_name", 255), "ti_na": ("ti_name", 255), "ti_ca": ("ti_category", 255),
    "ti_cu": ("ti_currency", 3), "ua": ("useragent", 1000), "lang": ("br_lang", 255),
    "cd": ("br_colordepth", 12), "tz": ("os_timezone", 255), "cs": ("doc_charset", 128),
}
#: The parts Enrich splits `url` and `refr` into, and their atomic fields' maxLength.
URL_PART_LIMITS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "url": (("hostname", "page_urlhost", 255), ("path", "page_urlpath", 3000),
            ("query", "page_urlquery", 6000), ("fragment", "page_urlfragment", 3000)),
    "refr": (("hostname", "refr_urlhost", 255), ("path", "refr_urlpath", 6000),
             ("query", "refr_urlquery", 6000), ("fragment", "refr_urlfragment", 3000)),
}
#: No part of a URL this short can exceed its field's limit (the smallest is the host's 255).
_SHORTEST_URL_PART_LIMIT = 255

#: The groups the Overview shows tracker parameters in, in order (others go under "other").
FIELD_GROUPS = ("event", "app", "user", "page", "browser", "timestamps", "other")
#: Parameter -> (group, human name): the Overview's rows and the names in violation messages.
FIELDS: dict[str, tuple[str, str]] = {
    "e": ("event", "event type"), "eid": ("event", "event id"),
    "se_ca": ("event", "category"), "se_ac": ("event", "action"), "se_la": ("event", "label"),
    "se_pr": ("event", "property"), "se_va": ("event", "value"),
    "ue_px": ("event", "self-describing event (base64)"), "ue_pr": ("event", "self-describing event"),
    "cx": ("event", "contexts (base64)"), "co": ("event", "contexts"),
    "pp_mix": ("event", "ping min x offset"), "pp_max": ("event", "ping max x offset"),
    "pp_miy": ("event", "ping min y offset"), "pp_may": ("event", "ping max y offset"),
    "aid": ("app", "app id"), "p": ("app", "platform"), "tna": ("app", "tracker namespace"),
    "tv": ("app", "tracker version"),
    "uid": ("user", "user id"), "duid": ("user", "domain user id"), "nuid": ("user", "network user id"),
    "tnuid": ("user", "network user id (tracker)"), "sid": ("user", "session id"),
    "vid": ("user", "session index"), "ip": ("user", "IP address"),
    "url": ("page", "page URL"), "page": ("page", "page title"), "refr": ("page", "referrer"),
    "ua": ("browser", "user agent"), "lang": ("browser", "language"),
    "cookie": ("browser", "cookies enabled"), "cd": ("browser", "color depth"), "cs": ("browser", "charset"),
    "ds": ("browser", "document size"),
    "vp": ("browser", "viewport"), "res": ("browser", "screen resolution"),
    "tz": ("browser", "time zone"), "f_pdf": ("browser", "PDF plugin"),
    "dtm": ("timestamps", "device created"), "stm": ("timestamps", "device sent"),
    "ttm": ("timestamps", "true timestamp"), "rtm": ("timestamps", "relay time"),
}
#: Human names for error messages.
FIELD_NAMES = {name: human for name, (_group, human) in FIELDS.items()}


def event_type_of(e: str | None) -> tuple[str | None, Violation | None]:
    """Micro's event_type for an `e` value, or the violation saying what is wrong with it."""
    if e is None or e == "":
        return None, Violation("event", "/e", "required",
                               "e is missing: every event needs an event type "
                               f"({', '.join(EVENT_TYPES)})")
    event_type = EVENT_TYPES.get(e)
    if event_type is None:
        return None, Violation("event", "/e", "enum",
                               f"{as_json(e)} is not a valid event type (expected one of "
                               f"{', '.join(EVENT_TYPES)})")
    return event_type, None


#: Per parameter with a rule: its format's pattern (or None) and the length past which it may be
#: too long (its limit; for a URL, past which one of its parts may be). One pass over an event's
#: parameters with this table finds the (usual) event that breaks no rule.
_QUICK_RULES: dict[str, tuple[re.Pattern[str] | None, int]] = {
    name: (_FORMATS[name][0] if name in _FORMATS else None,
           min(ATOMIC_LIMITS[name][1], _SHORTEST_URL_PART_LIMIT) if name in URL_PART_LIMITS
           else ATOMIC_LIMITS[name][1] if name in ATOMIC_LIMITS else 1 << 62)
    for name in _FORMATS.keys() | ATOMIC_LIMITS.keys()
}


def _may_break_a_rule(params: dict[str, object]) -> bool:
    """False when no parameter can break a rule field_violations checks (none of its checks
    would find anything); True when one may."""
    for name, value in params.items():
        rule = _QUICK_RULES.get(name)
        if rule is not None and isinstance(value, str) and value and (
                len(value) > rule[1] or (rule[0] is not None and not rule[0].match(value))):
            return True
    platform = params.get("p")
    return isinstance(platform, str) and bool(platform) and platform not in PLATFORMS


def field_violations(params: dict[str, object]) -> list[Violation]:
    """Parameters whose value breaks the format the pipeline expects (Enrich rejects such events)."""
    if not _may_break_a_rule(params):
        return []
    found = []
    # The few parameters that have a format, in a fixed order (a set intersection beats a loop over all).
    for name in sorted(params.keys() & _FORMATS.keys()):
        value = params[name]
        if not isinstance(value, str):
            continue  # payload_data validation reports non-strings
        rule = _FORMATS[name]
        if value and not rule[0].match(value):
            found.append(Violation("event", f"/{name}", "format",
                                   f"{name} ({FIELD_NAMES.get(name, name)}) must be {rule[1]}, "
                                   f"got {as_json(_clip(value))}"))
    for name in sorted(params.keys() & ATOMIC_LIMITS.keys()):
        value = params[name]
        if isinstance(value, str):
            found.extend(_length_violations(name, value))
    platform = params.get("p")
    if isinstance(platform, str) and platform and platform not in PLATFORMS:
        found.append(Violation("event", "/p", "enum",
                               f"{as_json(_clip(platform))} is not a supported platform (expected one of "
                               f"{', '.join(PLATFORMS)})"))
    return found


#: Enrich's limit for network_userid (the atomic events table's column).
NETWORK_USER_ID_MAX = 128
# RFC 6265 cookie-octets: what a collector can echo into its `sp` cookie without adding attributes
# (`;`), breaking the header (CR, LF) or splitting it (`,`).
_COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$")


def is_network_user_id(value: str) -> bool:
    """True for a network user id a collector sets as its cookie: a UUID, as it makes them itself."""
    return bool(_UUID.match(value))


def network_user_id_violation(value: str) -> Violation | None:
    """The violation for a `nuid` query parameter that the pipeline cannot carry: longer than Enrich's
    column, or characters that a collector echoing it into `Set-Cookie` would turn into cookie
    attributes or a broken header. Other non-UUID values are accepted, as Snowplow accepts them."""
    if not value or (len(value) <= NETWORK_USER_ID_MAX and _COOKIE_VALUE.match(value)):
        return None
    shown = as_json(_clip(value))
    reason = (f"is {len(value)} characters, longer than the {NETWORK_USER_ID_MAX} Enrich keeps"
              if len(value) > NETWORK_USER_ID_MAX else
              "holds characters a cookie value cannot (space, ; , \" \\ or control characters)")
    return Violation("request", "/nuid", "format",
                     f"nuid (network user id) {shown} {reason}: a collector would write it into its "
                     "sp cookie header; snowcatcher did not (send a UUID)")


def _length_violations(name: str, value: str) -> list[Violation]:
    field, limit = ATOMIC_LIMITS[name]
    found = []
    if len(value) > limit:
        found.append(_too_long(name, field, len(value), limit))
    if name in URL_PART_LIMITS and len(value) > _SHORTEST_URL_PART_LIMIT:
        try:
            parts = urlsplit(value)
        except ValueError:
            return found  # a malformed URL: Enrich's URL parsing reports it, not a length
        for part, part_field, part_limit in URL_PART_LIMITS[name]:
            size = len(getattr(parts, part) or "")
            if size > part_limit:
                found.append(_too_long(name, part_field, size, part_limit, part))
    return found


def _too_long(name: str, field: str, size: int, limit: int, part: str = "") -> Violation:
    what = f"the {'host' if part == 'hostname' else part} of {name}" if part else name
    return Violation("event", f"/{name}", "maxLength",
                     f"{what} ({FIELD_NAMES.get(name, name)}) is {size:,} characters long, more than "
                     f"the {limit:,} of the pipeline's atomic field {field}: Enrich rejects the event")


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
