"""Property tests: for any bytes, query string or JSON, decoding and validation return captured events
that the store accepts, and never raise."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snowcatcher.model import CapturedEvent, RawRequest, Response
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.protocols.snowplow import base64url, samples
from snowcatcher.store.store import Store
from snowcatcher.validate.iglu import Registry
from tests.data import TP2

JSON_HEADERS = (("Content-Type", "application/json"),)
INGESTOR = Ingestor(Registry(offline=True))
STORE = Store()
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30)
fields = st.sampled_from(["e", "p", "tv", "aid", "eid", "dtm", "co", "cx", "ue_pr", "ue_px", "res",
                          "se_ac", "se_va", "url", "vid"])
events = st.dictionaries(fields, st.text(max_size=40) | json_values, max_size=8)


def decode_all(raw: RawRequest) -> list[CapturedEvent]:
    """Every decoder over the request, as the collector would run them."""
    found = [*INGESTOR.redecode(INGESTOR.snowplow.decode_post, raw),
             *INGESTOR.redecode(INGESTOR.snowplow.decode_get, raw),
             *INGESTOR.eventgate_decoder.decode(raw).events,
             *INGESTOR.redecode(INGESTOR.eventlogging_decoder.decode, raw)]
    assert found and all(isinstance(event, CapturedEvent) for event in found)
    return found


def teardown_module() -> None:
    STORE.close()  # and its temporary file with it


def stored(raw: RawRequest, found: list[CapturedEvent]) -> None:
    kept = STORE.append_now(raw, Response(200), found)
    assert len(kept) == len(found)
    for event in kept:
        assert STORE.get(event.id) is not None


def request(body: bytes = b"", query: str = "") -> RawRequest:
    return RawRequest("POST", TP2, query, JSON_HEADERS, body, 0.0)


@FAST
@given(st.binary(max_size=2000))
def test_any_bytes(body: bytes) -> None:
    raw = request(body)
    stored(raw, decode_all(raw))


@FAST
@given(st.text(max_size=500))
def test_any_query_string(query: str) -> None:
    raw = request(query=query)
    stored(raw, decode_all(raw))


@FAST
@given(json_values)
def test_any_json_body(value: Any) -> None:
    raw = request(json.dumps(value).encode())
    stored(raw, decode_all(raw))


@FAST
@given(st.lists(events, min_size=1, max_size=4))
def test_any_payload_data(items: list[dict[str, Any]]) -> None:
    raw = request(json.dumps({"schema": samples.PAYLOAD_DATA, "data": items}).encode())
    found = decode_all(raw)
    assert sum(1 for event in found if event.protocol == "snowplow") >= len(items)
    stored(raw, found)


@FAST
@given(json_values, st.sampled_from(["cx", "ue_px"]))
def test_any_json_in_base64_parameters(value: Any, name: str) -> None:
    encoded = base64url.encode(json.dumps(value).encode())
    raw = request(query=f"e=ue&p=web&tv=x&{name}={encoded}")
    stored(raw, decode_all(raw))


@FAST
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.text(max_size=60))
def test_any_eventgate_event(event: dict[str, Any], schema: str) -> None:
    raw = request(json.dumps([{**event, "$schema": schema}]).encode())
    stored(raw, decode_all(raw))
