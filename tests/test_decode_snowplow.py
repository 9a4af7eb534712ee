"""Decoding the tracker protocol: event types, encodings, batches, and every problem as a violation."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest

from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.protocols.snowplow import samples
from snowcatcher.protocols.snowplow.base64url import encode
from tests.data import write_schema
from tests.decoding import get, ingestor, keywords, post


@pytest.fixture
def ingest(iglu: Path) -> Ingestor:
    return ingestor(iglu)


@pytest.mark.parametrize(("e", "event_type"), [
    ("pv", "page_view"), ("pp", "page_ping"), ("se", "struct"), ("ev", "struct"),
    ("ue", "unstruct"), ("tr", "transaction"), ("ti", "transaction_item"), ("ad", "ad_impression")])
def test_event_types_use_micro_names(ingest: Ingestor, e: str, event_type: str) -> None:
    [event] = get(ingest, urlencode({"e": e, "tv": "t", "p": "web"}))
    assert event.event_type == event_type


def test_unknown_and_missing_event_type_are_violations(ingest: Ingestor) -> None:
    [unknown] = get(ingest, "e=zz&p=web&tv=t")
    assert unknown.event_type == "unknown"
    assert unknown.violations[0].path == "/e"
    assert '"zz" is not a valid event type' in unknown.violations[0].message
    [missing] = get(ingest, "p=web&tv=t&aid=x")
    assert missing.event_type == "unknown" and "e is missing" in missing.violations[0].message


def test_gitlab_struct_event_decodes_its_contexts(ingest: Ingestor) -> None:
    [event] = post(ingest, samples.body(samples.gitlab_struct_event("i_code_review_user_approve_mr")))
    assert event.valid, event.violations
    assert (event.event_type, event.name, event.app_id) == (
        "struct", "i_code_review_user_approve_mr", "gitlab")
    standard = event.entities[0]
    assert standard.schema == samples.GITLAB_STANDARD and standard.role == "context"
    assert standard.data["project_id"] == 7 and standard.source == "cx"


def test_plain_and_base64_forms_decode_alike(ingest: Ingestor) -> None:
    link = {"schema": samples.UNSTRUCT, "data": {"schema": samples.LINK_CLICK,
                                                 "data": {"targetUrl": "http://gdk.test/"}}}
    context = samples.contexts((samples.WEB_PAGE, {"id": "c0ffee00-1d6f-4a6a-b4fd-93e8cbd8b57f"}))
    base = {"e": "ue", "tv": "js-4", "p": "web"}
    plain = {**base, "ue_pr": orjson.dumps(link).decode(), "co": orjson.dumps(context).decode()}
    encoded = {**base, "ue_px": encode(orjson.dumps(link)), "cx": encode(orjson.dumps(context))}
    [a], [b] = post(ingest, samples.body(plain)), get(ingest, urlencode(encoded))
    assert a.valid and b.valid
    assert a.entities[0].data == b.entities[0].data == {"targetUrl": "http://gdk.test/"}
    assert [e.schema for e in a.entities] == [e.schema for e in b.entities]
    assert (a.name, a.schema) == ("link_click", samples.LINK_CLICK)


def test_empty_cx_means_no_contexts(ingest: Ingestor) -> None:
    [event] = get(ingest, "e=pp&tv=js&p=web&cx=")
    assert event.valid and event.entities == ()


def test_a_body_of_several_events_gives_several_events(ingest: Ingestor) -> None:
    events = post(ingest, samples.body(samples.page_view(), samples.link_click(),
                                       samples.gitlab_struct_event()))
    assert [e.event_type for e in events] == ["page_view", "unstruct", "struct"]
    assert all(e.valid for e in events), [e.violations for e in events]


def test_broken_base64_names_the_offset(ingest: Ingestor) -> None:
    [event] = get(ingest, "e=pv&tv=js&p=web&cx=eyJzY2hlbWEi*OiJ")
    assert event.violations[0].message == (
        "cx: invalid base64url at offset 12: \"*\" is not in the base64 alphabet")


def test_broken_json_in_co_is_a_violation(ingest: Ingestor) -> None:
    [event] = get(ingest, urlencode({"e": "pv", "tv": "js", "p": "web", "co": "{[-"}))
    assert keywords(event) == ["json"] and event.violations[0].message.startswith("co: invalid JSON")


def test_schema_violation_points_at_the_field(ingest: Ingestor) -> None:
    [event] = post(ingest, samples.body(samples.gitlab_struct_event(realm="moon")))
    [violation] = event.violations
    assert violation.entity == f"contexts[0] {samples.GITLAB_STANDARD}"
    assert (violation.path, violation.keyword) == ("/realm", "enum")
    assert '"moon"' in violation.message


def test_unresolvable_schema_says_where_it_looked(ingest: Ingestor, iglu: Path) -> None:
    context = samples.contexts(("iglu:com.acme/nowhere/jsonschema/1-0-0", {"a": 1}))
    [event] = get(ingest, urlencode({"e": "pv", "tv": "js", "p": "web",
                                     "co": orjson.dumps(context).decode()}))
    [violation] = event.violations
    assert violation.keyword == "resolve"
    assert "iglu:com.acme/nowhere/jsonschema/1-0-0" in violation.message and str(iglu) in violation.message


def test_tracker_field_formats_are_checked(ingest: Ingestor) -> None:
    [event] = get(ingest, "e=se&tv=js&p=phone&dtm=yesterday&se_va=lots&eid=nope")
    messages = {v.path: v.message for v in event.violations}
    assert "must be a time in milliseconds" in messages["/dtm"]
    assert "must be a number" in messages["/se_va"]
    assert "must be a UUID" in messages["/eid"]
    assert '"phone" is not a supported platform' in messages["/p"]


def test_non_ascii_text_survives(ingest: Ingestor) -> None:
    [event] = get(ingest, urlencode({"e": "se", "tv": "js", "p": "web", "se_la": "Χαριτίνη ✓"}))
    assert event.payload["se_la"] == "Χαριτίνη ✓" and event.valid


def test_wrong_content_type_still_decodes_but_is_flagged(ingest: Ingestor) -> None:
    [event] = post(ingest, samples.body(samples.page_view()), content_type="text/plain")
    assert event.event_type == "page_view"
    assert keywords(event) == ["content-type"]


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty body"),
    (b"{not json", "the body is not valid JSON"),
    (b"\xff\xfe", "not UTF-8 at byte 0"),
    (b'{"a": 1}', "not a self-describing JSON"),
])
def test_undecodable_bodies_become_bad_requests(ingest: Ingestor, body: bytes, message: str) -> None:
    [event] = post(ingest, body)
    assert event.event_type == "bad_request" and message in event.violations[-1].message


def test_deep_nesting_is_a_violation_not_a_crash(ingest: Ingestor) -> None:
    [event] = post(ingest, b"[" * 10_000 + b"]" * 10_000)
    assert event.event_type == "bad_request" and not event.valid


def test_contexts_seen_once_hold_a_bounded_amount_of_memory(tmp_path: Path) -> None:
    # A capture of pages whose contexts never repeat: the decoder's envelope cache and the
    # validator's memo keep what they saw, bounded by bytes (by count alone, 200 contexts of
    # 40 KB held 24 MB: the raw cx, its decoded entity and the memo's key of each).
    uri = write_schema(tmp_path, "big", {"type": "object", "required": ["n"]})
    ingest = ingestor(tmp_path)

    def page(n: int) -> str:
        entity = {"schema": uri, "data": {"n": n, "text": "x" * 40_000}}
        contexts = {"schema": samples.CONTEXTS, "data": [entity]}
        return urlencode({"e": "pv", "p": "web", "tv": "js-4.6.1", "co": orjson.dumps(contexts).decode()})

    assert get(ingest, page(-1))[0].valid  # compiled and imported before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        events = [get(ingest, page(n))[0] for n in range(200)]
        assert all(event.valid for event in events)
        del events
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 12 * 1024 * 1024, f"{held / 2**20:.1f} MiB held after 200 distinct 40 KB contexts"
    again = get(ingest, page(199))[0]  # the newest are still remembered, and still valid
    assert again.valid and again.entities[0].data == {"n": 199, "text": "x" * 40_000}


def test_a_long_body_gives_each_item_the_violations_it_has_alone(ingest: Ingestor) -> None:
    """A long body is checked against payload_data a few items at a time (to keep the loop free):
    each item still gets exactly the violations it would get in a body of its own."""
    good = {"e": "pv", "tv": "t", "p": "web"}
    odd = {0: {"e": "pv"}, 9: {"e": "pv", "tv": 5, "p": "web"}, 10: {"tv": "t", "p": "web"},
           11: {"e": "se", "tv": "t", "p": "moon"}, 99: {"e": "pv", "tv": "t", "p": "web", "eid": 3},
           100: {"e": "pv", "tv": "t"}, 249: {"e": 1, "tv": "t", "p": "web"}}
    items = [odd.get(index, good) for index in range(250)]
    schema = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
    events = post(ingest, orjson.dumps({"schema": schema, "data": items}))
    assert len(events) == 250
    for index in [*odd, 1, 50, 101, 248]:
        [alone] = post(ingest, orjson.dumps({"schema": schema, "data": [items[index]]}))
        got = [(v.entity, v.path, v.keyword, v.message) for v in events[index].violations
               if v.keyword != "batch"]  # the whole body is refused for its invalid items' sake
        wanted = [(v.entity, v.path, v.keyword, v.message) for v in alone.violations]
        assert got == wanted, index
        assert bool(got) == (index in odd), index
