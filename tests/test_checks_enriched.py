"""Pure tests: field and context checks, and the enriched-event mapping."""

from __future__ import annotations

from snowcatcher.model import PROTOCOL_EVENTGATE, PROTOCOL_SNOWPLOW, CapturedEvent, Entity
from snowcatcher.protocols.snowplow.enriched import CANONICAL_FIELDS, enriched_event
from snowcatcher.qa.checks import EventCheck, field_value, value_matches

STANDARD = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"


def event(**payload: str) -> CapturedEvent:
    context = Entity("context", 0, STANDARD, {"realm": "saas", "plan": None, "extra": {"a": [1, 2]}}, "cx")
    return CapturedEvent(protocol=PROTOCOL_SNOWPLOW, event_type="struct", name="x", schema="", app_id="gl",
                         payload={"e": "se", **payload}, entities=(context,), received_at=1742268163.5)


def test_field_lookup_order_and_values() -> None:
    captured = event(se_la="label", se_va="2", dtm="1742268163016")
    assert field_value(captured, "gitlab_standard.realm") == "saas"
    assert field_value(captured, "gitlab_standard.extra.a.1") == 2
    assert field_value(captured, "se_label") == "label"  # enriched name
    assert field_value(captured, "se_la") == "label"  # tracker parameter
    assert field_value(captured, "app_id") == "gl"
    check = EventCheck.parse(["gitlab_standard", "iglu:com.gitlab/"],
                             ["se_value=2", "gitlab_standard.plan=null", "se_label=lab*"])
    assert check.problems(captured) == []
    failing = EventCheck.parse(["web_page"], ["se_label=other", "nothing.here=1"])
    assert failing.problems(captured) == [
        "no web_page context (it has: gitlab_standard)", 'se_label is "label", wanted "other"',
        'nothing.here is missing, wanted "1"']


def test_value_matching() -> None:
    assert value_matches("2", 2.0) and value_matches("2.50", 2.5) and not value_matches("two", 2)
    assert value_matches("true", True) and value_matches('{"a":1}', {"a": 1})
    assert value_matches("Projects::*", "Projects::MergeRequestsController")


def test_wikimedia_fields_are_paths_into_the_event() -> None:
    wikimedia = CapturedEvent(protocol=PROTOCOL_EVENTGATE, event_type="event", name="s", schema="/x/1.0.0",
                              app_id="", payload={"meta": {"stream": "test.event"}})
    assert field_value(wikimedia, "meta.stream") == "test.event"


def test_enriched_event_maps_parameters() -> None:
    fields = enriched_event(event(aid="gl", p="web", tv="js-4", tna="sp", res="1920x1080", vp="bad",
                                  dtm="1742268163016", stm="1742268164016", se_va="1.5", vid="3",
                                  refr="https://ref.example/a?b=c", cookie="1", nuid="n-1"))
    assert set(CANONICAL_FIELDS) <= set(fields)
    assert fields["collector_tstamp"] == "2025-03-18T03:22:43.500Z"
    assert fields["dvce_created_tstamp"] == "2025-03-18T03:22:43.016Z"
    assert fields["derived_tstamp"] == "2025-03-18T03:22:42.500Z"  # collector time minus the 1 s delay
    assert (fields["dvce_screenwidth"], fields["dvce_screenheight"]) == (1920, 1080)
    assert fields["br_viewwidth"] is None  # a malformed value is left out, never guessed
    assert (fields["se_value"], fields["domain_sessionidx"], fields["br_cookies"]) == (1.5, 3, True)
    assert (fields["refr_urlhost"], fields["refr_urlquery"]) == ("ref.example", "b=c")
    assert fields["network_userid"] == "n-1" and fields["unstruct_event"] is None
    assert fields["contexts"]["data"][0]["schema"] == STANDARD
