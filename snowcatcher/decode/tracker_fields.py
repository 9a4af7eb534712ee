"""The Snowplow tracker-protocol parameters: event types, human names and the formats Enrich enforces."""

from __future__ import annotations

import re

from snowcatcher.model import Violation

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

#: Human names for the Overview and for error messages.
FIELD_NAMES = {
    "e": "event type", "eid": "event id", "tv": "tracker version", "tna": "tracker namespace",
    "aid": "app id", "p": "platform", "dtm": "device created", "stm": "device sent",
    "ttm": "true timestamp", "tz": "time zone", "uid": "user id", "duid": "domain user id",
    "nuid": "network user id", "tnuid": "tracker network user id", "sid": "session id",
    "vid": "session index", "ip": "IP address", "ua": "user agent", "url": "page URL",
    "page": "page title", "refr": "referrer", "res": "screen resolution", "vp": "viewport",
    "ds": "document size", "cd": "color depth", "cs": "charset", "lang": "language",
    "cookie": "cookies enabled", "se_ca": "category", "se_ac": "action", "se_la": "label",
    "se_pr": "property", "se_va": "value", "pp_mix": "min x offset", "pp_max": "max x offset",
    "pp_miy": "min y offset", "pp_may": "max y offset", "ue_pr": "self-describing event",
    "ue_px": "self-describing event (base64)", "co": "contexts", "cx": "contexts (base64)",
}


def event_type_of(e: str | None) -> tuple[str | None, Violation | None]:
    """Micro's event_type for an `e` value, or the violation saying what is wrong with it."""
    if e is None or e == "":
        return None, Violation("event", "/e", "required",
                               "e is missing: every event needs an event type "
                               f"({', '.join(EVENT_TYPES)})")
    event_type = EVENT_TYPES.get(e)
    if event_type is None:
        return None, Violation("event", "/e", "enum",
                               f"{e!r} is not a valid event type (expected one of "
                               f"{', '.join(EVENT_TYPES)})")
    return event_type, None


def field_violations(params: dict[str, object]) -> list[Violation]:
    """Parameters whose value breaks the format the pipeline expects (Enrich rejects such events)."""
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
                                   f"got {_clip(value)!r}"))
    platform = params.get("p")
    if isinstance(platform, str) and platform and platform not in PLATFORMS:
        found.append(Violation("event", "/p", "enum",
                               f"{_clip(platform)!r} is not a supported platform (expected one of "
                               f"{', '.join(PLATFORMS)})"))
    return found


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
